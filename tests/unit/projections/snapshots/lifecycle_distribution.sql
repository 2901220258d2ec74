CREATE VIEW IF NOT EXISTS lifecycle_distribution AS
SELECT lifecycle_stage, count() AS customers, customers / sum(customers) OVER () AS share
FROM profiles
GROUP BY lifecycle_stage
