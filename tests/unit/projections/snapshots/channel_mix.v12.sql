CREATE OR REPLACE VIEW channel_mix AS
SELECT
    toStartOfMonth(occurred_at) AS month,
    channel,
    count() AS events,
    uniqExact(customer_hash) AS customers,
    events / sum(events) OVER (PARTITION BY month) AS share_of_events
FROM customer_events
GROUP BY month, channel
