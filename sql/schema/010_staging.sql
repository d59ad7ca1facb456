-- Staging tables, loaded by the intake DAG. Direct identifiers never arrive here: every person
-- field is a keyed pseudonym (pk_*: HMAC-SHA256 chain over the key versions; bf_*: hardened keyed Bloom
-- filter encoding for fuzzy comparison). key_version: the newest key version that produced the row
-- (see eviction_prevention.keys: rotation carries stored pseudonyms to a new version without clear text).
-- Rows of one file are replaced as a whole (partner + file_id), so a rerun loads them once.

CREATE TABLE IF NOT EXISTS stg_arrears_snapshots (
    partner              VARCHAR NOT NULL,  -- corporation code
    file_id              VARCHAR NOT NULL,
    source_row           INTEGER NOT NULL,
    snapshot_date        DATE NOT NULL,
    record_key           VARCHAR NOT NULL,  -- HMAC of the partner's own reference
    key_version          VARCHAR,
    pk_surname           VARCHAR,
    pk_surname_1         VARCHAR,
    pk_surname_2         VARCHAR,
    pk_surname_phon      VARCHAR,
    pk_prefix            VARCHAR,
    pk_initials          VARCHAR,
    pk_initials_sorted   VARCHAR,
    pk_initial_1         VARCHAR,
    pk_birth_date        VARCHAR,
    pk_birth_year        VARCHAR,
    pk_birth_md          VARCHAR,
    pk_birth_dm_swapped  VARCHAR,
    pk_postcode          VARCHAR,
    pk_address           VARCHAR,
    pk_street_house      VARCHAR,
    pk_bsn               VARCHAR,
    bf_surname           VARCHAR,
    pk_phone             VARCHAR,
    pk_email             VARCHAR,
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
    pk_surname           VARCHAR,
    pk_surname_1         VARCHAR,
    pk_surname_2         VARCHAR,
    pk_surname_phon      VARCHAR,
    pk_prefix            VARCHAR,
    pk_initials          VARCHAR,
    pk_initials_sorted   VARCHAR,
    pk_initial_1         VARCHAR,
    pk_birth_date        VARCHAR,
    pk_birth_year        VARCHAR,
    pk_birth_md          VARCHAR,
    pk_birth_dm_swapped  VARCHAR,
    pk_postcode          VARCHAR,
    pk_address           VARCHAR,
    pk_street_house      VARCHAR,
    pk_bsn               VARCHAR,
    bf_surname           VARCHAR,
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
    pk_surname           VARCHAR,
    pk_surname_1         VARCHAR,
    pk_surname_2         VARCHAR,
    pk_surname_phon      VARCHAR,
    pk_prefix            VARCHAR,
    pk_initials          VARCHAR,
    pk_initials_sorted   VARCHAR,
    pk_initial_1         VARCHAR,
    pk_birth_date        VARCHAR,
    pk_birth_year        VARCHAR,
    pk_birth_md          VARCHAR,
    pk_birth_dm_swapped  VARCHAR,
    pk_postcode          VARCHAR,
    pk_address           VARCHAR,
    pk_street_house      VARCHAR,
    pk_bsn               VARCHAR,
    bf_surname           VARCHAR,
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
