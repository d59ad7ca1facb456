-- Arrears cases: one row per arrears episode of a tenancy = (corporation, tenancy, T0).
-- Values that may change over time (report date, municipality, household) are taken from the latest
-- snapshot listing the case. A case closes on the first later snapshot of that corporation that no
-- longer lists it: 'evicted' when the eviction was executed by then, else 'cleared' (arrears paid off
-- or tenancy ended). A later episode of the same tenancy is a new case that points to the earlier one.
WITH cases AS (
    SELECT case_id, corporation, tenancy_key, t0_date, t0_source,
           min(snapshot_date) AS first_seen,
           max(snapshot_date) AS last_seen,
           count(*) AS snapshots_listed,
           max(judgment_date) AS judgment_date,
           max(eviction_date) AS eviction_date,
           max(arrears_amount) AS max_arrears_amount
    FROM int_arrears_case_snapshots
    GROUP BY case_id, corporation, tenancy_key, t0_date, t0_source
),
latest AS (
    SELECT c.*, r.reported_date, r.city AS municipality, r.children, r.objection,
           r.arrears_amount AS last_arrears_amount, r.monthly_rent
    FROM cases AS c
    JOIN int_arrears_case_snapshots AS r ON r.case_id = c.case_id AND r.snapshot_date = c.last_seen
),
snapshot_dates AS (
    SELECT DISTINCT partner, snapshot_date FROM int_arrears_snapshots
),
closed AS (
    SELECT c.case_id, min(d.snapshot_date) AS closed_date
    FROM cases AS c
    JOIN snapshot_dates AS d ON d.partner = c.corporation AND d.snapshot_date > c.last_seen
    GROUP BY c.case_id
)
SELECT l.case_id, l.corporation, l.tenancy_key, l.municipality, l.t0_date, l.t0_source,
       l.first_seen, l.last_seen, l.snapshots_listed, cl.closed_date,
       CASE WHEN cl.closed_date IS NULL THEN NULL
            WHEN l.eviction_date IS NOT NULL AND l.eviction_date <= cl.closed_date THEN 'evicted'
            ELSE 'cleared' END AS close_reason,
       lag(l.case_id) OVER (PARTITION BY l.corporation, l.tenancy_key ORDER BY l.t0_date) AS previous_case_id,
       l.reported_date, l.children, l.objection, l.monthly_rent, l.last_arrears_amount, l.max_arrears_amount,
       l.judgment_date, l.eviction_date
FROM latest AS l
LEFT JOIN closed AS cl ON cl.case_id = l.case_id
