-- The sealed identity vault (eviction_prevention.pseudonymise.identity_vault): each partner's own reference of each
-- delivered row (a corporation's contract number, a social team's case number, the SDD's client number),
-- sealed with AES-SIV under the vault key (EVICTION_PREVENTION_VAULT_KEY, not the pseudonym key) and bound
-- to partner, source kind and record_key. Its own schema, {vault} (the warehouse's schema + '_vault'): on
-- PostgreSQL no role but the pipeline's may use it (eviction_prevention.operate.access); no model reads it.
-- Rows of one file are replaced as a whole (partner + file_id), like its staging rows, and leave with them
-- (retention). Only the feedback step unseals, and every unsealing is a row of meta_reidentification_log.
CREATE SCHEMA IF NOT EXISTS {vault};

CREATE TABLE IF NOT EXISTS {vault}.partner_references (
    partner         VARCHAR NOT NULL,
    file_id         VARCHAR NOT NULL,
    source_row      INTEGER NOT NULL,
    record_key      VARCHAR NOT NULL,  -- the row's record_key in staging (HMAC of the same reference)
    key_version     VARCHAR NOT NULL,  -- the vault key version that sealed it
    reference_seal  VARCHAR NOT NULL   -- base64 of the AES-SIV ciphertext of the reference
);  -- no primary key, as in staging: a file's rows are replaced as a whole, and an index costs every load
