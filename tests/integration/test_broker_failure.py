"""Acknowledged means durable: SIGKILL the broker in the middle of production, restart
it, and find every event the producer saw acknowledged exactly once in the log."""

from __future__ import annotations

import signal
import time
import uuid

import pytest

from panorama.errors import BackpressureTimeout, ProducerError
from panorama.stack.ephemeral import private_settings
from panorama.stack.kafka import LocalKafka
from panorama.stack.topics import ensure_topics
from producers import InteractionProducer
from schemas.codec import InteractionCodec
from schemas.examples import example_records
from tests.integration.kafka_reader import read_topic

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOTAL = 30_000


def numbered_events(n: int):
    templates = list(example_records().values())
    for i in range(n):
        record = dict(templates[i % len(templates)])
        record["event_id"] = str(uuid.UUID(int=i + 1, version=4))
        identities = dict(record["identities"])
        identities["user_id"] = f"user-{i % 500}"
        record["identities"] = identities
        yield record


def test_broker_kill_and_restart_loses_nothing_acknowledged(tmp_path, stack):
    settings = private_settings(tmp_path / "data", interactions_partitions=3, producer_block_timeout_s=120,
                                redis_url=stack.redis_address)  # the key store of personal fields
    kafka = LocalKafka(settings)
    kafka.start()
    try:
        ensure_topics(settings)
        acked, failed = set(), []
        codec = InteractionCodec()

        def on_delivery(err, msg):
            if err is None:
                acked.add(codec.decode(msg.value())["event_id"])
            else:
                failed.append(err.str())

        producer = InteractionProducer(settings)
        for i, record in enumerate(numbered_events(TOTAL)):
            if i == TOTAL // 3:
                producer.poll(1)
                acked_before_kill = len(acked)
                kafka.process.stop(sig=signal.SIGKILL)
            if i == 2 * TOTAL // 3:
                kafka.start()
            producer.send(record, on_delivery=on_delivery)
        producer.flush(120)

        assert acked_before_kill > 0
        assert not failed
        ids = [codec.decode(m.value())["event_id"] for m in read_topic(settings, settings.topics.interactions)]
        assert len(ids) == len(set(ids)), "duplicates in the log"
        assert acked <= set(ids), f"{len(acked - set(ids))} acknowledged events lost"
        assert len(acked) == TOTAL
    finally:
        kafka.process.stop()


def test_full_queue_blocks_then_raises_instead_of_growing(tmp_path, stack):
    dead = private_settings(tmp_path / "d", producer_queue_max_messages=1000, producer_block_timeout_s=1.0,
                            redis_url=stack.redis_address)
    producer = InteractionProducer(dead)
    record = example_records()["track"]
    started = time.monotonic()
    with pytest.raises(BackpressureTimeout, match="stayed full"):
        for _ in range(5000):
            producer.send(record)
    assert 1.0 <= time.monotonic() - started < 10
    assert len(producer) <= 1000
    producer.close()
    assert len(producer) == 0 and producer.stats.failed >= 1


def test_flush_raises_when_delivery_fails(tmp_path, stack):
    dead = private_settings(tmp_path / "d", producer_delivery_timeout_ms=1000, redis_url=stack.redis_address)
    producer = InteractionProducer(dead)
    producer.send(example_records()["track"])
    with pytest.raises(ProducerError, match="failed delivery"):
        producer.flush(10)
    producer.close()
