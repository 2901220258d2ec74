CREATE TABLE IF NOT EXISTS audit_log
(
    audit_id UUID,
    at DateTime64(6, 'UTC'),
    actor String,
    role LowCardinality(String),
    action LowCardinality(String),
    subject String,
    reason String,
    outcome LowCardinality(String),
    details String COMMENT 'JSON object'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (at, audit_id)
