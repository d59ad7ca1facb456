-- Covenant compliance per corporation, municipality, social team and month of T0 (for an episode below the
-- threshold, which has no T0: the month of its first snapshot). cases counts episodes with a T0;
-- below_threshold the episodes in arrears that never reached one month's rent. The *_overdue_now columns
-- count exactly the rows of mart_worklist_overdue (state open_overdue as of the reference date); the
-- *_open_in_time columns the cases whose deadline still runs (not decided yet: no rate counts them). Medians
-- leave out cases flagged in data_quality (an analysis dated before its report).
SELECT corporation, municipality, team,
       COALESCE(t0_month, CAST(date_trunc('month', first_seen) AS DATE)) AS month,
       sum(CASE WHEN t0_date IS NOT NULL THEN 1 ELSE 0 END) AS cases,
       sum(CASE WHEN t0_date IS NULL THEN 1 ELSE 0 END) AS below_threshold,
       sum(CASE WHEN report_state = 'met' THEN 1 ELSE 0 END) AS reported_on_time,
       sum(CASE WHEN report_state = 'missed' THEN 1 ELSE 0 END) AS reported_late,
       sum(CASE WHEN report_state = 'open_overdue' THEN 1 ELSE 0 END) AS report_overdue_now,
       sum(CASE WHEN report_state = 'open_in_time' THEN 1 ELSE 0 END) AS report_open_in_time,
       sum(CASE WHEN report_state = 'not_required' THEN 1 ELSE 0 END) AS report_not_required,
       sum(CASE WHEN report_source = 'social_team' THEN 1 ELSE 0 END) AS reports_from_social_team,
       sum(CASE WHEN analysis_state = 'met' THEN 1 ELSE 0 END) AS analysed_on_time,
       sum(CASE WHEN analysis_state = 'missed' THEN 1 ELSE 0 END) AS analysed_late,
       sum(CASE WHEN analysis_state = 'open_overdue' THEN 1 ELSE 0 END) AS analysis_overdue_now,
       sum(CASE WHEN analysis_state = 'open_in_time' THEN 1 ELSE 0 END) AS analysis_open_in_time,
       sum(CASE WHEN first_contact_state = 'met' THEN 1 ELSE 0 END) AS first_contact_on_time,
       sum(CASE WHEN first_contact_state = 'missed' THEN 1 ELSE 0 END) AS first_contact_late,
       sum(CASE WHEN first_contact_state = 'open_overdue' THEN 1 ELSE 0 END) AS first_contact_overdue_now,
       sum(CASE WHEN first_contact_state = 'open_in_time' THEN 1 ELSE 0 END) AS first_contact_open_in_time,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY days_to_report) AS median_days_to_report,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY days_to_analysis) AS median_days_to_analysis,
       sum(CASE WHEN trajectory THEN 1 ELSE 0 END) AS trajectories,
       sum(CASE WHEN rent_paid_state = 'met' THEN 1 ELSE 0 END) AS trajectories_rent_paid,
       sum(CASE WHEN rent_paid_state = 'missed' THEN 1 ELSE 0 END) AS trajectories_rent_not_paid,
       sum(CASE WHEN rent_paid_state = 'open_in_time' THEN 1 ELSE 0 END) AS trajectories_rent_open,
       sum(CASE WHEN eviction_event THEN 1 ELSE 0 END) AS evictions,
       sum(CASE WHEN data_quality IS NOT NULL THEN 1 ELSE 0 END) AS data_quality_issues
FROM {{ ref('mart_referrals') }}
GROUP BY corporation, municipality, team, COALESCE(t0_month, CAST(date_trunc('month', first_seen) AS DATE))
