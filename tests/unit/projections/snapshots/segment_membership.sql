CREATE TABLE IF NOT EXISTS segment_membership
(
    segment_id LowCardinality(String),
    customer_id String,
    is_member UInt8,
    changed_at DateTime64(6, 'UTC'),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (segment_id, customer_id, changed_at)
