CREATE OR REPLACE VIEW cohort_retention AS
WITH
    orders AS (
        SELECT customer_hash, toStartOfMonth(occurred_at) AS month FROM customer_events WHERE type = 'order_placed'
    ),
    firsts AS (SELECT customer_hash, min(month) AS cohort_month FROM orders GROUP BY customer_hash),
    sizes AS (SELECT cohort_month, count() AS cohort_size FROM firsts GROUP BY cohort_month)
SELECT
    f.cohort_month AS cohort_month,
    dateDiff('month', f.cohort_month, o.month) AS months_since_first,
    uniqExact(o.customer_hash) AS customers,
    any(s.cohort_size) AS cohort_size,
    customers / cohort_size AS retention
FROM orders AS o
INNER JOIN firsts AS f ON o.customer_hash = f.customer_hash
INNER JOIN sizes AS s ON s.cohort_month = f.cohort_month
GROUP BY cohort_month, months_since_first
