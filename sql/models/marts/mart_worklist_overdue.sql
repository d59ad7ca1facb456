-- Overdue now: one row per case and deadline in state open_overdue (the case is open, the event has not
-- happened and the reference date is past the deadline), with the partner responsible: the corporation for
-- the report, the social team for the analysis and the first contact. The same definition as the
-- *_overdue_now counts of mart_compliance_monthly and the dashboard.
WITH overdue AS (
    SELECT case_id, corporation, municipality, team, t0_date, reference_date,
           'report' AS deadline, report_deadline AS deadline_date, corporation AS responsible_partner,
           'corporation' AS responsible_kind
    FROM {{ ref('mart_referrals') }} WHERE report_state = 'open_overdue'
    UNION ALL
    SELECT case_id, corporation, municipality, team, t0_date, reference_date,
           'analysis', analysis_deadline, team, 'social_team'
    FROM {{ ref('mart_referrals') }} WHERE analysis_state = 'open_overdue'
    UNION ALL
    SELECT case_id, corporation, municipality, team, t0_date, reference_date,
           'first_contact', first_contact_deadline, team, 'social_team'
    FROM {{ ref('mart_referrals') }} WHERE first_contact_state = 'open_overdue'
)
SELECT case_id, deadline, deadline_date, reference_date - deadline_date AS days_overdue,
       responsible_kind, responsible_partner, corporation, municipality, team, t0_date
FROM overdue
