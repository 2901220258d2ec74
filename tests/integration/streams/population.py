"""Ground truth for the stream tests, a worker in a thread, and waiting for the workers
to catch up (their stored positions at the end of every partition)."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from confluent_kafka import Consumer, TopicPartition
from redis import Redis

from connectors.demo import customer_events
from panorama.settings import Settings
from streams.profiles import ProfileReader
from streams.store import ProfileStore
from streams.worker import ProfileWorker

START_US = 1_750_000_000_000_000
SESSION_TIMEOUT_MS = 6000  # how long the group waits before it moves a stopped or killed worker's partitions


@dataclass
class Customer:
    """One simulated customer and every event the simulation made for them."""

    user_id: str
    events: list[dict]

    def identities(self) -> dict[str, list[str]]:
        found: dict[str, set[str]] = {}
        for event in self.events:
            for kind, value in event["identities"].items():
                if value and kind != "external_ids":
                    found.setdefault(kind, set()).add(value)
        return {kind: sorted(values) for kind, values in sorted(found.items())}

    def events_by_type(self) -> dict[str, int]:
        return dict(sorted(Counter(e["type"] for e in self.events).items()))

    def revenue(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for e in self.events:
            if e["type"] == "order_placed":
                total[e["order"]["total"]["currency"]] += e["order"]["total"]["amount_minor"]
        return dict(total)


def population(customers: int, seed: int) -> list[Customer]:
    """Customers of the demo simulation, each with its own events: which identities belong
    together is known from the simulation, not computed by Panorama."""
    rng = random.Random(seed)
    return [Customer(f"u-{n:06d}", list(customer_events(n, START_US, rng))) for n in range(customers)]


def interleaved(customers: list[Customer], seed: int) -> list[dict]:
    """Every event, shuffled across customers and within them (out of order on purpose)."""
    events = [e for c in customers for e in c.events]
    random.Random(seed).shuffle(events)
    return events


def assert_profiles_match(settings: Settings, customers: list[Customer]) -> None:
    reader = ProfileReader(Redis.from_url(settings.redis_address), settings)
    now = START_US + 400 * 86_400_000_000  # one instant for every read: the lifecycle depends on it
    for customer in customers:
        profile = reader.read(f"user_id:{customer.user_id}", now)
        assert profile["identities"] == customer.identities(), customer.user_id
        assert profile["events"] == len(customer.events), customer.user_id
        assert profile["events_by_type"] == customer.events_by_type(), customer.user_id
        assert profile["orders"]["revenue_minor"] == customer.revenue(), customer.user_id
        anonymous = customer.identities()["anonymous_id"][0]
        assert reader.read(f"anonymous_id:{anonymous}", now) == profile  # stitched both ways


def wait_until_caught_up(settings: Settings, timeout: float = 120.0) -> None:
    """Block until the stored position of every partition is the last offset in Kafka."""
    store = ProfileStore(Redis.from_url(settings.redis_address), settings.topic_prefix)
    topic = settings.topics.interactions
    probe = Consumer({"bootstrap.servers": settings.kafka_address, "group.id": "probe", "enable.auto.commit": False})
    try:
        partitions = probe.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {p: probe.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] - 1 for p in partitions}
    finally:
        probe.close()
    deadline = time.monotonic() + timeout
    while (behind := {p: (store.offset(topic, p), end) for p, end in ends.items() if store.offset(topic, p) < end}):
        if time.monotonic() > deadline:
            raise AssertionError(f"workers did not catch up in {timeout:.0f} s: (stored, end) by partition {behind}")
        time.sleep(0.2)


def wait_until_signals_settled(settings: Settings, now: int, timeout: float = 60.0) -> None:
    """Block until no partition has a customer due by ``now`` and every outbox is empty."""
    redis = Redis.from_url(settings.redis_address)
    keys = ProfileStore(redis, settings.topic_prefix).keys
    deadline = time.monotonic() + timeout
    while True:
        due = {p: redis.zcount(keys.due(p), "-inf", now) for p in range(settings.interactions_partitions)}
        pending = {p: redis.hlen(keys.outbox(p)) for p in range(settings.interactions_partitions)}
        if not any(due.values()) and not any(pending.values()):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"signals not settled in {timeout:.0f} s: due {due}, outbox {pending}")
        time.sleep(0.2)


def wait_for_assignment(settings: Settings, workers: list[ProfileWorker], timeout: float = 60.0) -> None:
    """Block until every worker owns at least one partition and together they own all."""
    deadline = time.monotonic() + timeout
    while not (all(w.partitions for w in workers)
               and sorted(p for w in workers for p in w.partitions) == list(range(settings.interactions_partitions))):
        if time.monotonic() > deadline:
            raise AssertionError(f"no balanced assignment in {timeout:.0f} s: {[w.partitions for w in workers]}")
        time.sleep(0.1)


@contextmanager
def worker_thread(settings: Settings, **options) -> Iterator[ProfileWorker]:
    worker = ProfileWorker(settings, session_timeout_ms=SESSION_TIMEOUT_MS, **options)
    stop = threading.Event()
    errors: list[BaseException] = []

    def run():
        try:
            worker.run(should_stop=stop.is_set)
        except BaseException as e:  # surfaced in the test below, not lost in the thread
            errors.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        stop.set()
        thread.join(30)
        if errors:
            raise errors[0]
