CREATE TABLE IF NOT EXISTS identity_links
(
    kind LowCardinality(String),
    identity_hash String,
    customer_id String,
    version UInt64,
    deleted UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (kind, identity_hash)
