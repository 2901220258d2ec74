"""Reading the interaction log back: the last events of each partition, decoded.

Personal fields are masked by default; ``--show-pii`` opens them with the key store (a
forgotten customer's fields stay shredded) and is recorded in the audit log.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from confluent_kafka import Consumer, Message, TopicPartition

from panorama.kafka_config import client_config
from panorama.settings import Settings
from schemas.codec import InteractionCodec
from schemas.contract import pii_fields

MASK = "***"


def watermarks(settings: Settings, topic: str) -> dict[int, tuple[int, int]]:
    """(low, high) watermark of each partition of ``topic`` now: the first offset still
    held and the offset after the last message."""
    probe = Consumer(client_config(settings) | {"group.id": f"cdp-watermarks-{uuid.uuid4()}", "enable.auto.commit": False})
    try:
        partitions = probe.list_topics(topic, timeout=10).topics[topic].partitions
        return {p: probe.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in partitions}
    finally:
        probe.close()


def read_log(settings: Settings, topic: str, start: Callable[[int, int], int]) -> Iterator[Message]:
    """Every message of ``topic`` from ``start(low, high)`` of each partition up to its high
    watermark at call time, partition by partition in offset order."""
    consumer = Consumer(client_config(settings) | {"group.id": f"cdp-reader-{uuid.uuid4()}", "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        assignment, ends = [], {}
        for p in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high > low:
                assignment.append(TopicPartition(topic, p, max(low, start(low, high))))
                ends[p] = high
        consumer.assign(assignment)
        while ends:
            msg = consumer.poll(5)
            if msg is None:
                break
            if msg.error():
                continue
            if msg.offset() + 1 >= ends.get(msg.partition(), 0):
                ends.pop(msg.partition(), None)
            yield msg
    finally:
        consumer.close()


def latest_events(settings: Settings, per_partition: int, mask_pii_fields: bool = True) -> Iterator[dict]:
    """Yield up to ``per_partition`` newest records of every partition, oldest first."""
    codec = InteractionCodec()
    messages = read_log(settings, settings.topics.interactions, lambda low, high: high - per_partition)
    if mask_pii_fields:
        for msg in messages:
            yield readable(mask_pii(codec.decode(msg.value())))
        return
    from panorama.security.cli import cli_actor
    from panorama.privacy.hooks import Opener
    from panorama.security.audit import AuditLog

    with AuditLog(settings) as audit:
        audit.record(cli_actor(), "log.read_personal", None, "cdp tail --show-pii",
                     details={"topic": settings.topics.interactions, "per_partition": per_partition})
    opener = Opener(settings)
    for msg in messages:
        opened = opener.open_batch([(codec.decode(msg.value()), msg.key())])
        for _, record in opened.records:
            yield readable(record)


def readable(record: dict) -> dict:
    """For people: empty fields dropped, timestamps as ISO-8601 UTC."""
    out = _drop_empty(record)
    for field in ("occurred_at", "received_at"):
        out[field] = datetime.fromtimestamp(record[field] / 1e6, UTC).isoformat()
    return out


def _drop_empty(value):
    if isinstance(value, dict):
        kept = {k: _drop_empty(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, {}, [], "{}")}
    if isinstance(value, list):
        return [_drop_empty(v) for v in value]
    return value


def mask_pii(record: dict) -> dict:
    """A copy of ``record`` with every field tagged personal in the schema masked."""
    return _mask(record, "", frozenset(path for path, _ in pii_fields()))


def _mask(value, prefix: str, paths: frozenset[str]):
    if isinstance(value, dict):
        return {
            k: (MASK if v is not None and f"{prefix}{k}" in paths else _mask(v, f"{prefix}{k}.", paths))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_mask(v, prefix, paths) for v in value]
    return value
