CREATE TABLE IF NOT EXISTS event_log
(
    `event_id` UUID COMMENT 'idempotency key; duplicates share it',
    `type` LowCardinality(String) COMMENT 'canonical type or \'track\'',
    `name` LowCardinality(String) COMMENT 'event name of track/page/screen, empty if none',
    `channel` LowCardinality(String) COMMENT 'web, email, support, ...',
    `connector` LowCardinality(String) COMMENT 'connector that produced it',
    `occurred_at` DateTime64(6, 'UTC') COMMENT 'when it happened',
    `received_at` DateTime64(6, 'UTC') COMMENT 'when Panorama received it',
    `order_id` String COMMENT 'order of an order_placed / order_refunded',
    `order_total_minor` Int64 COMMENT 'order total in minor units (0 if not an order)',
    `refund_minor` Int64 COMMENT 'refunded amount in minor units',
    `currency` LowCardinality(String) COMMENT 'ISO-4217 of the money columns',
    `campaign_id` String COMMENT 'email campaign, else UTM campaign name',
    `utm_source` LowCardinality(String) COMMENT 'UTM source',
    `utm_medium` LowCardinality(String) COMMENT 'UTM medium',
    `ticket_id` String COMMENT 'support ticket',
    `survey_kind` LowCardinality(String) COMMENT 'nps, csat, ces, other',
    `survey_score` Nullable(Int16) COMMENT 'survey answer',
    `loyalty_points` Int64 COMMENT 'points earned (+) or redeemed',
    `locale` LowCardinality(String) COMMENT 'locale of the client',
    `properties` String COMMENT 'JSON object of custom properties',
    `customer_key` String COMMENT 'routing identity hash (the Kafka message key), pseudonymous',
    `kafka_partition` UInt32 COMMENT 'where the event sits in the interaction log',
    `kafka_offset` UInt64 COMMENT 'its offset in that partition'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (type, customer_key, occurred_at, event_id)
