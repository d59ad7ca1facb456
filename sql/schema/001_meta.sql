-- Ledger of every partner file seen: one row per partner and content checksum (the exactly-once key).
-- A file whose checksum is already here is never loaded again, whatever its name.
-- Corrected re-delivery rule: a later loaded file with the same as-of date (snapshot/export date) as an
-- earlier loaded file of the same partner replaces it: the earlier row gets status 'superseded' and
-- superseded_by = the new file_id; the models read files with status 'loaded' only.
CREATE TABLE IF NOT EXISTS meta_file_ledger (
    partner        VARCHAR NOT NULL,
    file_id        VARCHAR NOT NULL,   -- sha256 of the file's bytes ('unread-...' for a file refused unread)
    kind           VARCHAR NOT NULL,   -- corporation / social_team / sdd
    file_name      VARCHAR NOT NULL,
    size_bytes     BIGINT NOT NULL,
    delivery_seq   INTEGER NOT NULL,   -- order of first arrival per partner: a later delivery of the same snapshot wins
    snapshot_date  DATE,               -- snapshot or export date the file reports on
    status         VARCHAR NOT NULL,   -- loaded / rejected / superseded
    rows_total     INTEGER NOT NULL,
    rows_loaded    INTEGER NOT NULL,
    rows_rejected  INTEGER NOT NULL,
    warnings       INTEGER NOT NULL,
    reasons        VARCHAR,            -- Dutch reasons for a rejection, never personal data
    received_at    TIMESTAMP,          -- when the pipeline downloaded it (UTC)
    received_on    DATE,               -- the Dutch local date (Europe/Amsterdam) of received_at: delivery deadlines
    settled_at     TIMESTAMP,          -- when it was moved out of the inbox and the receipt was written
    superseded_by  VARCHAR,            -- file_id of the corrected re-delivery that replaced it
    outcome        VARCHAR,            -- the receipt's data as JSON (counts, Dutch messages; no personal data)
    PRIMARY KEY (partner, file_id)
);

-- Upgrades of warehouses created before these columns existed (DuckDB and PostgreSQL both accept this).
ALTER TABLE meta_file_ledger ADD COLUMN IF NOT EXISTS received_at TIMESTAMP;
ALTER TABLE meta_file_ledger ADD COLUMN IF NOT EXISTS settled_at TIMESTAMP;
ALTER TABLE meta_file_ledger ADD COLUMN IF NOT EXISTS superseded_by VARCHAR;
ALTER TABLE meta_file_ledger ADD COLUMN IF NOT EXISTS outcome VARCHAR;
ALTER TABLE meta_file_ledger ADD COLUMN IF NOT EXISTS received_on DATE;

-- Every delivery (a file name arriving in an inbox), including repeats of bytes already in the ledger.
CREATE TABLE IF NOT EXISTS meta_file_deliveries (
    partner      VARCHAR NOT NULL,
    file_id      VARCHAR NOT NULL,
    file_name    VARCHAR NOT NULL,
    received_at  TIMESTAMP NOT NULL,
    status       VARCHAR NOT NULL,     -- loaded / rejected / duplicate
    PRIMARY KEY (partner, file_id, file_name, received_at)
);

-- Expected delivery periods per partner, expanded from the registry's cadence and window by the intake.
CREATE TABLE IF NOT EXISTS ref_delivery_periods (
    partner       VARCHAR NOT NULL,
    kind          VARCHAR NOT NULL,
    cadence       VARCHAR NOT NULL,    -- weekly / monthly
    period_start  DATE NOT NULL,
    period_end    DATE NOT NULL,
    due_date      DATE NOT NULL,       -- period_end + window_days
    checked_on    DATE NOT NULL,       -- the date the periods are evaluated on: the publish's reference date
    PRIMARY KEY (partner, period_start)
);

-- Run parameters written before the models are built (e.g. the reference date for deadline states).
CREATE TABLE IF NOT EXISTS meta_parameters (
    name        VARCHAR PRIMARY KEY,
    value_date  DATE
);

-- Municipalities, their social team and local policy, seeded from config/municipalities.yaml.
CREATE TABLE IF NOT EXISTS ref_municipalities (
    municipality                        VARCHAR PRIMARY KEY,
    social_team                         VARCHAR NOT NULL,
    no_eviction_families_with_children  BOOLEAN NOT NULL
);

-- The build the warehouse's int_* and mart_* views show (write-audit-publish: each publish run builds into a
-- schema of its own, tests it, then switches the views to it; eviction_prevention.publish.write_audit_publish).
CREATE TABLE IF NOT EXISTS meta_published_build (
    schema_name   VARCHAR NOT NULL,
    published_at  TIMESTAMP NOT NULL   -- UTC
);

-- The build a publish run is writing (one row: the latest run's claim). Each step of a run (prepare, the dbt
-- steps, link, publish) works under the publish lock and only while its run still holds the claim: a later
-- run's prepare takes it over, and the earlier run stops before publishing (write_audit_publish).
CREATE TABLE IF NOT EXISTS meta_build_claim (
    schema_name   VARCHAR NOT NULL,
    run_id        VARCHAR NOT NULL,
    claimed_at    TIMESTAMP NOT NULL,  -- UTC
    published_at  TIMESTAMP            -- UTC; set when the run published the build
);
