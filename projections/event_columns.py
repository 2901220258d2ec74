"""The columns of the ``event_log`` table and the ClickHouse expression that fills each.

One list drives the DDL (``projections/ddl.py``) and the ``INSERT ... SELECT`` that
ClickHouse runs over the Avro rows of the sink (``projections/avro_input.py``), so they
cannot drift apart. An expression names the Avro fields it reads as ``{dotted.path}``
placeholders, and those are its ``sources``: no column reads a field the contract tags as
personal (``schemas.contract.pii_fields``); ``tests/unit/projections/test_event_columns.py``
holds that. The customer is the Kafka message key — the keyed BLAKE2b routing hash the
producer computes — never a raw email or phone; identity resolution adds a
``customer_id`` later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from projections.avro_container import row_schema
from projections.avro_input import AvroInsert, avro_insert, placeholders


@dataclass(frozen=True)
class EventColumn:
    name: str
    clickhouse_type: str
    sql: str  # ClickHouse expression over {dotted.path} placeholders of a container row
    doc: str

    @property
    def sources(self) -> tuple[str, ...]:
        """The dotted Avro paths this column reads."""
        return placeholders(self.sql)


EVENT_COLUMNS: tuple[EventColumn, ...] = (
    EventColumn("event_id", "UUID", "{event_id}", "idempotency key; duplicates share it"),
    EventColumn("type", "LowCardinality(String)", "{type}", "canonical type or 'track'"),
    EventColumn("name", "LowCardinality(String)", "ifNull({name}, '')", "event name of track/page/screen, empty if none"),
    EventColumn("channel", "LowCardinality(String)", "{source.channel}", "web, email, support, ..."),
    EventColumn("connector", "LowCardinality(String)", "{source.connector}", "connector that produced it"),
    EventColumn("occurred_at", "DateTime64(6, 'UTC')", "{occurred_at}", "when it happened"),
    EventColumn("received_at", "DateTime64(6, 'UTC')", "{received_at}", "when Panorama received it"),
    EventColumn("order_id", "String", "coalesce(nullIf({order.order_id}, ''), {refund.order_id}, '')",
                "order of an order_placed / order_refunded"),
    EventColumn("order_total_minor", "Int64", "ifNull({order.total.amount_minor}, 0)", "order total in minor units (0 if not an order)"),
    EventColumn("refund_minor", "Int64", "ifNull({refund.amount.amount_minor}, 0)", "refunded amount in minor units"),
    EventColumn("currency", "LowCardinality(String)", "coalesce({order.total.currency}, {refund.amount.currency}, '')",
                "ISO-4217 of the money columns"),
    EventColumn("campaign_id", "String", "coalesce(nullIf({email.campaign_id}, ''), {context.campaign.name}, '')",
                "email campaign, else UTM campaign name"),
    EventColumn("utm_source", "LowCardinality(String)", "ifNull({context.campaign.source}, '')", "UTM source"),
    EventColumn("utm_medium", "LowCardinality(String)", "ifNull({context.campaign.medium}, '')", "UTM medium"),
    EventColumn("ticket_id", "String", "ifNull({ticket.ticket_id}, '')", "support ticket"),
    EventColumn("survey_kind", "LowCardinality(String)", "ifNull({survey.kind}, '')", "nps, csat, ces, other"),
    EventColumn("survey_score", "Nullable(Int16)", "{survey.score}", "survey answer"),
    EventColumn("loyalty_points", "Int64", "ifNull({loyalty.points}, 0)", "points earned (+) or redeemed"),
    EventColumn("locale", "LowCardinality(String)", "ifNull({context.locale}, '')", "locale of the client"),
    EventColumn("properties", "String", "{properties}", "JSON object of custom properties"),
)
# Read from the Kafka fields the sink puts in front of each event (projections/avro_container.py).
KAFKA_COLUMNS: tuple[EventColumn, ...] = (
    EventColumn("customer_key", "String", "{customer_key}", "routing identity hash (the Kafka message key), pseudonymous"),
    EventColumn("kafka_partition", "UInt32", "{kafka_partition}", "where the event sits in the interaction log"),
    EventColumn("kafka_offset", "UInt64", "reinterpretAsUInt64({kafka_offset})", "its offset in that partition"),
)


def column_definitions() -> list[tuple[str, str, str]]:
    """(name, ClickHouse type, comment) of every ``event_log`` column, in table order."""
    return [(c.name, c.clickhouse_type, c.doc) for c in (*EVENT_COLUMNS, *KAFKA_COLUMNS)]


def event_log_insert(interaction_schema: dict[str, Any]) -> AvroInsert:
    """The ``INSERT INTO event_log ... SELECT`` over container rows of ``interaction_schema``."""
    columns = [(c.name, c.sql) for c in (*EVENT_COLUMNS, *KAFKA_COLUMNS)]
    return avro_insert("event_log", columns, row_schema(interaction_schema))
