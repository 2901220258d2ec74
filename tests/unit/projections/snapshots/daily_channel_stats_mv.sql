CREATE MATERIALIZED VIEW IF NOT EXISTS daily_channel_stats_mv TO daily_channel_stats AS
SELECT
    toDate(occurred_at) AS day,
    channel,
    currency,
    uniqExactState(event_id) AS event_ids,
    uniqExactState(customer_key) AS customers,
    maxMapState(
        if(order_total_minor != 0 OR refund_minor != 0, [event_id], []),
        if(order_total_minor != 0 OR refund_minor != 0, [order_total_minor - refund_minor], [])
    ) AS revenue
FROM event_log
GROUP BY day, channel, currency
