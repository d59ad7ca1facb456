-- Calendar of working days (weekends and Dutch public holidays excluded), seeded by the publish step
-- from the `holidays` package. working_day_no counts working days up to and including the date, so
-- "n working days after d" is the working day whose number is working_day_no(d) + n.
CREATE TABLE IF NOT EXISTS ref_calendar (
    calendar_date   DATE PRIMARY KEY,
    is_working_day  BOOLEAN NOT NULL,
    working_day_no  INTEGER NOT NULL,
    holiday_name    VARCHAR
);

-- Login role of a partner coordinator -> organisation whose rows it may see (config/access.yaml).
CREATE TABLE IF NOT EXISTS ref_partner_access (
    role_name     VARCHAR PRIMARY KEY,
    organisation  VARCHAR NOT NULL
);
