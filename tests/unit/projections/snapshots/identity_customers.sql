CREATE DICTIONARY IF NOT EXISTS identity_customers
(
    identity_hash String,
    customer_id String
)
PRIMARY KEY identity_hash
SOURCE(CLICKHOUSE(QUERY 'SELECT identity_hash, customer_id FROM identities'))
LIFETIME(MIN 30 MAX 60)
LAYOUT(COMPLEX_KEY_HASHED())
