-- One row per arrears case with the covenant's deadlines and their state as of the reference date.
-- report:   reported to the social team <= T0 + 42 days.
-- analysis: analysis fed back to the corporation <= report + 14 days.
-- States: met / missed / open_in_time / open_overdue, plus not_required (closed before the report
-- deadline without a report) and not_applicable (no report, so no analysis due).
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
           st.social_team_case_id, st.match_probability AS social_team_match_probability,
           stc.team AS linked_team, stc.report_received_date, stc.analysis_sent_date,
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
)
SELECT case_id, corporation, municipality,
       COALESCE(linked_team, municipality_team) AS team,
       t0_date, first_seen, last_seen, closed_date, reference_date,
       CAST(date_trunc('month', t0_date) AS DATE) AS t0_month,
       reported_date, report_deadline,
       CASE
         WHEN reported_date IS NOT NULL AND reported_date <= report_deadline THEN 'met'
         WHEN reported_date IS NOT NULL THEN 'missed'
         WHEN closed_date IS NOT NULL AND closed_date <= report_deadline THEN 'not_required'
         WHEN closed_date IS NOT NULL THEN 'missed'
         WHEN reference_date > report_deadline THEN 'open_overdue'
         ELSE 'open_in_time'
       END AS report_state,
       reported_date - t0_date AS days_to_report,
       social_team_case_id, social_team_match_probability, report_received_date,
       analysis_sent_date, analysis_deadline,
       CASE
         WHEN reported_date IS NULL THEN 'not_applicable'
         WHEN analysis_sent_date IS NOT NULL AND analysis_sent_date <= analysis_deadline THEN 'met'
         WHEN analysis_sent_date IS NOT NULL THEN 'missed'
         WHEN reference_date > analysis_deadline THEN 'open_overdue'
         ELSE 'open_in_time'
       END AS analysis_state,
       analysis_sent_date - reported_date AS days_to_analysis,
       trajectory, trajectory_start_date, current_rent_paid, referral_sdd, referral_veilig_thuis,
       social_team_closed_date, outcome,
       sdd_records > 0 AS sdd_involved, sdd_debt_counselling > 0 AS sdd_debt_counselling,
       children, objection, judgment_date, eviction_date,
       eviction_date IS NOT NULL AND eviction_date <= reference_date AS evicted,
       COALESCE(no_eviction_families_with_children, FALSE) AND COALESCE(children, FALSE)
         AND (judgment_date IS NOT NULL OR eviction_date IS NOT NULL) AS policy_flag_children_eviction
FROM base
