CREATE VIEW IF NOT EXISTS customer_events AS
SELECT if(l.customer_id = '', e.customer_key, l.customer_id) AS customer_id, e.*
FROM events AS e
LEFT JOIN (SELECT identity_hash, customer_id FROM identities) AS l ON l.identity_hash = e.customer_key
