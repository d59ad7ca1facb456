-- The snapshot dates each corporation delivered (loaded files only), numbered per corporation in date order.
-- A tenancy missing from a delivered snapshot is not in arrears on that date: consecutive numbers make
-- an episode, and the next number after an episode's last snapshot is the date it closed.
SELECT partner, snapshot_date,
       dense_rank() OVER (PARTITION BY partner ORDER BY snapshot_date) AS snapshot_no
FROM (SELECT DISTINCT partner, snapshot_date FROM int_arrears_snapshots) AS d
