-- Current state of every SDD record (service episode): its row in the latest loaded export.
-- (Among rows of the same record, the latest export wins; within one export the first row.)
WITH loaded AS (
    SELECT s.*
    FROM stg_sdd_records AS s
    JOIN meta_file_ledger AS l ON l.partner = s.partner AND l.file_id = s.file_id
    WHERE l.status = 'loaded'
)
SELECT loaded.partner || ':' || loaded.record_key AS sdd_record_id, loaded.*
FROM loaded
WHERE NOT EXISTS (
    SELECT 1
    FROM loaded AS newer
    WHERE newer.partner = loaded.partner
      AND newer.record_key = loaded.record_key
      AND (newer.export_date > loaded.export_date
           OR (newer.export_date = loaded.export_date AND newer.source_row < loaded.source_row))
)
