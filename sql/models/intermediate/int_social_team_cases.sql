-- Current state of every social-team case: its row in the latest loaded export that lists it (macro
-- latest_export_rows). Every staging column but person_seal: the seals stay in staging, where the linkage
-- reads them by row.
WITH newest AS (
    {{ latest_export_rows('stg_social_team_cases') }}
)
SELECT s.partner || ':' || s.record_key AS social_team_case_id,
       s.partner, s.file_id, s.source_row, s.export_date, s.record_key, s.key_version, s.team, s.city, s.reporter,
       s.report_received_date, s.analysis_sent_date, s.first_contact_date, s.trajectory, s.trajectory_start_date,
       s.current_rent_paid, s.referral_sdd, s.referral_veilig_thuis, s.closed_date, s.outcome, s.row_warnings
FROM {{ source('staging', 'stg_social_team_cases') }} AS s
JOIN newest AS n ON n.partner = s.partner AND n.file_id = s.file_id AND n.source_row = s.source_row
