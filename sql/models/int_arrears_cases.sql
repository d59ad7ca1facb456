-- Arrears cases: one row per arrears episode of a tenancy = (corporation, tenancy, T0).
-- T0 is the date one full month of arrears was established, as delivered by the corporation.
-- A case is closed on the first later snapshot of that corporation that no longer lists it.
WITH case_rows AS (
    SELECT partner AS corporation, record_key AS tenancy_key, t0_date, snapshot_date, source_row,
           reported_date, city, children, objection, arrears_amount, monthly_rent,
           judgment_date, eviction_date
    FROM int_arrears_snapshots
    WHERE t0_date IS NOT NULL
),
cases AS (
    SELECT corporation, tenancy_key, t0_date,
           min(snapshot_date) AS first_seen,
           max(snapshot_date) AS last_seen,
           count(*) AS snapshots_listed,
           max(judgment_date) AS judgment_date,
           max(eviction_date) AS eviction_date,
           max(arrears_amount) AS max_arrears_amount
    FROM case_rows
    GROUP BY corporation, tenancy_key, t0_date
),
latest AS (
    SELECT c.*, r.reported_date, r.city AS municipality, r.children, r.objection,
           r.arrears_amount AS last_arrears_amount, r.monthly_rent
    FROM cases AS c
    JOIN case_rows AS r
      ON r.corporation = c.corporation AND r.tenancy_key = c.tenancy_key
     AND r.t0_date = c.t0_date AND r.snapshot_date = c.last_seen
),
snapshot_dates AS (
    SELECT DISTINCT partner, snapshot_date FROM int_arrears_snapshots
),
closed AS (
    SELECT c.corporation, c.tenancy_key, c.t0_date, min(d.snapshot_date) AS closed_date
    FROM cases AS c
    JOIN snapshot_dates AS d ON d.partner = c.corporation AND d.snapshot_date > c.last_seen
    GROUP BY c.corporation, c.tenancy_key, c.t0_date
)
SELECT l.corporation || ':' || l.tenancy_key || ':' || CAST(l.t0_date AS VARCHAR) AS case_id,
       l.corporation, l.tenancy_key, l.municipality, l.t0_date, l.first_seen, l.last_seen,
       l.snapshots_listed, cl.closed_date, l.reported_date, l.children, l.objection,
       l.monthly_rent, l.last_arrears_amount, l.max_arrears_amount, l.judgment_date, l.eviction_date
FROM latest AS l
LEFT JOIN closed AS cl
  ON cl.corporation = l.corporation AND cl.tenancy_key = l.tenancy_key AND cl.t0_date = l.t0_date
