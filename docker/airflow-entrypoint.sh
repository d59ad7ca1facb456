#!/usr/bin/env bash
# Reads the warehouse URL (it holds the warehouse role's password) and, in airflow-init, the first admin's
# password from their Docker secrets, then hands over
# to the official Airflow entrypoint. Nothing secret is in the image or in docker-compose.yml.
set -euo pipefail
if [[ -r /run/secrets/warehouse_url ]]; then
  EVICTION_PREVENTION_WAREHOUSE_URL="$(< /run/secrets/warehouse_url)"
  export EVICTION_PREVENTION_WAREHOUSE_URL
fi
if [[ -r /run/secrets/airflow_admin_password ]]; then  # airflow-init only: the first admin user
  _AIRFLOW_WWW_USER_PASSWORD="$(< /run/secrets/airflow_admin_password)"
  export _AIRFLOW_WWW_USER_PASSWORD
fi
exec /entrypoint "$@"
