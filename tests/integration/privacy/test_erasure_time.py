"""One erasure rule for every reader: an event the platform received before a forget is
erased, whenever it reached Kafka; one received after it is kept. Real Kafka and Redis."""

from __future__ import annotations

import uuid

import pytest

from panorama.clock import now_us
from panorama.privacy.hooks import Opener
from panorama.privacy.keystore import KeyStore
from producers import InteractionProducer
from schemas.codec import InteractionCodec
from schemas.examples import example_records
from tests.integration.kafka_reader import read_topic

pytestmark = pytest.mark.integration


def test_the_sink_filter_and_the_worker_agree_on_received_at(settings):
    forget_at = now_us()
    user = f"u-{uuid.uuid4().hex[:8]}"
    track = example_records()["track"]
    context = {k: v for k, v in track["context"].items() if k != "ip"}
    base = track | {"identities": {"user_id": user}, "context": context}  # no personal field: none is shredded
    before = base | {"event_id": str(uuid.uuid4()), "received_at": forget_at - 10_000_000}
    after = base | {"event_id": str(uuid.uuid4()), "received_at": forget_at + 10_000_000}
    with InteractionProducer(settings) as producer:
        encoded = [producer.encode(before), producer.encode(after)]  # accepted before the forget...
        subject = encoded[0][1].decode()
        KeyStore.from_settings(settings).forget([subject], forget_at)
        for value, key in encoded:  # ...and reaching Kafka after it (a retried delivery)
            producer.send_encoded(value, key)
        producer.flush(30)
    messages = read_topic(settings, settings.topics.interactions)
    assert all(m.timestamp()[1] * 1000 > forget_at for m in messages)  # Kafka time alone would keep both

    opener = Opener(settings)
    kept_by_sink = [InteractionCodec().decode(m.value())["event_id"] for m in opener.not_erased(messages)]
    opened = opener.open_batch([(InteractionCodec().decode(m.value()), m.key()) for m in messages])
    kept_by_worker = [record["event_id"] for _, record in opened.records]
    assert kept_by_sink == kept_by_worker == [after["event_id"]]
    assert opened.erased == 1
