# Airflow image with the project's locked dependencies, after Airflow 3.3's official image.
# Build: docker compose build. The dependencies come from uv.lock (frozen: the build fails if the lock does
# not match pyproject.toml), exported without dev tools, so production runs exactly what CI tested.
FROM apache/airflow:3.3.2-python3.11

USER airflow
COPY --chown=airflow:root pyproject.toml uv.lock README.md /opt/eviction-prevention/
RUN pip install --no-cache-dir uv==0.13.9 \
 && cd /opt/eviction-prevention \
 && uv export --frozen --no-dev --no-emit-project --no-hashes --format requirements-txt -o /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

# The package resolves config/, sql/ and expectations/ next to plugins/ (settings.REPO_ROOT = /opt/airflow).
COPY --chown=airflow:root plugins /opt/airflow/plugins
COPY --chown=airflow:root dags /opt/airflow/dags
COPY --chown=airflow:root config /opt/airflow/config
COPY --chown=airflow:root sql /opt/airflow/sql
COPY --chown=airflow:root expectations /opt/airflow/expectations
COPY --chown=airflow:root --chmod=0755 docker/airflow-entrypoint.sh /opt/eviction-prevention/entrypoint.sh
COPY --chown=airflow:root --chmod=0755 docker/read-secret.sh /opt/eviction-prevention/read-secret

ENTRYPOINT ["/usr/bin/dumb-init", "--", "/opt/eviction-prevention/entrypoint.sh"]
CMD []
