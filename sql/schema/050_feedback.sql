-- Every re-identification: one row per unsealing of partner references from the identity vault
-- (eviction_prevention.pseudonymise.identity_vault.reidentify). Counts and purposes only, never a reference.
CREATE TABLE IF NOT EXISTS meta_reidentification_log (
    logged_at        TIMESTAMP NOT NULL,  -- UTC
    dag_run          VARCHAR NOT NULL,    -- the Airflow run (or the command) that unsealed
    partner          VARCHAR NOT NULL,    -- whose references were unsealed (their owner)
    recipient        VARCHAR NOT NULL,    -- the partner whose feedback file receives them
    purpose          VARCHAR NOT NULL,    -- a purpose of config/feedback.yaml
    values_unsealed  INTEGER NOT NULL
);

-- Every feedback file written to a partner's outbox (eviction_prevention.publish.feedback): a new one only when the
-- partner's rows changed (rows_digest, over their pseudonymous form) since the last.
CREATE TABLE IF NOT EXISTS meta_feedback_sent (
    partner         VARCHAR NOT NULL,
    file_name       VARCHAR NOT NULL,  -- terugkoppeling_<partner>_<reference date>.csv
    reference_date  DATE NOT NULL,
    rows_digest     VARCHAR NOT NULL,
    rows_written    INTEGER NOT NULL,
    file_sha256     VARCHAR NOT NULL,
    written_at      TIMESTAMP NOT NULL,  -- UTC
    dag_run         VARCHAR NOT NULL
);
