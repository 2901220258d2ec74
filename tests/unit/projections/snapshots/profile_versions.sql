CREATE TABLE IF NOT EXISTS profile_versions
(
    customer_id String,
    version UInt64,
    first_seen_at DateTime64(6, 'UTC'),
    last_seen_at DateTime64(6, 'UTC'),
    lifecycle_stage LowCardinality(String),
    orders UInt32,
    revenue_minor Int64,
    currency LowCardinality(String),
    traits String COMMENT 'JSON of non-personal traits',
    deleted UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree(version)
ORDER BY customer_id
