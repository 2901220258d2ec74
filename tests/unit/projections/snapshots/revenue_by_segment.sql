CREATE VIEW IF NOT EXISTS revenue_by_segment AS
WITH sizes AS (SELECT segment_id, count() AS members FROM segment_members GROUP BY segment_id)
SELECT
    m.segment_id AS segment_id,
    p.currency AS currency,
    any(s.members) AS members,
    count() AS buyers,
    sum(p.revenue_minor) AS revenue_minor,
    intDiv(revenue_minor, members) AS revenue_per_member_minor
FROM segment_members AS m
INNER JOIN profiles AS p ON p.customer_id = m.customer_id
INNER JOIN sizes AS s ON s.segment_id = m.segment_id
WHERE p.orders > 0
GROUP BY segment_id, currency
