-- Every snapshot row of a tenancy in arrears, with the arrears episode (case) it belongs to.
-- An episode is a run of consecutive delivered snapshots of the corporation that list the tenancy with
-- arrears > 0; a delivered snapshot that does not list it (or lists it without arrears) ends the episode.
-- The case is identified by the episode, never by the value of T0: case_id = corporation, tenancy
-- pseudonym and the date of the episode's first snapshot. Every row with arrears belongs to a case.
WITH in_arrears AS (
    SELECT s.partner, s.record_key, s.snapshot_date, s.source_row, s.t0_date, s.reported_date, s.city,
           s.children, s.objection, s.arrears_amount, s.monthly_rent, s.judgment_date, s.eviction_date,
           d.snapshot_no,
           d.snapshot_no - row_number() OVER (PARTITION BY s.partner, s.record_key ORDER BY s.snapshot_date)
             AS episode_no
    FROM {{ ref('int_arrears_snapshots') }} AS s
    JOIN {{ ref('int_arrears_snapshot_dates') }} AS d ON d.partner = s.partner AND d.snapshot_date = s.snapshot_date
    WHERE s.arrears_amount > 0
),
episodes AS (
    SELECT a.*,
           min(a.snapshot_date) OVER (PARTITION BY a.partner, a.record_key, a.episode_no) AS episode_start
    FROM in_arrears AS a
)
SELECT partner || ':' || record_key || ':' || CAST(episode_start AS VARCHAR) AS case_id,
       partner AS corporation, record_key AS tenancy_key, episode_start, snapshot_date, snapshot_no,
       source_row, t0_date, reported_date, city, children, objection, arrears_amount, monthly_rent,
       judgment_date, eviction_date
FROM episodes
