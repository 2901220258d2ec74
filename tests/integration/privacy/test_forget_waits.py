"""Forget waits for the consumers to read past it, but not for a group nobody consumes in:
a local sink that ran until it caught up and stopped would never move. Real Kafka."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Consumer, TopicPartition

from panorama.kafka_config import client_config
from panorama.log_reader import watermarks
from panorama.privacy.forget import wait_for_consumers
from producers import InteractionProducer
from schemas.examples import example_records

pytestmark = pytest.mark.integration


def _commit(settings, suffix: str, offsets: dict[int, int]) -> None:
    group = Consumer(client_config(settings) | {"group.id": settings.topic_prefix + suffix, "enable.auto.commit": False})
    try:
        group.commit(offsets=[TopicPartition(settings.topics.interactions, p, o) for p, o in offsets.items()],
                     asynchronous=False)
    finally:
        group.close()


def test_a_group_nobody_consumes_in_is_reported_behind_at_once(settings):
    track = example_records()["track"]
    with InteractionProducer(settings) as producer:
        assert producer.send_and_wait([track | {"event_id": str(uuid.uuid4())} for _ in range(50)], timeout=60).ok
    ends = {p: high for p, (_low, high) in watermarks(settings, settings.topics.interactions).items()}
    _commit(settings, ".profile-builder", ends)  # caught up
    _commit(settings, ".projections.events", {p: 0 for p in ends})  # stopped at the start
    started = time.monotonic()
    behind = wait_for_consumers(settings, timeout=60)
    assert behind == [settings.topic_prefix + ".projections.events"]
    assert time.monotonic() - started < 20  # not the whole timeout
