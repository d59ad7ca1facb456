-- The arrears snapshot rows that count: from loaded files only, and for each corporation and
-- snapshot date only the latest delivery (a corrected re-delivery replaces the earlier file).
SELECT s.*
FROM stg_arrears_snapshots AS s
JOIN meta_file_ledger AS l
  ON l.partner = s.partner AND l.file_id = s.file_id
WHERE l.status = 'loaded'
  AND l.delivery_seq = (
    SELECT max(l2.delivery_seq)
    FROM meta_file_ledger AS l2
    WHERE l2.partner = l.partner AND l2.snapshot_date = l.snapshot_date AND l2.status = 'loaded'
  )
