CREATE VIEW IF NOT EXISTS daily_revenue AS
SELECT day, channel, currency, arraySum(maxMapMerge(revenue).2) AS revenue_minor
FROM daily_channel_stats
WHERE currency != ''
GROUP BY day, channel, currency
