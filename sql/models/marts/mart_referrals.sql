-- One row per arrears case (episode; see int_arrears_cases) with every covenant deadline and its state as
-- of the reference date (meta_parameters: the latest snapshot, or the configured date).
--   report:        reported to the social team          <= T0 + 42 days (a report before T0: on time, 0 days)
--   analysis:      analysis fed back to the corporation  <= report + 14 days
--   first contact: first conversation offered            <= report + 28 days (a statutory term: ending on a
--                  non-working day it runs to the next working day); <= 3 working days after the
--                  report when eviction threatened at the time of the report (the first snapshot showing a
--                  judgment or eviction date is on or before the report date); a threat that becomes known
--                  later starts its own clock: <= the earlier of report + 28 days and 3 working days after
--                  that snapshot. Working days: ref_calendar (Algemene termijnenwet, article 3).
--   rent paid:     during a care trajectory: the social team's current_rent_paid when delivered, else the
--                  arrears trend (the arrears do not grow in snapshots after the trajectory's start);
--                  rent_paid_sources_disagree says when both are known and differ.
-- As of the reference date: snapshots after it are not read (int_arrears_snapshot_dates), and social-team
-- dates after it (report received, analysis, first conversation, trajectory start) have not happened yet.
-- A case whose eviction was executed (eviction date on or before the reference date) ends then for its
-- deadlines, even while the corporation still lists it (ended_date).
-- The report: the corporation's (report_source 'corporation'), else the linked social-team case's
-- report-received date ('social_team').
-- States: met / missed (event on / after the deadline); for a case still open without the event:
-- open_overdue when the reference date is past the deadline ("overdue now"), else open_in_time; for a closed
-- (ended) case without the event: not_required when it ended on or before the deadline, else missed;
-- not_applicable when the deadline has no start (no T0, no report, no trajectory).
WITH ref AS (
    SELECT value_date AS reference_date FROM {{ source('meta', 'meta_parameters') }} WHERE name = 'reference_date'
),
st_link AS (
    SELECT left_key AS case_id, right_key AS social_team_case_id, match_probability
    FROM {{ source('linkage', 'int_links') }} WHERE link_type = 'case_social_team'
),
sdd AS (
    SELECT l.left_key AS tenancy_id, count(*) AS sdd_records,
           max(CASE WHEN r.service = 'debt_counselling' THEN 1 ELSE 0 END) AS sdd_debt_counselling
    FROM {{ source('linkage', 'int_links') }} AS l
    JOIN {{ ref('int_sdd_records') }} AS r ON r.sdd_record_id = l.right_key
    WHERE l.link_type = 'tenancy_sdd'
    GROUP BY l.left_key
),
social_team AS (
    -- the linked social-team case as known on the reference date
    SELECT st.case_id, st.social_team_case_id, st.match_probability, stc.team, stc.trajectory,
           stc.current_rent_paid, stc.referral_sdd, stc.referral_veilig_thuis, stc.outcome,
           CASE WHEN stc.report_received_date <= ref.reference_date THEN stc.report_received_date END
             AS report_received_date,
           CASE WHEN stc.analysis_sent_date <= ref.reference_date THEN stc.analysis_sent_date END AS analysis_sent_date,
           CASE WHEN stc.first_contact_date <= ref.reference_date THEN stc.first_contact_date END AS first_contact_date,
           CASE WHEN stc.trajectory_start_date <= ref.reference_date THEN stc.trajectory_start_date END
             AS trajectory_start_date,
           CASE WHEN stc.closed_date <= ref.reference_date THEN stc.closed_date END AS closed_date
    FROM st_link AS st
    CROSS JOIN ref
    JOIN {{ ref('int_social_team_cases') }} AS stc ON stc.social_team_case_id = st.social_team_case_id
),
base AS (
    SELECT c.case_id, c.previous_case_id, c.corporation, c.tenancy_key, c.tenancy_id, c.municipality, c.t0_date,
           c.t0_source, c.t0_corrected_from, c.first_seen, c.last_seen, c.closed_date, c.close_reason,
           c.children, c.objection, c.judgment_date, c.eviction_date, c.threat_known_date,
           ref.reference_date,
           COALESCE(c.eviction_date <= ref.reference_date, FALSE) AS evicted,
           COALESCE(c.closed_date, CASE WHEN c.eviction_date <= ref.reference_date THEN c.eviction_date END)
             AS ended_date,
           COALESCE(c.reported_date, stc.report_received_date) AS reported_date,
           CASE WHEN c.reported_date IS NOT NULL THEN 'corporation'
                WHEN stc.report_received_date IS NOT NULL THEN 'social_team' END AS report_source,
           CAST(c.t0_date + 42 AS DATE) AS report_deadline,
           stc.social_team_case_id, stc.match_probability AS social_team_match_probability,
           stc.team AS linked_team, stc.report_received_date, stc.analysis_sent_date, stc.first_contact_date,
           stc.trajectory, stc.trajectory_start_date, stc.current_rent_paid,
           stc.referral_sdd, stc.referral_veilig_thuis, stc.closed_date AS social_team_closed_date,
           stc.outcome, m.social_team AS municipality_team, m.no_eviction_families_with_children,
           COALESCE(sdd.sdd_records, 0) AS sdd_records, COALESCE(sdd.sdd_debt_counselling, 0) AS sdd_debt_counselling
    FROM {{ ref('int_arrears_cases') }} AS c
    CROSS JOIN ref
    LEFT JOIN social_team AS stc ON stc.case_id = c.case_id
    LEFT JOIN {{ source('reference', 'ref_municipalities') }} AS m ON m.municipality = c.municipality
    LEFT JOIN sdd ON sdd.tenancy_id = c.tenancy_id
),
deadlines AS (
    SELECT b.*,
           CAST(b.reported_date + 14 AS DATE) AS analysis_deadline,
           b.threat_known_date IS NOT NULL AND b.threat_known_date <= b.reported_date AS threatened_at_report,
           CASE WHEN b.reported_date IS NULL THEN NULL
                WHEN b.threat_known_date <= b.reported_date THEN report_wd3.calendar_date
                WHEN b.threat_known_date > b.reported_date THEN LEAST(four_weeks.due_date, threat_wd3.calendar_date)
                ELSE four_weeks.due_date END AS first_contact_deadline
    FROM base AS b
    LEFT JOIN (
        -- report + 28 days, extended to the next working day (Algemene termijnenwet art. 1)
        SELECT d.calendar_date AS day, CASE WHEN d.is_working_day THEN d.calendar_date ELSE nxt.calendar_date END
                 AS due_date
        FROM {{ source('reference', 'ref_calendar') }} AS d
        LEFT JOIN {{ source('reference', 'ref_calendar') }} AS nxt ON nxt.working_day_no = d.working_day_no + 1 AND nxt.is_working_day
    ) AS four_weeks ON four_weeks.day = CAST(b.reported_date + 28 AS DATE)
    LEFT JOIN {{ source('reference', 'ref_calendar') }} AS r0 ON r0.calendar_date = b.reported_date
    LEFT JOIN {{ source('reference', 'ref_calendar') }} AS report_wd3 ON report_wd3.working_day_no = r0.working_day_no + 3
                                        AND report_wd3.is_working_day
    LEFT JOIN {{ source('reference', 'ref_calendar') }} AS j0 ON j0.calendar_date = b.threat_known_date
    LEFT JOIN {{ source('reference', 'ref_calendar') }} AS threat_wd3 ON threat_wd3.working_day_no = j0.working_day_no + 3
                                        AND threat_wd3.is_working_day
),
trajectory_rows AS (
    SELECT b.case_id, s.snapshot_date, s.arrears_amount,
           row_number() OVER (PARTITION BY b.case_id ORDER BY s.snapshot_date) AS n
    FROM base AS b
    JOIN {{ ref('int_arrears_case_snapshots') }} AS s ON s.case_id = b.case_id AND s.snapshot_date >= b.trajectory_start_date
    WHERE b.trajectory
),
rent AS (
    SELECT t.case_id,
           count(*) AS snapshots_in_trajectory,
           max(CASE WHEN t.n > 1 AND t.arrears_amount > first_row.arrears_amount + 0.005 THEN 1 ELSE 0 END)
             AS arrears_grew
    FROM trajectory_rows AS t
    JOIN trajectory_rows AS first_row ON first_row.case_id = t.case_id AND first_row.n = 1
    GROUP BY t.case_id
),
states AS (
    SELECT d.*,
           {{ deadline_state('d.t0_date IS NOT NULL', 'd.report_deadline', 'd.reported_date', 'd.ended_date',
                             'd.reference_date') }} AS report_state,
           {{ deadline_state('d.reported_date IS NOT NULL', 'd.analysis_deadline', 'd.analysis_sent_date',
                             'd.ended_date', 'd.reference_date') }} AS analysis_state,
           {{ deadline_state('d.reported_date IS NOT NULL', 'd.first_contact_deadline', 'd.first_contact_date',
                             'd.ended_date', 'd.reference_date') }} AS first_contact_state,
           CASE
             WHEN NOT COALESCE(d.trajectory, FALSE) OR d.trajectory_start_date IS NULL THEN NULL
             WHEN rent.arrears_grew = 1 THEN 'missed'
             WHEN rent.snapshots_in_trajectory > 1 OR d.close_reason = 'cleared' THEN 'met'
             ELSE 'open_in_time'
           END AS rent_trend_state,
           d.analysis_sent_date < d.reported_date AS analysis_before_report
    FROM deadlines AS d
    LEFT JOIN rent ON rent.case_id = d.case_id
),
flagged AS (
    SELECT s.*,
           COALESCE(s.current_rent_paid IS NOT NULL AND s.rent_trend_state IN ('met', 'missed')
                    AND s.current_rent_paid <> (s.rent_trend_state = 'met'), FALSE) AS rent_paid_sources_disagree
    FROM states AS s
),
eviction_events AS (
    -- the latest case of each tenancy and executed eviction date; ranked among the evicted cases only (the
    -- eviction date is part of the partition, so a partition's cases are all evicted or none are)
    SELECT case_id,
           row_number() OVER (PARTITION BY corporation, tenancy_key, eviction_date ORDER BY first_seen DESC) = 1
             AS latest
    FROM base
    WHERE evicted
)
SELECT s.case_id, s.previous_case_id, p.person_id, s.corporation, s.tenancy_key, s.municipality,
       COALESCE(s.linked_team, s.municipality_team) AS team,
       s.t0_date, s.t0_source, s.t0_corrected_from, s.first_seen, s.last_seen, s.closed_date, s.close_reason,
       s.reference_date,
       CAST(date_trunc('month', s.t0_date) AS DATE) AS t0_month,
       s.reported_date, s.report_source, s.report_deadline, s.report_state,
       CASE WHEN s.reported_date < s.t0_date THEN 0 ELSE s.reported_date - s.t0_date END AS days_to_report,
       s.social_team_case_id, s.social_team_match_probability, s.report_received_date,
       s.analysis_sent_date, s.analysis_deadline, s.analysis_state,
       CASE WHEN NOT s.analysis_before_report THEN s.analysis_sent_date - s.reported_date END AS days_to_analysis,
       s.judgment_date IS NOT NULL OR s.eviction_date IS NOT NULL AS eviction_threatens,
       s.threat_known_date, s.threatened_at_report,
       s.first_contact_date, s.first_contact_deadline, s.first_contact_state,
       s.trajectory, s.trajectory_start_date, s.current_rent_paid,
       CASE WHEN NOT COALESCE(s.trajectory, FALSE) THEN 'not_applicable'
            WHEN s.current_rent_paid THEN 'met'
            WHEN NOT s.current_rent_paid THEN 'missed'
            ELSE COALESCE(s.rent_trend_state, 'not_applicable') END AS rent_paid_state,
       CASE WHEN NOT COALESCE(s.trajectory, FALSE) THEN NULL
            WHEN s.current_rent_paid IS NOT NULL THEN 'social_team'
            WHEN s.rent_trend_state IS NOT NULL THEN 'arrears_trend' END AS rent_paid_source,
       s.rent_trend_state AS rent_paid_trend_state,
       s.rent_paid_sources_disagree,
       s.referral_sdd, s.referral_veilig_thuis, s.social_team_closed_date, s.outcome,
       s.sdd_records > 0 AS sdd_involved, s.sdd_debt_counselling > 0 AS sdd_debt_counselling,
       s.children, s.objection, s.judgment_date, s.eviction_date,
       s.evicted,
       s.evicted AND COALESCE(ev.latest, FALSE) AS eviction_event,
       COALESCE(s.no_eviction_families_with_children, FALSE) AND COALESCE(s.children, FALSE)
         AS policy_flag_children_eviction,
       NULLIF(CONCAT_WS(';',
           CASE WHEN s.analysis_before_report THEN 'analysis_before_report' END,
           CASE WHEN s.rent_paid_sources_disagree THEN 'rent_paid_sources_disagree' END
       ), '') AS data_quality
FROM flagged AS s
LEFT JOIN eviction_events AS ev ON ev.case_id = s.case_id
LEFT JOIN {{ source('linkage', 'int_persons') }} AS p ON p.record_id = s.tenancy_id
