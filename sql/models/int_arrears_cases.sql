-- Arrears cases: one row per arrears episode of a tenancy (see int_arrears_case_snapshots).
-- T0 is a property of the rows, not of the corporation:
--   delivered        the T0 of the latest snapshot of the episode that carries one (a corrected T0 updates
--                    the case; t0_corrected_from keeps the value it replaced)
--   derived          no row of the episode carries T0: the first snapshot with arrears >= one month's rent
--   below_threshold  neither: the tenancy was in arrears, never a full month's rent (no T0, no deadlines)
-- The case closes on the corporation's first delivered snapshot after the episode's last one:
-- 'evicted' when the eviction was executed by then, else 'cleared'. A later episode of the same tenancy
-- is a new case pointing to the earlier one (previous_case_id), even when its T0 is the same.
-- A report date belongs to the episode it was made in: to the case whose window
-- (closing date of the previous case, own closing date] contains it; from all the tenancy's rows, the
-- latest snapshot carrying a date in the window wins. A report on or before the previous case's closing
-- date belongs to that previous case, whichever later snapshot still carries it.
-- threat_known_date: the first snapshot of the episode showing a judgment or eviction date.
WITH cases AS (
    SELECT case_id, corporation, tenancy_key,
           min(snapshot_date) AS first_seen,
           max(snapshot_date) AS last_seen,
           max(snapshot_no) AS last_seen_no,
           count(*) AS snapshots_listed,
           max(judgment_date) AS judgment_date,
           max(eviction_date) AS eviction_date,
           max(arrears_amount) AS max_arrears_amount,
           min(CASE WHEN arrears_amount >= monthly_rent THEN snapshot_date END) AS derived_t0,
           max(CASE WHEN t0_date IS NOT NULL THEN snapshot_date END) AS last_t0_snapshot,
           min(CASE WHEN judgment_date IS NOT NULL OR eviction_date IS NOT NULL THEN snapshot_date END)
             AS threat_known_date
    FROM int_arrears_case_snapshots
    GROUP BY case_id, corporation, tenancy_key
),
sequenced AS (
    SELECT c.*, d.snapshot_date AS closed_date,
           lag(c.case_id) OVER (PARTITION BY c.corporation, c.tenancy_key ORDER BY c.first_seen) AS previous_case_id
    FROM cases AS c
    LEFT JOIN int_arrears_snapshot_dates AS d ON d.partner = c.corporation AND d.snapshot_no = c.last_seen_no + 1
),
windowed AS (
    SELECT s.*,
           lag(s.closed_date) OVER (PARTITION BY s.corporation, s.tenancy_key ORDER BY s.first_seen)
             AS previous_closed_date
    FROM sequenced AS s
),
latest AS (
    SELECT r.case_id, r.city, r.children, r.objection, r.arrears_amount, r.monthly_rent
    FROM int_arrears_case_snapshots AS r
    JOIN cases AS c ON c.case_id = r.case_id AND r.snapshot_date = c.last_seen
),
delivered_t0 AS (
    SELECT r.case_id, r.t0_date
    FROM int_arrears_case_snapshots AS r
    JOIN cases AS c ON c.case_id = r.case_id AND r.snapshot_date = c.last_t0_snapshot
),
t0_corrections AS (
    SELECT r.case_id, r.t0_date,
           row_number() OVER (PARTITION BY r.case_id ORDER BY r.snapshot_date DESC) AS rn
    FROM int_arrears_case_snapshots AS r
    JOIN delivered_t0 AS d ON d.case_id = r.case_id AND r.t0_date <> d.t0_date
),
reports AS (
    SELECT w.case_id, r.reported_date,
           row_number() OVER (PARTITION BY w.case_id ORDER BY r.snapshot_date DESC, r.reported_date DESC) AS rn
    FROM windowed AS w
    JOIN int_arrears_case_snapshots AS r
      ON r.corporation = w.corporation AND r.tenancy_key = w.tenancy_key AND r.reported_date IS NOT NULL
     AND (w.previous_closed_date IS NULL OR r.reported_date > w.previous_closed_date)
     AND (w.closed_date IS NULL OR r.reported_date <= w.closed_date)
)
SELECT w.case_id, w.corporation, w.tenancy_key, l.city AS municipality,
       COALESCE(d.t0_date, w.derived_t0) AS t0_date,
       CASE WHEN d.t0_date IS NOT NULL THEN 'delivered'
            WHEN w.derived_t0 IS NOT NULL THEN 'derived'
            ELSE 'below_threshold' END AS t0_source,
       tc.t0_date AS t0_corrected_from,
       w.first_seen, w.last_seen, w.snapshots_listed, w.closed_date,
       CASE WHEN w.closed_date IS NULL THEN NULL
            WHEN w.eviction_date IS NOT NULL AND w.eviction_date <= w.closed_date THEN 'evicted'
            ELSE 'cleared' END AS close_reason,
       w.previous_case_id, w.previous_closed_date,
       rp.reported_date, l.children, l.objection, l.monthly_rent, l.arrears_amount AS last_arrears_amount,
       w.max_arrears_amount, w.judgment_date, w.eviction_date, w.threat_known_date
FROM windowed AS w
JOIN latest AS l ON l.case_id = w.case_id
LEFT JOIN delivered_t0 AS d ON d.case_id = w.case_id
LEFT JOIN t0_corrections AS tc ON tc.case_id = w.case_id AND tc.rn = 1
LEFT JOIN reports AS rp ON rp.case_id = w.case_id AND rp.rn = 1
