"""The producer against the real broker: byte-exact round trips of every canonical type,
the DLQ with readable reasons, acknowledged means durable."""

from __future__ import annotations

import json
import time

import pytest
from redis import Redis

from producers import InteractionProducer
from panorama.privacy.crypto import parse, unseal
from panorama.privacy.hooks import DLQ_PATH, Opener
from panorama.privacy.keystore import KeyStore
from producers.dead_letter import read_dead_letter, redacted
from schemas.codec import InteractionCodec
from schemas.examples import example_records
from tests.integration.kafka_reader import read_topic

pytestmark = pytest.mark.integration


def test_every_canonical_type_round_trips_byte_exact(settings):
    records = example_records()
    codec = InteractionCodec()
    with InteractionProducer(settings) as producer:
        result = producer.send_and_wait(list(records.values()))
    assert result.ok and not result.rejected
    assert len(result.accepted) == len(records)

    messages = read_topic(settings, settings.topics.interactions)
    by_id = {codec.decode(m.value())["event_id"]: m for m in messages}
    assert len(messages) == len(records)
    opener = Opener(settings)
    for record in records.values():
        msg = by_id[record["event_id"]]
        assert b"ana.martins" not in msg.value()  # personal fields are sealed in the log ...
        [(_, opened)] = opener.open_batch([(codec.decode(msg.value()), msg.key())]).records
        assert opened == record and codec.encode(opened) == codec.encode(record)  # ... and open exactly
        assert msg.key() == producer.keys.for_identities(record["identities"])


def test_events_of_one_customer_share_a_partition_in_order(settings):
    base = example_records()["track"]
    events = [base | {"event_id": f"00000000-0000-4000-8000-{i:012d}"} for i in range(200)]
    with InteractionProducer(settings) as producer:
        assert producer.send_and_wait(events).ok
    messages = read_topic(settings, settings.topics.interactions)
    assert len({m.partition() for m in messages}) == 1
    codec = InteractionCodec()
    assert [codec.decode(m.value())["event_id"] for m in messages] == [e["event_id"] for e in events]


def test_invalid_events_land_in_the_dlq_with_a_readable_reason(settings):
    good = example_records()["order_placed"]
    bad = [
        "not an object",
        good | {"event_id": "not-a-uuid"},
        good | {"identities": {k: None for k in good["identities"]} | {"external_ids": {}}},
        good | {"type": "no_such_type"},
        good | {"order": None},
        good | {"occurred_at": "yesterday"},
        {"type": "track"},
    ]
    with InteractionProducer(settings) as producer:
        result = producer.send_and_wait([good, *bad])
    assert list(result.accepted) == [0]
    assert sorted(result.rejected) == list(range(1, len(bad) + 1))

    dlq = [read_dead_letter(m.value()) for m in read_topic(settings, settings.topics.dlq)]
    assert len(dlq) == len(bad)
    assert all(e["reason"] and e["field"] and e["problem"] for e in dlq)
    # the original is sealed under its routing identity's data key when it has one, else only its shape is kept
    keystore = KeyStore.from_settings(settings)

    def original(entry: dict):
        if "sealed" not in entry:
            return entry["redacted"]
        header = parse(entry["sealed"], DLQ_PATH)
        return json.loads(unseal(keystore.existing_key(header.subject), header, DLQ_PATH))["payload"]

    def expected(b):
        return b if isinstance(b, dict) and any((b.get("identities") or {}).values()) else redacted(b)

    assert sorted(json.dumps(original(e), sort_keys=True) for e in dlq) == sorted(json.dumps(expected(b), sort_keys=True) for b in bad)
    reasons = {e["reason"] for e in dlq}
    assert {"malformed", "invalid_uuid", "missing_identity", "unknown_type", "missing_payload"} <= reasons
    assert len(read_topic(settings, settings.topics.interactions)) == 1


def test_leaving_the_block_closes_the_key_store_connection(settings):
    with InteractionProducer(settings) as producer:
        assert producer.send_and_wait([example_records()["track"]]).ok
        client_id = producer.privacy.keystore.redis.client_id()
    observer = Redis.from_url(settings.redis_address)
    deadline = time.monotonic() + 5
    while observer.client_list(client_id=[client_id]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert observer.client_list(client_id=[client_id]) == []
    observer.close()
