{#
  The staging rows that hold the current state of each record of an export (social-team cases, SDD
  records): per partner and record, its row in the latest loaded export (within one export the first row).
  Returns the keys of those rows (partner, file_id, source_row) to join the wide staging rows to once.
  The rows are ranked on their keys alone and the wide rows joined once: linear on both engines (a NOT
  EXISTS over a CTE of wide rows made PostgreSQL sort every row twice, on disk at 300k rows). rank() keeps
  exact ties, as NOT EXISTS did.
#}
{% macro latest_export_rows(staging_table) %}
    SELECT partner, file_id, source_row
    FROM (
        SELECT s.partner, s.file_id, s.source_row,
               rank() OVER (PARTITION BY s.partner, s.record_key ORDER BY s.export_date DESC, s.source_row) AS rn
        FROM {{ source('staging', staging_table) }} AS s
        JOIN {{ source('meta', 'meta_file_ledger') }} AS l ON l.partner = s.partner AND l.file_id = s.file_id
        WHERE l.status = 'loaded'
    ) AS ranked
    WHERE rn = 1
{% endmacro %}
