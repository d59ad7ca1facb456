-- Current state of every SDD record (service episode): its row in the latest loaded export
-- (macro latest_export_rows). Every staging column but person_seal: the seals stay in staging, where the
-- linkage reads them by row.
WITH newest AS (
    {{ latest_export_rows('stg_sdd_records') }}
)
SELECT s.partner || ':' || s.record_key AS sdd_record_id,
       s.partner, s.file_id, s.source_row, s.export_date, s.record_key, s.key_version, s.city, s.service,
       s.start_date, s.end_date, s.status, s.row_warnings
FROM {{ source('staging', 'stg_sdd_records') }} AS s
JOIN newest AS n ON n.partner = s.partner AND n.file_id = s.file_id AND n.source_row = s.source_row
