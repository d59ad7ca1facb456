-- Delivery compliance: one row per partner and expected delivery period (registry cadence, expanded by the
-- intake into ref_delivery_periods). A period is delivered by a loaded file whose as-of date falls in it.
-- status: on_time (first loaded file received by the due date), late, missed (nothing loaded and the due
-- date has passed), open (not yet due).
WITH delivered AS (
    SELECT p.partner,
           p.period_start,
           min(l.received_at) AS first_received_at,
           count(l.file_id) AS files_loaded
    FROM ref_delivery_periods AS p
    LEFT JOIN meta_file_ledger AS l
      ON l.partner = p.partner
     AND l.status IN ('loaded', 'superseded')
     AND l.snapshot_date BETWEEN p.period_start AND p.period_end
    GROUP BY p.partner, p.period_start
)
SELECT p.partner,
       p.kind,
       p.cadence,
       p.period_start,
       p.period_end,
       p.due_date,
       p.checked_on,
       CAST(d.first_received_at AS DATE) AS delivered_on,
       d.files_loaded,
       CASE
           WHEN d.first_received_at IS NULL AND p.checked_on > p.due_date THEN 'missed'
           WHEN d.first_received_at IS NULL THEN 'open'
           WHEN CAST(d.first_received_at AS DATE) <= p.due_date THEN 'on_time'
           ELSE 'late'
       END AS status,
       CASE
           WHEN d.first_received_at IS NULL AND p.checked_on > p.due_date THEN p.checked_on - p.due_date
           WHEN CAST(d.first_received_at AS DATE) > p.due_date THEN CAST(d.first_received_at AS DATE) - p.due_date
           ELSE 0
       END AS days_late
FROM ref_delivery_periods AS p
JOIN delivered AS d ON d.partner = p.partner AND d.period_start = p.period_start
