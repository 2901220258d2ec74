"""Producer throughput: canonical events (validate + encode + key + produce + wait for
acks) beside a raw confluent-kafka producer sending the same pre-encoded bytes.

Two workloads: the demo population's realistic mix, and full records (every field of the
envelope filled, the encoder's worst case)."""

from __future__ import annotations

import uuid

from confluent_kafka import Producer

from bench.report import Figure, rate
from connectors.demo import generate_population
from panorama.settings import Settings
from producers import InteractionProducer
from producers.producer import producer_config
from schemas.codec import InteractionCodec
from schemas.examples import example_records
from schemas.validation import validate


def full_records(distinct: int = 20_000) -> list[dict]:
    """Every canonical type with every field filled, over 5,000 customers."""
    templates = list(example_records().values())
    records = []
    for i in range(distinct):
        record = dict(templates[i % len(templates)])
        record["event_id"] = str(uuid.uuid4())
        record["identities"] = dict(record["identities"], user_id=f"user-{i % 5000}")
        records.append(record)
    return records


def _raw_rate(settings: Settings, encoded: list[tuple[bytes, bytes]], events: int) -> float:
    raw = Producer(producer_config(settings))
    topic, n = settings.topics.interactions, len(encoded)

    def produce():
        for i in range(events):
            value, key = encoded[i % n]
            while True:
                try:
                    raw.produce(topic, value, key)
                    break
                except BufferError:  # the same back-pressure the producer applies
                    raw.poll(0.05)
            if i % 1000 == 0:
                raw.poll(0)
        if raw.flush(120):
            raise RuntimeError("raw baseline: messages left undelivered")

    try:
        return rate(events, produce)
    finally:
        raw.close()  # a live handle reconnects to the broker after the bench's stack stopped


def _panorama_rate(settings: Settings, records: list[dict], events: int) -> float:
    producer = InteractionProducer(settings)
    n = len(records)

    def produce():
        for i in range(events):
            producer.send(records[i % n])
        producer.flush(120)

    try:
        return rate(events, produce)
    finally:
        producer.close()


def _workload(settings: Settings, label: str, records: list[dict], events: int) -> list[Figure]:
    codec = InteractionCodec()
    n = len(records)
    encode_rate = rate(events, lambda: [codec.encode(records[i % n]) for i in range(events)])
    validate_rate = rate(events, lambda: [validate(records[i % n]) for i in range(events)])
    with InteractionProducer(settings) as encoder:
        encoded = [encoder.encode(r) for r in records]
    raw = _raw_rate(settings, encoded, events)
    ours = _panorama_rate(settings, records, events)
    size = sum(len(v) for v, _ in encoded) / n
    return [
        Figure(f"producer, {label}: events to acks", ours, "ev/s", "raw confluent-kafka, pre-encoded", raw,
               f"{events:,} events, {size:.0f} B avg"),
        Figure(f"encode, {label} (single-object Avro)", encode_rate, "ev/s", note="one core, no I/O"),
        Figure(f"validate, {label}", validate_rate, "ev/s", note="one core, no I/O"),
    ]


def run(settings: Settings, events: int) -> list[Figure]:
    demo = list(generate_population(2000, seed=11))
    return _workload(settings, "demo mix", demo, events) + _workload(settings, "full records", full_records(), events // 2)
