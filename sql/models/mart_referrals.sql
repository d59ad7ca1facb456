-- One row per arrears case with every covenant deadline and its state as of the reference date.
--   report:        reported to the social team            <= T0 + 42 days
--   analysis:      analysis fed back to the corporation    <= report + 14 days
--   first contact: first conversation offered              <= report + 28 days, or <= 3 working days
--                  (weekends and Dutch public holidays excluded) when eviction threatens
--                  (a judgment or eviction date is known)
--   rent paid:     during a care trajectory the arrears do not grow in later snapshots
-- States: met / missed / open_in_time / open_overdue; not_required when a case closed before its report
-- deadline without a report; not_applicable when the deadline has no start (no report, no trajectory).
WITH ref AS (
    SELECT value_date AS reference_date FROM meta_parameters WHERE name = 'reference_date'
),
st_link AS (
    SELECT left_key AS case_id, right_key AS social_team_case_id, match_probability
    FROM int_links WHERE link_type = 'case_social_team'
),
sdd AS (
    SELECT l.left_key AS tenancy_id, count(*) AS sdd_records,
           max(CASE WHEN r.service = 'debt_counselling' THEN 1 ELSE 0 END) AS sdd_debt_counselling
    FROM int_links AS l
    JOIN int_sdd_records AS r ON r.sdd_record_id = l.right_key
    WHERE l.link_type = 'tenancy_sdd'
    GROUP BY l.left_key
),
base AS (
    SELECT c.*, ref.reference_date,
           CAST(c.t0_date + 42 AS DATE) AS report_deadline,
           CAST(c.reported_date + 14 AS DATE) AS analysis_deadline,
           (c.judgment_date IS NOT NULL OR c.eviction_date IS NOT NULL) AS eviction_threatens,
           st.social_team_case_id, st.match_probability AS social_team_match_probability,
           stc.team AS linked_team, stc.report_received_date, stc.analysis_sent_date, stc.first_contact_date,
           stc.trajectory, stc.trajectory_start_date, stc.current_rent_paid,
           stc.referral_sdd, stc.referral_veilig_thuis, stc.closed_date AS social_team_closed_date,
           stc.outcome, m.social_team AS municipality_team, m.no_eviction_families_with_children,
           COALESCE(sdd.sdd_records, 0) AS sdd_records, COALESCE(sdd.sdd_debt_counselling, 0) AS sdd_debt_counselling
    FROM int_arrears_cases AS c
    CROSS JOIN ref
    LEFT JOIN st_link AS st ON st.case_id = c.case_id
    LEFT JOIN int_social_team_cases AS stc ON stc.social_team_case_id = st.social_team_case_id
    LEFT JOIN ref_municipalities AS m ON m.municipality = c.municipality
    LEFT JOIN sdd ON sdd.tenancy_id = c.corporation || ':' || c.tenancy_key
),
contact AS (
    SELECT b.case_id,
           CASE WHEN b.reported_date IS NULL THEN NULL
                WHEN b.eviction_threatens THEN w3.calendar_date
                ELSE CAST(b.reported_date + 28 AS DATE) END AS first_contact_deadline
    FROM base AS b
    LEFT JOIN ref_calendar AS r0 ON r0.calendar_date = b.reported_date
    LEFT JOIN ref_calendar AS w3 ON w3.working_day_no = r0.working_day_no + 3 AND w3.is_working_day
),
trajectory_rows AS (
    SELECT b.case_id, s.snapshot_date, s.arrears_amount,
           row_number() OVER (PARTITION BY b.case_id ORDER BY s.snapshot_date) AS n
    FROM base AS b
    JOIN int_arrears_case_snapshots AS s ON s.case_id = b.case_id AND s.snapshot_date >= b.trajectory_start_date
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
)
SELECT b.case_id, b.previous_case_id, p.person_id, b.corporation, b.municipality,
       COALESCE(b.linked_team, b.municipality_team) AS team,
       b.t0_date, b.t0_source, b.first_seen, b.last_seen, b.closed_date, b.close_reason, b.reference_date,
       CAST(date_trunc('month', b.t0_date) AS DATE) AS t0_month,
       b.reported_date, b.report_deadline,
       CASE
         WHEN b.reported_date IS NOT NULL AND b.reported_date <= b.report_deadline THEN 'met'
         WHEN b.reported_date IS NOT NULL THEN 'missed'
         WHEN b.closed_date IS NOT NULL AND b.closed_date <= b.report_deadline THEN 'not_required'
         WHEN b.closed_date IS NOT NULL THEN 'missed'
         WHEN b.reference_date > b.report_deadline THEN 'open_overdue'
         ELSE 'open_in_time'
       END AS report_state,
       b.reported_date - b.t0_date AS days_to_report,
       b.social_team_case_id, b.social_team_match_probability, b.report_received_date,
       b.analysis_sent_date, b.analysis_deadline,
       CASE
         WHEN b.reported_date IS NULL THEN 'not_applicable'
         WHEN b.analysis_sent_date IS NOT NULL AND b.analysis_sent_date <= b.analysis_deadline THEN 'met'
         WHEN b.analysis_sent_date IS NOT NULL THEN 'missed'
         WHEN b.reference_date > b.analysis_deadline THEN 'open_overdue'
         ELSE 'open_in_time'
       END AS analysis_state,
       b.analysis_sent_date - b.reported_date AS days_to_analysis,
       b.eviction_threatens, b.first_contact_date, ct.first_contact_deadline,
       CASE
         WHEN b.reported_date IS NULL THEN 'not_applicable'
         WHEN b.first_contact_date IS NOT NULL AND b.first_contact_date <= ct.first_contact_deadline THEN 'met'
         WHEN b.first_contact_date IS NOT NULL THEN 'missed'
         WHEN b.reference_date > ct.first_contact_deadline THEN 'open_overdue'
         ELSE 'open_in_time'
       END AS first_contact_state,
       b.trajectory, b.trajectory_start_date, b.current_rent_paid,
       CASE
         WHEN NOT COALESCE(b.trajectory, FALSE) OR b.trajectory_start_date IS NULL THEN 'not_applicable'
         WHEN rent.arrears_grew = 1 THEN 'missed'
         WHEN rent.snapshots_in_trajectory > 1 OR b.close_reason = 'cleared' THEN 'met'
         ELSE 'open_in_time'
       END AS rent_paid_state,
       b.referral_sdd, b.referral_veilig_thuis, b.social_team_closed_date, b.outcome,
       b.sdd_records > 0 AS sdd_involved, b.sdd_debt_counselling > 0 AS sdd_debt_counselling,
       b.children, b.objection, b.judgment_date, b.eviction_date,
       b.eviction_date IS NOT NULL AND b.eviction_date <= b.reference_date AS evicted,
       COALESCE(b.no_eviction_families_with_children, FALSE) AND COALESCE(b.children, FALSE)
         AND (b.judgment_date IS NOT NULL OR b.eviction_date IS NOT NULL) AS policy_flag_children_eviction
FROM base AS b
LEFT JOIN contact AS ct ON ct.case_id = b.case_id
LEFT JOIN rent ON rent.case_id = b.case_id
LEFT JOIN int_persons AS p ON p.record_id = b.corporation || ':' || b.tenancy_key
