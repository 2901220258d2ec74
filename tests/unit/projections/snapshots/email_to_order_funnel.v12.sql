CREATE OR REPLACE VIEW email_to_order_funnel AS
SELECT steps_completed, count() AS customers
FROM (
    SELECT
        customer_hash,
        windowFunnel(604800)(
            toDateTime(occurred_at), type = 'email_opened', type = 'email_clicked', type = 'order_placed'
        ) AS steps_completed
    FROM customer_events
    WHERE type IN ('email_opened', 'email_clicked', 'order_placed')
    GROUP BY customer_hash
)
GROUP BY steps_completed
