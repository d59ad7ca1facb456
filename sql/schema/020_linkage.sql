-- Links found by the linkage step (Fellegi-Sunter on pseudonyms). Both tables are dropped and recreated
-- from this file on every publish run (eviction_prevention.link.sources). They have no PRIMARY KEY: the linkage
-- code writes each (link_type, left_key, right_key) and each record_id once (tests/test_linking.py checks
-- it), and on DuckDB the key index cost more than the linkage itself (1M-row bench: rewriting both tables
-- with keys took a 20 s commit, without keys 0.04 s).
-- link_type: case_social_team (arrears case -> social-team case), tenancy_sdd (tenancy -> SDD record),
-- social_team_sdd (social-team case -> SDD record).
CREATE TABLE IF NOT EXISTS int_links (
    link_type          VARCHAR NOT NULL,
    left_key           VARCHAR NOT NULL,
    right_key          VARCHAR NOT NULL,
    match_probability  DOUBLE PRECISION NOT NULL
);

-- One row per linked-or-not record (tenancy, social-team case, SDD record) with its pseudonymous person:
-- the connected components of the accepted links. record_id is partner || ':' || record_key, the same
-- id int_links uses for tenancies (tenancy_id), social-team cases and SDD records. first_seen: the record's
-- earliest snapshot / export date, kept here as the minimum over publishes so that retention's deletion of
-- old staging rows does not move it. person_id is a function of the data only, not of the order in which
-- deliveries were published: it is derived from the person's anchor, the member with the earliest
-- (first_seen, record_id), so records first seen later joining a person keep its id and in a merge the
-- person known longest keeps it (see eviction_prevention.link.sources); it is derived from pseudonyms only. A table from
-- before first_seen existed is read as having no earlier dates, and gets the column when recreated.
CREATE TABLE IF NOT EXISTS int_persons (
    record_id    VARCHAR NOT NULL,
    source_kind  VARCHAR NOT NULL,  -- corporation / social_team / sdd
    person_id    VARCHAR NOT NULL,
    first_seen   DATE NOT NULL
);
