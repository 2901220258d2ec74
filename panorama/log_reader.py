"""Reading the interaction log back: the last events of each partition, decoded."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from collections.abc import Iterator

from confluent_kafka import Consumer, TopicPartition

from panorama.settings import Settings
from schemas.codec import InteractionCodec
from schemas.contract import pii_fields

MASK = "***"


def latest_events(settings: Settings, per_partition: int, mask_pii_fields: bool = True) -> Iterator[dict]:
    """Yield up to ``per_partition`` newest records of every partition, oldest first."""
    codec = InteractionCodec()
    consumer = Consumer({
        "bootstrap.servers": settings.kafka_address,
        "group.id": f"cdp-tail-{uuid.uuid4()}",
        "enable.auto.commit": False,
    })
    try:
        topic = settings.topics.interactions
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        assignment, ends = [], {}
        for p in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high > low:
                assignment.append(TopicPartition(topic, p, max(low, high - per_partition)))
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
            record = codec.decode(msg.value())
            yield readable(mask_pii(record) if mask_pii_fields else record)
    finally:
        consumer.close()


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
