CREATE VIEW IF NOT EXISTS daily_channel_activity AS
SELECT
    day,
    channel,
    uniqExactMerge(event_ids) AS events,
    uniqExactMerge(customers) AS active_customers
FROM daily_channel_stats
GROUP BY day, channel
