CREATE OR REPLACE VIEW campaign_performance AS
WITH
    engagement AS (
        SELECT
            campaign_id,
            countIf(type = 'email_sent') AS sends,
            uniqExactIf(customer_hash, type = 'email_sent') AS recipients,
            uniqExactIf(customer_hash, type = 'email_opened') AS openers,
            uniqExactIf(customer_hash, type = 'email_clicked') AS clickers
        FROM customer_events
        WHERE type IN ('email_sent', 'email_opened', 'email_clicked') AND campaign_id != ''
        GROUP BY campaign_id
    ),
    first_clicks AS (
        SELECT campaign_id, customer_hash, min(occurred_at) AS clicked_at
        FROM customer_events
        WHERE type = 'email_clicked' AND campaign_id != ''
        GROUP BY campaign_id, customer_hash
    ),
    conversions AS (
        SELECT c.campaign_id AS campaign_id, count() AS conversions, sum(o.order_total_minor) AS revenue_minor
        FROM first_clicks AS c
        INNER JOIN (
            SELECT customer_hash, occurred_at, order_total_minor FROM customer_events WHERE type = 'order_placed'
        ) AS o ON o.customer_hash = c.customer_hash
        WHERE o.occurred_at >= c.clicked_at AND o.occurred_at < c.clicked_at + INTERVAL 7 DAY
        GROUP BY campaign_id
    )
SELECT
    e.campaign_id AS campaign_id, sends, recipients, openers, clickers,
    if(recipients = 0, 0, openers / recipients) AS open_rate,
    if(recipients = 0, 0, clickers / recipients) AS click_rate,
    cv.conversions AS conversions,
    cv.revenue_minor AS revenue_minor
FROM engagement AS e
LEFT JOIN conversions AS cv ON cv.campaign_id = e.campaign_id
