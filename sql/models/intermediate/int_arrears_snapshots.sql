-- The arrears snapshot rows that count: from loaded files only, and for each corporation and
-- snapshot date only the latest delivery (a corrected re-delivery replaces the earlier file).
-- Every staging column but person_seal: the seals stay in staging, where the linkage reads them by row.
SELECT s.partner, s.file_id, s.source_row, s.snapshot_date, s.record_key, s.key_version, s.city, s.monthly_rent,
       s.arrears_amount, s.arrears_start_date, s.t0_date, s.contact_date, s.reminder_date, s.reported_date,
       s.objection, s.children, s.judgment_date, s.eviction_date, s.row_warnings
FROM {{ source('staging', 'stg_arrears_snapshots') }} AS s
JOIN {{ source('meta', 'meta_file_ledger') }} AS l
  ON l.partner = s.partner AND l.file_id = s.file_id
WHERE l.status = 'loaded'
  AND l.delivery_seq = (
    SELECT max(l2.delivery_seq)
    FROM {{ source('meta', 'meta_file_ledger') }} AS l2
    WHERE l2.partner = l.partner AND l2.snapshot_date = l.snapshot_date AND l2.status = 'loaded'
  )
