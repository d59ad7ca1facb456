-- Ledger of every partner file seen: one row per partner and content checksum.
CREATE TABLE IF NOT EXISTS meta_file_ledger (
    partner        VARCHAR NOT NULL,
    file_id        VARCHAR NOT NULL,   -- sha256 of the file's bytes
    kind           VARCHAR NOT NULL,   -- corporation / social_team / sdd
    file_name      VARCHAR NOT NULL,
    size_bytes     BIGINT NOT NULL,
    delivery_seq   INTEGER NOT NULL,   -- order of first arrival per partner: a later delivery of the same snapshot wins
    snapshot_date  DATE,               -- snapshot or export date the file reports on
    status         VARCHAR NOT NULL,   -- loaded / rejected
    rows_total     INTEGER NOT NULL,
    rows_loaded    INTEGER NOT NULL,
    rows_rejected  INTEGER NOT NULL,
    warnings       INTEGER NOT NULL,
    reasons        VARCHAR,            -- Dutch reasons for a rejection, never personal data
    PRIMARY KEY (partner, file_id)
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
