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
-- Judgment and eviction dates: the latest value a snapshot of the episode carries (a correction wins).
-- threat_known_date: the first snapshot of the tenancy (this episode or an earlier one it was carried from)
-- showing the case's judgment or eviction date.
-- tenancy_id (corporation:tenancy_key, the id int_links and int_persons use) is a column, not an expression
-- in the joins that need it, so that PostgreSQL has statistics for it: joined on the expression, its
-- estimates for mart_referrals grew with the square of the cases (44M rows estimated for 133k at 300k).
WITH marked AS (
    SELECT r.*,
           max(r.snapshot_date) OVER episode AS episode_last_seen,
           max(CASE WHEN r.t0_date IS NOT NULL THEN r.snapshot_date END) OVER episode AS last_t0_snapshot,
           max(CASE WHEN r.judgment_date IS NOT NULL THEN r.snapshot_date END) OVER episode AS last_judgment_snapshot,
           max(CASE WHEN r.eviction_date IS NOT NULL THEN r.snapshot_date END) OVER episode AS last_eviction_snapshot
    FROM {{ ref('int_arrears_case_snapshots') }} AS r
    WINDOW episode AS (PARTITION BY r.case_id)
),
cases AS (
    SELECT case_id, corporation, tenancy_key,
           min(snapshot_date) AS first_seen,
           max(snapshot_date) AS last_seen,
           max(snapshot_no) AS last_seen_no,
           count(*) AS snapshots_listed,
           max(CASE WHEN snapshot_date = last_t0_snapshot THEN t0_date END) AS delivered_t0,
           max(CASE WHEN snapshot_date = last_judgment_snapshot THEN judgment_date END) AS judgment_date,
           max(CASE WHEN snapshot_date = last_eviction_snapshot THEN eviction_date END) AS eviction_date,
           max(arrears_amount) AS max_arrears_amount,
           min(CASE WHEN arrears_amount >= monthly_rent THEN snapshot_date END) AS derived_t0,
           max(CASE WHEN snapshot_date = episode_last_seen THEN city END) AS municipality,
           bool_or(CASE WHEN snapshot_date = episode_last_seen THEN children END) AS children,
           bool_or(CASE WHEN snapshot_date = episode_last_seen THEN objection END) AS objection,
           max(CASE WHEN snapshot_date = episode_last_seen THEN monthly_rent END) AS monthly_rent,
           max(CASE WHEN snapshot_date = episode_last_seen THEN arrears_amount END) AS last_arrears_amount
    FROM marked
    GROUP BY case_id, corporation, tenancy_key
),
threats AS (
    SELECT c.case_id, min(r.snapshot_date) AS threat_known_date
    FROM cases AS c
    JOIN {{ ref('int_arrears_case_snapshots') }} AS r
      ON r.corporation = c.corporation AND r.tenancy_key = c.tenancy_key AND r.snapshot_date <= c.last_seen
     AND (r.judgment_date = c.judgment_date OR r.eviction_date = c.eviction_date)
    GROUP BY c.case_id
),
sequenced AS (
    SELECT c.*, d.snapshot_date AS closed_date,
           lag(c.case_id) OVER (PARTITION BY c.corporation, c.tenancy_key ORDER BY c.first_seen) AS previous_case_id
    FROM cases AS c
    LEFT JOIN {{ ref('int_arrears_snapshot_dates') }} AS d ON d.partner = c.corporation AND d.snapshot_no = c.last_seen_no + 1
),
windowed AS (
    SELECT s.*,
           lag(s.closed_date) OVER (PARTITION BY s.corporation, s.tenancy_key ORDER BY s.first_seen)
             AS previous_closed_date
    FROM sequenced AS s
),
t0_corrections AS (
    SELECT r.case_id, r.t0_date,
           row_number() OVER (PARTITION BY r.case_id ORDER BY r.snapshot_date DESC) AS rn
    FROM {{ ref('int_arrears_case_snapshots') }} AS r
    JOIN cases AS c ON c.case_id = r.case_id AND r.t0_date <> c.delivered_t0
),
reports AS (
    SELECT w.case_id, r.reported_date,
           row_number() OVER (PARTITION BY w.case_id ORDER BY r.snapshot_date DESC, r.reported_date DESC) AS rn
    FROM windowed AS w
    JOIN {{ ref('int_arrears_case_snapshots') }} AS r
      ON r.corporation = w.corporation AND r.tenancy_key = w.tenancy_key AND r.reported_date IS NOT NULL
     AND (w.previous_closed_date IS NULL OR r.reported_date > w.previous_closed_date)
     AND (w.closed_date IS NULL OR r.reported_date <= w.closed_date)
)
SELECT w.case_id, w.corporation, w.tenancy_key, w.municipality,
       COALESCE(w.delivered_t0, w.derived_t0) AS t0_date,
       CASE WHEN w.delivered_t0 IS NOT NULL THEN 'delivered'
            WHEN w.derived_t0 IS NOT NULL THEN 'derived'
            ELSE 'below_threshold' END AS t0_source,
       tc.t0_date AS t0_corrected_from,
       w.first_seen, w.last_seen, w.snapshots_listed, w.closed_date,
       CASE WHEN w.closed_date IS NULL THEN NULL
            WHEN w.eviction_date IS NOT NULL AND w.eviction_date <= w.closed_date THEN 'evicted'
            ELSE 'cleared' END AS close_reason,
       w.previous_case_id, w.previous_closed_date,
       rp.reported_date, w.children, w.objection, w.monthly_rent, w.last_arrears_amount,
       w.max_arrears_amount, w.judgment_date, w.eviction_date, th.threat_known_date,
       w.corporation || ':' || w.tenancy_key AS tenancy_id
FROM windowed AS w
LEFT JOIN threats AS th ON th.case_id = w.case_id
LEFT JOIN t0_corrections AS tc ON tc.case_id = w.case_id AND tc.rn = 1
LEFT JOIN reports AS rp ON rp.case_id = w.case_id AND rp.rn = 1
