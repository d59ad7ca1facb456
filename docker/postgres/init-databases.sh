#!/usr/bin/env bash
# Runs once, when the PostgreSQL volume is first initialised: one database and owner role for Airflow's
# metadata, another for the warehouse. Passwords come from Docker secrets, never from this file.
set -euo pipefail
airflow_password="$(< /run/secrets/airflow_db_password)"
warehouse_password="$(< /run/secrets/warehouse_db_password)"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v airflow_password="$airflow_password" -v warehouse_password="$warehouse_password" <<'SQL'
CREATE ROLE airflow LOGIN PASSWORD :'airflow_password';
CREATE DATABASE airflow OWNER airflow;
CREATE ROLE warehouse LOGIN PASSWORD :'warehouse_password';
CREATE DATABASE warehouse OWNER warehouse;
REVOKE ALL ON DATABASE airflow FROM PUBLIC;
REVOKE ALL ON DATABASE warehouse FROM PUBLIC;
SQL
