#!/usr/bin/env bash
# Runs once, when the PostgreSQL volume is first initialised: one database and owner role for Airflow's
# metadata, another for the warehouse, and the warehouse's group roles (engineer, analyst, partner
# coordinator; config/access.yaml). The warehouse role owns its tables and grants on them at every publish,
# but it cannot create roles, so they are created here, by the superuser; and because PUBLIC loses CONNECT
# on both databases, the group roles get CONNECT on the warehouse (their members log in there, nowhere else).
# Passwords come from Docker secrets (SECRETS_DIR, default /run/secrets), never from this file.
set -euo pipefail
secrets_dir="${SECRETS_DIR:-/run/secrets}"
airflow_password="$(< "$secrets_dir/airflow_db_password")"
warehouse_password="$(< "$secrets_dir/warehouse_db_password")"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v airflow_password="$airflow_password" -v warehouse_password="$warehouse_password" <<'SQL'
CREATE ROLE airflow LOGIN PASSWORD :'airflow_password';
CREATE DATABASE airflow OWNER airflow;
CREATE ROLE warehouse LOGIN PASSWORD :'warehouse_password';
CREATE DATABASE warehouse OWNER warehouse;
REVOKE ALL ON DATABASE airflow FROM PUBLIC;
REVOKE ALL ON DATABASE warehouse FROM PUBLIC;
CREATE ROLE ep_engineer NOLOGIN;
CREATE ROLE ep_analyst NOLOGIN;
CREATE ROLE ep_partner_coordinator NOLOGIN;
GRANT CONNECT ON DATABASE warehouse TO ep_engineer, ep_analyst, ep_partner_coordinator;
SQL
