#!/usr/bin/env bash
# In airflow-init, reads the first admin's password from its Docker secret, then hands over to the official
# Airflow entrypoint. (The warehouse URL is read by the pipeline itself from the file that
# EVICTION_PREVENTION_WAREHOUSE_URL_FILE names.) Nothing secret is in the image or in docker-compose.yml.
set -euo pipefail
if [[ -r /run/secrets/airflow_admin_password ]]; then  # airflow-init only: the first admin user
  _AIRFLOW_WWW_USER_PASSWORD="$(< /run/secrets/airflow_admin_password)"
  export _AIRFLOW_WWW_USER_PASSWORD
fi
exec /entrypoint "$@"
