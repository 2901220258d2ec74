CREATE OR REPLACE VIEW lifecycle_distribution AS
SELECT lifecycle_stage, count() AS customers, customers / sum(customers) OVER () AS share
FROM customer_lifecycle
GROUP BY lifecycle_stage
