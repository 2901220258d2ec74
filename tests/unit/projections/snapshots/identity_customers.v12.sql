CREATE OR REPLACE DICTIONARY identity_customers
(
    identity_hash String,
    customer_id String,
    customer_hash UInt128
)
PRIMARY KEY identity_hash
SOURCE(CLICKHOUSE(QUERY 'SELECT identity_hash, customer_id, reinterpretAsUInt128(sipHash128(customer_id)) AS customer_hash FROM identities'))
LIFETIME(MIN 30 MAX 60)
LAYOUT(COMPLEX_KEY_HASHED())
