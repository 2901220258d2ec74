"""The event_log columns as ClickHouse computes them from the Avro container, against
values computed independently in Python from the same records (chDB, no Kafka)."""

from __future__ import annotations

import pytest

from projections.avro_container import ContainerWriter
from projections.chdb_backend import ChdbBackend
from projections.event_columns import event_log_insert
from projections.migrations import apply_migrations
from projections.sink import INSERT_SETTINGS
from schemas.codec import InteractionCodec
from schemas.contract import current_schema, pii_fields
from schemas.examples import example_records
from tests.integration.projections.population import population

pytestmark = pytest.mark.integration

QUERY = """SELECT * EXCEPT (event_id, occurred_at, received_at), toString(event_id) AS event_id,
    toUnixTimestamp64Micro(occurred_at) AS occurred_at, toUnixTimestamp64Micro(received_at) AS received_at
FROM event_log ORDER BY kafka_offset"""


def expected_row(record: dict, key: str, partition: int, offset: int) -> dict:
    order, refund, email = record["order"], record["refund"], record["email"]
    ticket, survey, loyalty = record["ticket"], record["survey"], record["loyalty"]
    campaign = record["context"]["campaign"] or {}
    return {
        "event_id": record["event_id"], "type": record["type"], "name": record["name"] or "",
        "channel": record["source"]["channel"], "connector": record["source"]["connector"],
        "occurred_at": record["occurred_at"], "received_at": record["received_at"],
        "order_id": (order and order["order_id"]) or (refund and refund["order_id"]) or "",
        "order_total_minor": order["total"]["amount_minor"] if order else 0,
        "refund_minor": refund["amount"]["amount_minor"] if refund else 0,
        "currency": order["total"]["currency"] if order else refund["amount"]["currency"] if refund else "",
        "campaign_id": (email and email["campaign_id"]) or campaign.get("name") or "",
        "utm_source": campaign.get("source") or "", "utm_medium": campaign.get("medium") or "",
        "ticket_id": ticket["ticket_id"] if ticket else "",
        "survey_kind": survey["kind"] if survey else "", "survey_score": survey["score"] if survey else None,
        "loyalty_points": loyalty["points"] if loyalty else 0,
        "locale": record["context"]["locale"] or "", "properties": record["properties"],
        "customer_key": key, "kafka_partition": partition, "kafka_offset": offset,
    }


@pytest.fixture
def backend(tmp_path):
    opened = ChdbBackend(tmp_path / "chdb")
    apply_migrations(opened)
    yield opened
    opened.close()


@pytest.fixture
def records() -> list[dict]:
    return list(example_records().values()) + population(40)


def insert(backend, records: list[dict]) -> list[tuple[str, int, int]]:
    codec, writer = InteractionCodec(), ContainerWriter(current_schema())
    where = [(f"key-{i % 7}", i % 3, 10**12 + i) for i in range(len(records))]
    rows = [writer.row(k.encode(), p, o, codec.encode(r)) for (k, p, o), r in zip(where, records)]
    backend.insert_avro(event_log_insert(current_schema()), writer.container(rows), INSERT_SETTINGS)
    return where


def test_every_column_equals_the_value_computed_in_python(backend, records):
    where = insert(backend, records)
    types = {r["type"] for r in records}
    assert {"order_placed", "order_refunded", "email_clicked", "survey_answered", "ticket_opened"} <= types
    rows = backend.query(QUERY).as_dicts()
    assert rows == [expected_row(r, *w) for r, w in zip(records, where)]


def test_no_personal_value_reaches_the_table(backend, records):
    insert(backend, records)
    cells = {str(v) for row in backend.query("SELECT * FROM event_log").rows for v in row}
    for record in records:
        for path, _ in pii_fields():
            value = record
            for part in path.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            for secret in _strings(value):
                assert not any(secret in cell for cell in cells), f"{path} value leaked into event_log"


def _strings(value) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    return [value] if isinstance(value, str) and len(value) > 3 else []
