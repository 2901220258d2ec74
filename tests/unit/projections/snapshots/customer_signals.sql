CREATE TABLE IF NOT EXISTS customer_signals
(
    customer_id String,
    seq UInt64,
    stage LowCardinality(String),
    previous_stage LowCardinality(String) COMMENT 'empty for the first signal',
    churn_risk UInt8 COMMENT 'score 0..100',
    churn_level LowCardinality(String),
    reasons String COMMENT 'JSON array of {code, points, detail}',
    recorded_at DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (customer_id, seq)
