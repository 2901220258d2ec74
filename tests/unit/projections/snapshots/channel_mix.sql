CREATE VIEW IF NOT EXISTS channel_mix AS
SELECT
    toStartOfMonth(occurred_at) AS month,
    channel,
    count() AS events,
    uniqExact(customer_key) AS customers,
    events / sum(events) OVER (PARTITION BY month) AS share_of_events
FROM events
GROUP BY month, channel
