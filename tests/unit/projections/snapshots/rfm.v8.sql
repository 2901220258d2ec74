CREATE OR REPLACE VIEW rfm AS
WITH
    (SELECT max(occurred_at) FROM events WHERE type = 'order_placed') AS as_of,
    per_customer AS (
        SELECT
            customer_id,
            dateDiff('day', max(occurred_at), as_of) AS recency_days,
            count() AS frequency,
            sum(order_total_minor) AS monetary_minor
        FROM customer_events
        WHERE type = 'order_placed'
        GROUP BY customer_id
    ),
    scored AS (
        SELECT
            *,
            1 + intDiv(5 * (rank() OVER (ORDER BY recency_days DESC) - 1), count() OVER ()) AS r_score,
            1 + intDiv(5 * (rank() OVER (ORDER BY frequency ASC) - 1), count() OVER ()) AS f_score,
            1 + intDiv(5 * (rank() OVER (ORDER BY monetary_minor ASC) - 1), count() OVER ()) AS m_score
        FROM per_customer
    )
SELECT
    customer_id, recency_days, frequency, monetary_minor, r_score, f_score, m_score,
    r_score + f_score + m_score AS rfm_score,
    multiIf(rfm_score >= 11, 'high', rfm_score >= 7, 'mid', 'low') AS value_tier
FROM scored
