"""Read a whole topic back (tests only): every message from the beginning up to the
high watermark at call time."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, Message, TopicPartition

from panorama.settings import Settings


def read_topic(settings: Settings, topic: str, timeout: float = 30.0) -> list[Message]:
    consumer = Consumer({
        "bootstrap.servers": settings.kafka_address,
        "group.id": f"test-reader-{uuid.uuid4()}",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
    })
    try:
        parts = consumer.list_topics(topic, timeout=timeout).topics[topic].partitions
        ends = {}
        for p in parts:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)
            if high > low:
                ends[p] = high
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        messages: list[Message] = []
        deadline = time.monotonic() + timeout
        while ends:
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out reading {topic}; still waiting on partitions {sorted(ends)}")
            for msg in consumer.consume(10_000, 0.2):
                assert msg.error() is None, msg.error()
                messages.append(msg)
                if msg.offset() + 1 >= ends.get(msg.partition(), 0):
                    ends.pop(msg.partition(), None)
        return messages
    finally:
        consumer.close()
