-- Current state of every SDD record (service episode): its row in the latest loaded export.
-- (Among rows of the same record, the latest export wins; within one export the first row.)
-- The winning rows are ranked on their keys alone (a staging row is partner, file_id, source_row) and the
-- wide rows joined once: linear on both engines (a NOT EXISTS over a CTE of wide rows made PostgreSQL
-- sort every row twice, on disk at 300k rows). rank() keeps exact ties, as NOT EXISTS did.
-- Every staging column but person_seal: the seals stay in staging, where the linkage reads them by row.
WITH newest AS (
    SELECT partner, file_id, source_row
    FROM (
        SELECT s.partner, s.file_id, s.source_row,
               rank() OVER (PARTITION BY s.partner, s.record_key ORDER BY s.export_date DESC, s.source_row) AS rn
        FROM stg_sdd_records AS s
        JOIN meta_file_ledger AS l ON l.partner = s.partner AND l.file_id = s.file_id
        WHERE l.status = 'loaded'
    ) AS ranked
    WHERE rn = 1
)
SELECT s.partner || ':' || s.record_key AS sdd_record_id,
       s.partner, s.file_id, s.source_row, s.export_date, s.record_key, s.key_version, s.city, s.service,
       s.start_date, s.end_date, s.status, s.row_warnings
FROM stg_sdd_records AS s
JOIN newest AS n ON n.partner = s.partner AND n.file_id = s.file_id AND n.source_row = s.source_row
