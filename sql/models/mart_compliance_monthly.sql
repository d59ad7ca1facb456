-- Covenant compliance per corporation, social team and month of T0.
SELECT corporation, team, t0_month AS month,
       count(*) AS cases,
       sum(CASE WHEN report_state = 'met' THEN 1 ELSE 0 END) AS reported_on_time,
       sum(CASE WHEN report_state = 'missed' THEN 1 ELSE 0 END) AS reported_late,
       sum(CASE WHEN report_state = 'open_overdue' THEN 1 ELSE 0 END) AS report_overdue_now,
       sum(CASE WHEN analysis_state = 'met' THEN 1 ELSE 0 END) AS analysed_on_time,
       sum(CASE WHEN analysis_state = 'missed' THEN 1 ELSE 0 END) AS analysed_late,
       sum(CASE WHEN analysis_state = 'open_overdue' THEN 1 ELSE 0 END) AS analysis_overdue_now,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY days_to_report) AS median_days_to_report,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY days_to_analysis) AS median_days_to_analysis,
       sum(CASE WHEN trajectory AND current_rent_paid THEN 1 ELSE 0 END) AS trajectories_rent_paid,
       sum(CASE WHEN evicted THEN 1 ELSE 0 END) AS evictions
FROM mart_referrals
GROUP BY corporation, team, t0_month
