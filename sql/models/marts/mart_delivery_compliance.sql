-- Delivery compliance: one row per partner and expected delivery period (registry cadence, expanded into
-- ref_delivery_periods up to the reference date, checked_on). A period is delivered by a loaded file
-- whose as-of date falls in it. Receipt is judged by the Dutch local date (Europe/Amsterdam, DST included)
-- of the moment the file was received (meta_file_ledger.received_on): a file received at 23:30 local time
-- on its due date is on time, at 00:30 the next day late, whatever the UTC date.
-- As of the reference date: a file received after it is not known yet.
-- status: on_time (first loaded file received on or before the due date), late, missed (nothing received by
-- the reference date, which is past the due date), open (nothing received yet, not yet due).
WITH delivered AS (
    SELECT p.partner,
           p.period_start,
           min(l.received_on) AS first_received_on,
           count(l.file_id) AS files_loaded
    FROM {{ source('reference', 'ref_delivery_periods') }} AS p
    LEFT JOIN {{ source('meta', 'meta_file_ledger') }} AS l
      ON l.partner = p.partner
     AND l.status IN ('loaded', 'superseded')
     AND l.snapshot_date BETWEEN p.period_start AND p.period_end
     AND l.received_on <= p.checked_on
    GROUP BY p.partner, p.period_start
)
SELECT p.partner,
       p.kind,
       p.cadence,
       p.period_start,
       p.period_end,
       p.due_date,
       p.checked_on,
       d.first_received_on AS delivered_on,
       d.files_loaded,
       CASE
           WHEN d.first_received_on IS NULL AND p.checked_on > p.due_date THEN 'missed'
           WHEN d.first_received_on IS NULL THEN 'open'
           WHEN d.first_received_on <= p.due_date THEN 'on_time'
           ELSE 'late'
       END AS status,
       CASE
           WHEN d.first_received_on IS NULL AND p.checked_on > p.due_date THEN p.checked_on - p.due_date
           WHEN d.first_received_on > p.due_date THEN d.first_received_on - p.due_date
           ELSE 0
       END AS days_late
FROM {{ source('reference', 'ref_delivery_periods') }} AS p
JOIN delivered AS d ON d.partner = p.partner AND d.period_start = p.period_start
