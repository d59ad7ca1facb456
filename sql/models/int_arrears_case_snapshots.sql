-- Arrears case membership of every snapshot row: one row per case and snapshot listing it.
-- An episode is a run of consecutive snapshots of the corporation that list the tenancy (arrears > 0).
-- T0 (one full month of arrears established) is the delivered date. For a corporation that does not
-- deliver T0 at all, T0 is derived: the first snapshot of the episode with arrears >= one month's rent
-- (t0_source = 'derived'). Rows before T0 belong to no case.
WITH snapshot_dates AS (
    SELECT partner, snapshot_date,
           dense_rank() OVER (PARTITION BY partner ORDER BY snapshot_date) AS snapshot_no
    FROM (SELECT DISTINCT partner, snapshot_date FROM int_arrears_snapshots) AS d
),
delivering AS (
    SELECT partner, max(CASE WHEN t0_date IS NOT NULL THEN 1 ELSE 0 END) AS delivers_t0
    FROM int_arrears_snapshots
    GROUP BY partner
),
numbered AS (
    SELECT s.*,
           d.snapshot_no - row_number() OVER (PARTITION BY s.partner, s.record_key ORDER BY s.snapshot_date)
             AS episode_no
    FROM int_arrears_snapshots AS s
    JOIN snapshot_dates AS d ON d.partner = s.partner AND d.snapshot_date = s.snapshot_date
),
derived AS (
    SELECT partner, record_key, episode_no, min(snapshot_date) AS derived_t0
    FROM numbered
    WHERE arrears_amount >= monthly_rent
    GROUP BY partner, record_key, episode_no
),
assigned AS (
    SELECT n.*,
           CASE WHEN dl.delivers_t0 = 1 THEN n.t0_date
                WHEN n.snapshot_date >= dv.derived_t0 THEN dv.derived_t0 END AS case_t0,
           CASE WHEN dl.delivers_t0 = 1 THEN 'delivered' ELSE 'derived' END AS t0_source
    FROM numbered AS n
    JOIN delivering AS dl ON dl.partner = n.partner
    LEFT JOIN derived AS dv
      ON dv.partner = n.partner AND dv.record_key = n.record_key AND dv.episode_no = n.episode_no
)
SELECT partner || ':' || record_key || ':' || CAST(case_t0 AS VARCHAR) AS case_id,
       partner AS corporation, record_key AS tenancy_key, case_t0 AS t0_date, t0_source, snapshot_date,
       source_row, reported_date, city, children, objection, arrears_amount, monthly_rent,
       judgment_date, eviction_date
FROM assigned
WHERE case_t0 IS NOT NULL
