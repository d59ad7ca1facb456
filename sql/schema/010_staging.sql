-- Staging tables, loaded by the intake DAG. Direct identifiers never arrive here: the person fields become
-- keyed pseudonyms at ingest (HMAC-SHA256 chains over the key versions, a hardened keyed Bloom filter of the
-- surname), and those are not stored as columns either, since their value frequencies would survive: they
-- are sealed per row into person_seal (AES-SIV under a key derived from the pseudonym key, bound to the
-- kind, record_key and key version; eviction_prevention.pseudonymise.sealing), which only the linkage opens, in memory.
-- key_version: the newest key version that produced the row and sealed it (see eviction_prevention.pseudonymise.keys:
-- rotation carries stored pseudonyms to a new version without clear text).
-- Rows of one file are replaced as a whole (partner + file_id), so a rerun loads them once.

CREATE TABLE IF NOT EXISTS stg_arrears_snapshots (
    partner              VARCHAR NOT NULL,  -- corporation code
    file_id              VARCHAR NOT NULL,
    source_row           INTEGER NOT NULL,
    snapshot_date        DATE NOT NULL,
    record_key           VARCHAR NOT NULL,  -- HMAC of the partner's own reference
    key_version          VARCHAR,
    person_seal          VARCHAR,  -- the person pseudonyms, sealed (eviction_prevention.pseudonymise.sealing)
    city                 VARCHAR,
    monthly_rent         NUMERIC(12, 2),
    arrears_amount       NUMERIC(12, 2),
    arrears_start_date   DATE,
    t0_date              DATE,
    contact_date         DATE,
    reminder_date        DATE,
    reported_date        DATE,
    objection            BOOLEAN,
    children             BOOLEAN,
    judgment_date        DATE,
    eviction_date        DATE,
    row_warnings         INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS stg_social_team_cases (
    partner                 VARCHAR NOT NULL,
    file_id                 VARCHAR NOT NULL,
    source_row              INTEGER NOT NULL,
    export_date             DATE NOT NULL,
    record_key           VARCHAR NOT NULL,  -- HMAC of the partner's own reference
    key_version          VARCHAR,
    person_seal          VARCHAR,  -- the person pseudonyms, sealed (eviction_prevention.pseudonymise.sealing)
    team                    VARCHAR,
    city                    VARCHAR,
    reporter                VARCHAR,
    report_received_date    DATE,
    analysis_sent_date      DATE,
    first_contact_date      DATE,
    trajectory              BOOLEAN,
    trajectory_start_date   DATE,
    current_rent_paid       BOOLEAN,
    referral_sdd            BOOLEAN,
    referral_veilig_thuis   BOOLEAN,
    closed_date             DATE,
    outcome                 VARCHAR,
    row_warnings            INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS stg_sdd_records (
    partner        VARCHAR NOT NULL,
    file_id        VARCHAR NOT NULL,
    source_row     INTEGER NOT NULL,
    export_date    DATE NOT NULL,
    record_key           VARCHAR NOT NULL,  -- HMAC of the partner's own reference
    key_version          VARCHAR,
    person_seal          VARCHAR,  -- the person pseudonyms, sealed (eviction_prevention.pseudonymise.sealing)
    city           VARCHAR,
    service        VARCHAR,
    start_date     DATE,
    end_date       DATE,
    status         VARCHAR,
    row_warnings   INTEGER NOT NULL
);

-- Warehouses created before key versions existed get the column (portable: DuckDB and PostgreSQL).
ALTER TABLE stg_arrears_snapshots ADD COLUMN IF NOT EXISTS key_version VARCHAR;
ALTER TABLE stg_social_team_cases ADD COLUMN IF NOT EXISTS key_version VARCHAR;
ALTER TABLE stg_sdd_records ADD COLUMN IF NOT EXISTS key_version VARCHAR;
-- Warehouses created before sealing get the column here, so an intake can load before the next publish;
-- that publish seals their pk_*/bf_* columns into it and drops them (eviction_prevention.pseudonymise.seal_migration).
ALTER TABLE stg_arrears_snapshots ADD COLUMN IF NOT EXISTS person_seal VARCHAR;
ALTER TABLE stg_social_team_cases ADD COLUMN IF NOT EXISTS person_seal VARCHAR;
ALTER TABLE stg_sdd_records ADD COLUMN IF NOT EXISTS person_seal VARCHAR;
