CREATE VIEW IF NOT EXISTS customer_lifecycle AS
SELECT
    customer_id,
    argMax(stage, seq) AS lifecycle_stage,
    argMax(churn_risk, seq) AS churn_risk,
    argMax(churn_level, seq) AS churn_level,
    max(recorded_at) AS changed_at
FROM customer_signals
WHERE customer_id NOT IN (SELECT concat(kind, ':', identity_hash) FROM identities WHERE customer_id != concat(kind, ':', identity_hash))
GROUP BY customer_id
