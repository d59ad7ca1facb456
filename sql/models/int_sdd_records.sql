-- Current state of every SDD record (service episode): its row in the latest loaded export.
WITH loaded AS (
    SELECT s.*
    FROM stg_sdd_records AS s
    JOIN meta_file_ledger AS l ON l.partner = s.partner AND l.file_id = s.file_id
    WHERE l.status = 'loaded'
),
ranked AS (
    SELECT loaded.*,
           row_number() OVER (PARTITION BY partner, record_key ORDER BY export_date DESC, source_row) AS rn
    FROM loaded
)
SELECT partner || ':' || record_key AS sdd_record_id, ranked.*
FROM ranked
WHERE rn = 1
