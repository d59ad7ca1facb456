-- The snapshot dates each corporation delivered (loaded files only) up to the reference date, numbered per
-- corporation in date order. A tenancy missing from a delivered snapshot is not in arrears on that date:
-- consecutive numbers make an episode, and the next number after an episode's last snapshot is the date it
-- closed. Snapshots after the reference date are not read: every state is computed as of that date.
SELECT d.partner, d.snapshot_date,
       dense_rank() OVER (PARTITION BY d.partner ORDER BY d.snapshot_date) AS snapshot_no
FROM (SELECT DISTINCT partner, snapshot_date FROM {{ ref('int_arrears_snapshots') }}) AS d
JOIN {{ source('meta', 'meta_parameters') }} AS p ON p.name = 'reference_date' AND d.snapshot_date <= p.value_date
