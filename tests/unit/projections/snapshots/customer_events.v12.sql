CREATE OR REPLACE VIEW customer_events AS
SELECT multiIf(
    r.identity_hash = '', dictGetOrDefault('identity_customers', 'customer_id', tuple(e.customer_key), e.customer_key),
    r.deleted = 1, e.customer_key,
    r.customer_id) AS customer_id,
    multiIf(
    r.identity_hash = '', dictGetOrDefault('identity_customers', 'customer_hash', tuple(e.customer_key), reinterpretAsUInt128(sipHash128(e.customer_key))),
    r.deleted = 1, reinterpretAsUInt128(sipHash128(e.customer_key)),
    reinterpretAsUInt128(sipHash128(r.customer_id))) AS customer_hash,
    e.*
FROM events AS e
LEFT ANY JOIN (
    SELECT identity_hash, customer_id, deleted FROM identity_links FINAL
    WHERE identity_hash IN (SELECT identity_hash FROM identity_links WHERE inserted_at >= (SELECT ifNull(max(last_successful_update_time), toDateTime(0)) FROM system.dictionaries WHERE database = currentDatabase() AND name = 'identity_customers') - INTERVAL 5 MINUTE)
) AS r ON r.identity_hash = e.customer_key
SETTINGS join_algorithm = 'hash'
