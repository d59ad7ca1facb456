-- Covenant compliance per corporation, municipality, social team and month of T0.
SELECT corporation, municipality, team, t0_month AS month,
       count(*) AS cases,
       sum(CASE WHEN report_state = 'met' THEN 1 ELSE 0 END) AS reported_on_time,
       sum(CASE WHEN report_state = 'missed' THEN 1 ELSE 0 END) AS reported_late,
       sum(CASE WHEN report_state = 'open_overdue' THEN 1 ELSE 0 END) AS report_overdue_now,
       sum(CASE WHEN analysis_state = 'met' THEN 1 ELSE 0 END) AS analysed_on_time,
       sum(CASE WHEN analysis_state = 'missed' THEN 1 ELSE 0 END) AS analysed_late,
       sum(CASE WHEN analysis_state = 'open_overdue' THEN 1 ELSE 0 END) AS analysis_overdue_now,
       sum(CASE WHEN first_contact_state = 'met' THEN 1 ELSE 0 END) AS first_contact_on_time,
       sum(CASE WHEN first_contact_state = 'missed' THEN 1 ELSE 0 END) AS first_contact_late,
       sum(CASE WHEN first_contact_state = 'open_overdue' THEN 1 ELSE 0 END) AS first_contact_overdue_now,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY days_to_report) AS median_days_to_report,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY days_to_analysis) AS median_days_to_analysis,
       sum(CASE WHEN trajectory THEN 1 ELSE 0 END) AS trajectories,
       sum(CASE WHEN rent_paid_state = 'met' THEN 1 ELSE 0 END) AS trajectories_rent_paid,
       sum(CASE WHEN rent_paid_state = 'missed' THEN 1 ELSE 0 END) AS trajectories_rent_not_paid,
       sum(CASE WHEN evicted THEN 1 ELSE 0 END) AS evictions
FROM mart_referrals
GROUP BY corporation, municipality, team, t0_month
