CREATE VIEW IF NOT EXISTS segment_members AS
SELECT segment_id, customer_id, max(changed_at) AS since
FROM segment_membership FINAL
GROUP BY segment_id, customer_id
HAVING argMax(is_member, (changed_at, version)) = 1
