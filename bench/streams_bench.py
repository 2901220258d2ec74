"""Profile building: the worker's events/s (decode, route, fold, Redis transaction with
its position) beside a bare confluent-kafka consumer that only decodes the same topic,
and the pure fold's own events/s (no I/O) to show what the engine around it costs.

The faust ceiling (the issue's other baseline) needs faust, which Panorama does not
depend on: run ``bench/faust_ceiling.py`` under an interpreter that has it (see
streams/README.md for the figures measured on this machine).
"""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer

from bench.report import Figure, rate
from connectors.demo import generate_population
from panorama.settings import Settings
from panorama.stack.topics import ensure_topics
from producers import InteractionProducer
from schemas.codec import InteractionCodec
from streams.identity.nodes import NodeNamer
from streams.profiles.fold import Partial, apply
from streams.worker import ProfileWorker


def _events(count: int) -> list[dict]:
    """The demo mix with fresh event ids, cycled to ``count`` (3,000 customers)."""
    templates = list(generate_population(3000, seed=13))
    return [templates[i % len(templates)] | {"event_id": str(uuid.uuid4())} for i in range(count)]


def _fold_rate(events: list[dict], secret: bytes) -> float:
    namer = NodeNamer(secret)
    partials: dict[str, Partial] = {}

    def fold_all():
        for event in events:
            node = namer.routing_node(event["identities"])
            partial = partials.get(node)
            if partial is None:
                partial = partials[node] = Partial()
            apply(partial, event)

    return rate(len(events), fold_all)


def _steady_rate(count: int, consume_one_batch) -> float:
    """events/s from the end of the first non-empty batch (group join and fetch warm-up
    excluded) until ``count`` events were handled."""
    handled, started, first = 0, 0.0, 0
    while handled < count:
        n = consume_one_batch()
        if n and not started:
            started, first = time.perf_counter(), n
        handled += n
    return (handled - first) / (time.perf_counter() - started)


def _bare_consumer_rate(settings: Settings, count: int) -> float:
    codec = InteractionCodec()
    consumer = Consumer({"bootstrap.servers": settings.kafka_address, "group.id": f"bench-{uuid.uuid4()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([settings.topics.interactions])

    def batch() -> int:
        messages = consumer.consume(5000, 0.05)
        for msg in messages:
            codec.decode(msg.value())
        return len(messages)

    try:
        return _steady_rate(count, batch)
    finally:
        consumer.close()


def _worker_rate(settings: Settings, count: int) -> float:
    worker = ProfileWorker(settings)
    marks: list[tuple[float, int]] = []

    def should_stop() -> bool:
        if worker.stats.events and len(marks) < 2:
            marks[:1] = [marks[0] if marks else (time.perf_counter(), worker.stats.events)]
        if worker.stats.events >= count:
            marks.append((time.perf_counter(), worker.stats.events))
            return True
        return False

    worker.run(should_stop)
    (t0, n0), (t1, n1) = marks[0], marks[-1]
    return (n1 - n0) / (t1 - t0)


def run(settings: Settings, events: int = 200_000) -> list[Figure]:
    settings = settings.model_copy(update={"topic_prefix": f"bench{uuid.uuid4().hex[:8]}"})
    ensure_topics(settings)
    records = _events(events)
    with InteractionProducer(settings) as producer:
        for record in records:
            producer.send(record)
    secret = settings.routing_key_secret.get_secret_value().encode()
    fold = _fold_rate(records, secret)
    bare = _bare_consumer_rate(settings, events)
    worker = _worker_rate(settings, events)
    note = f"{events:,} demo-mix events, {settings.interactions_partitions} partitions"
    return [
        Figure("profile worker: events folded and stored (1 worker)", worker, "ev/s",
               "bare consumer, decode only", bare, note),
        Figure("profile fold, pure (route + apply, no I/O)", fold, "ev/s", note="one core"),
    ]
