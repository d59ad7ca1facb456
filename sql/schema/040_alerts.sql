-- Alerts already sent, so that a condition that persists (a missed delivery window) alerts once.
CREATE TABLE IF NOT EXISTS meta_alerts_sent (
    alert_key  VARCHAR PRIMARY KEY,   -- e.g. delivery_missed:<partner>:<period_start>
    kind       VARCHAR NOT NULL,
    sent_at    TIMESTAMP NOT NULL,
    channels   VARCHAR NOT NULL       -- names of the channels that accepted it
);
