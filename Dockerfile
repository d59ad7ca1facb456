# Airflow image with the project's locked dependencies (first version; see docker-compose.yml).
FROM apache/airflow:3.3.2-python3.11
COPY --chown=airflow:root pyproject.toml uv.lock README.md /opt/eviction-prevention/
RUN pip install --no-cache-dir uv==0.13.9 \
 && cd /opt/eviction-prevention \
 && uv export --frozen --no-dev --no-emit-project --no-hashes -o /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt
COPY --chown=airflow:root plugins /opt/airflow/plugins
COPY --chown=airflow:root dags /opt/airflow/dags
COPY --chown=airflow:root config /opt/eviction-prevention/config
COPY --chown=airflow:root sql /opt/eviction-prevention/sql
COPY --chown=airflow:root expectations /opt/eviction-prevention/expectations
