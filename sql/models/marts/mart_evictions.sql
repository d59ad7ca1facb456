-- Eviction judgments and executed evictions per municipality, corporation and year, counted per event: a
-- judgment (or eviction) carried by several cases of one tenancy (a reopened episode) is one event, in the
-- year of its date, with the municipality and household of the latest case carrying it. Policy flags
-- (e.g. Alblasserdam: no eviction of families with children) count every case the rule applies to,
-- whether or not a judgment is known, in the year of T0 (of the first snapshot below the threshold).
WITH judgments AS (
    SELECT corporation, tenancy_key, judgment_date, municipality, children,
           row_number() OVER (PARTITION BY corporation, tenancy_key, judgment_date ORDER BY first_seen DESC) AS rn
    FROM {{ ref('mart_referrals') }} WHERE judgment_date IS NOT NULL
),
executed AS (
    SELECT corporation, tenancy_key, eviction_date, municipality, children
    FROM {{ ref('mart_referrals') }} WHERE eviction_event
),
events AS (
    SELECT municipality, corporation, CAST(EXTRACT(YEAR FROM judgment_date) AS INTEGER) AS year,
           1 AS judgments, 0 AS evictions, CASE WHEN children THEN 1 ELSE 0 END AS judgments_with_children,
           0 AS evictions_with_children, 0 AS policy_flags
    FROM judgments WHERE rn = 1
    UNION ALL
    SELECT municipality, corporation, CAST(EXTRACT(YEAR FROM eviction_date) AS INTEGER),
           0, 1, 0, CASE WHEN children THEN 1 ELSE 0 END, 0
    FROM executed
    UNION ALL
    SELECT municipality, corporation, CAST(EXTRACT(YEAR FROM COALESCE(t0_date, first_seen)) AS INTEGER), 0, 0, 0, 0, 1
    FROM {{ ref('mart_referrals') }} WHERE policy_flag_children_eviction
)
SELECT municipality, corporation, year,
       sum(judgments) AS eviction_judgments, sum(evictions) AS evictions_executed,
       sum(judgments_with_children) AS judgments_with_children,
       sum(evictions_with_children) AS evictions_with_children,
       sum(policy_flags) AS policy_flags_children
FROM events
GROUP BY municipality, corporation, year
