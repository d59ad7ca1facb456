-- Links found by the linkage step (Fellegi-Sunter on pseudonyms), rebuilt on every publish run.
-- link_type: case_social_team (arrears case -> social-team case), tenancy_sdd (tenancy -> SDD record),
-- social_team_sdd (social-team case -> SDD record).
CREATE TABLE IF NOT EXISTS int_links (
    link_type          VARCHAR NOT NULL,
    left_key           VARCHAR NOT NULL,
    right_key          VARCHAR NOT NULL,
    match_probability  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (link_type, left_key, right_key)
);
