"""What the sink does with messages that are not of the current schema: an older known
version lands upcast, an unknown fingerprint or a corrupt body stops it, naming where."""

from __future__ import annotations

import copy
import os

import pytest
from confluent_kafka import Producer

from panorama.errors import ProjectionError
from projections.sink import EventsSink
from schemas.codec import MARKER, InteractionCodec
from schemas.contract import SchemaVersion, schema_versions
from tests.integration.projections.population import population

pytestmark = pytest.mark.integration


def produce_raw(settings, messages: list[tuple[bytes, bytes]]) -> None:
    producer = Producer({"bootstrap.servers": settings.kafka_address})
    for key, value in messages:
        producer.produce(settings.topics.interactions, value, key, partition=0)
    assert producer.flush(30) == 0


def older_version() -> SchemaVersion:
    """The current schema without ``properties``: the current one adds it with default '{}'."""
    current = schema_versions()[-1]
    schema = copy.deepcopy(current.schema)
    schema["fields"] = [f for f in schema["fields"] if f["name"] != "properties"]
    return SchemaVersion(current.version - 1, schema)


def test_an_older_version_lands_with_the_current_schemas_defaults(store_settings, store):
    old, current = older_version(), schema_versions()[-1]
    records = population(30)
    for r in records[::2]:
        r["properties"] = '{"plan": "gold"}'
    old_codec, current_codec = InteractionCodec([old]), InteractionCodec()
    messages = [(b"k-old", old_codec.encode(r)) if i % 2 else (b"k-new", current_codec.encode(r))
                for i, r in enumerate(records)]
    produce_raw(store_settings, messages)
    stats = EventsSink(store_settings, store, versions=[old, current]).run(until_caught_up=True)
    assert stats.events == len(records)
    rows = store.query("SELECT toString(event_id), properties, customer_key, type FROM events").rows
    landed = {event_id: (props, key, type_) for event_id, props, key, type_ in rows}
    for i, r in enumerate(records):
        expected_props = "{}" if i % 2 else r["properties"]
        assert landed[r["event_id"]] == (expected_props, "k-old" if i % 2 else "k-new", r["type"])


@pytest.mark.parametrize("damage", ["unknown fingerprint", "truncated body"])
def test_a_message_that_cannot_be_decoded_stops_the_sink_naming_it(store_settings, store, damage):
    codec = InteractionCodec()
    good = [codec.encode(r) for r in population(5)]
    bad = MARKER + os.urandom(8) + good[0][10:] if damage == "unknown fingerprint" else good[1][:-7]
    produce_raw(store_settings, [(b"k", v) for v in (*good[:3], bad, *good[3:])])
    with pytest.raises(ProjectionError, match=rf"{store_settings.topics.interactions}\[0\]@3"):
        EventsSink(store_settings, store).run(until_caught_up=True)
    assert store.query("SELECT count() FROM event_log").scalar() == 0, "nothing of the batch may land"
