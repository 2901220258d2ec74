CREATE OR REPLACE TABLE daily_channel_stats
(
    day Date,
    channel LowCardinality(String),
    currency LowCardinality(String),
    event_ids AggregateFunction(uniqExact, UUID),
    customers AggregateFunction(uniqExact, String),
    revenue AggregateFunction(maxMap, Array(UUID), Array(Int64))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYear(day)
ORDER BY (day, channel, currency)
AS SELECT * FROM daily_channel_stats
