-- Eviction judgments and executed evictions per municipality, corporation and year (of the judgment or
-- the eviction), with households with children and cases flagged by a municipal policy rule.
WITH events AS (
    SELECT municipality, corporation, CAST(EXTRACT(YEAR FROM judgment_date) AS INTEGER) AS year,
           1 AS judgments, 0 AS evictions, CASE WHEN children THEN 1 ELSE 0 END AS judgments_with_children,
           0 AS evictions_with_children,
           CASE WHEN policy_flag_children_eviction THEN 1 ELSE 0 END AS policy_flags
    FROM mart_referrals WHERE judgment_date IS NOT NULL
    UNION ALL
    SELECT municipality, corporation, CAST(EXTRACT(YEAR FROM eviction_date) AS INTEGER),
           0, 1, 0, CASE WHEN children THEN 1 ELSE 0 END, 0
    FROM mart_referrals WHERE evicted
)
SELECT municipality, corporation, year,
       sum(judgments) AS eviction_judgments, sum(evictions) AS evictions_executed,
       sum(judgments_with_children) AS judgments_with_children,
       sum(evictions_with_children) AS evictions_with_children,
       sum(policy_flags) AS policy_flags_children
FROM events
GROUP BY municipality, corporation, year
