"""Conservation under bad input: every event sent is accepted, dead-lettered with a reason,
or refused with a 4xx, and Kafka holds exactly the accepted and dead-lettered ones.

20,000 events here (a test-suite size); `make soak` runs the same check with 1,000,000.
"""

from __future__ import annotations

import hashlib
import os
import random
import uuid
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest

from tests.integration.connectors.readback import dead_letters
from tests.integration.kafka_reader import read_topic

pytestmark = pytest.mark.integration

EVENTS = int(os.environ.get("CDP_CONSERVATION_EVENTS", "20000"))
BATCH = 100
MALFORMED_SHARE = 0.05
BROKEN_REQUEST_SHARE = 0.02  # whole requests that are not JSON: every event in them is refused with a 4xx


def malformed(rng: random.Random) -> object:
    return rng.choice([
        {"type": "track", "event": "No Identity"},
        {"type": "track", "userId": "u", "event": "Future", "timestamp": "2999-01-01T00:00:00Z"},
        {"type": "track", "userId": "u", "event": "Bad Time", "timestamp": "not a time"},
        {"type": "track", "userId": "u", "event": "Huge", "properties": {"blob": "x" * 33_000}},
        {"type": "teleport", "userId": "u"},
        {"type": "group", "userId": "u"},
        ["not", "an", "object"],
    ])


def well_formed(rng: random.Random, n: int) -> dict:
    return {"type": "track", "userId": f"user-{rng.randrange(5000)}", "event": "Product Viewed",
            "messageId": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "properties": {"sku": f"SKU-{n % 97}"}}


def test_accepted_plus_dead_lettered_plus_refused_equals_sent(collector, settings):
    rng = random.Random(20)
    bodies = []
    for start in range(0, EVENTS, BATCH):
        batch = [malformed(rng) if rng.random() < MALFORMED_SHARE else well_formed(rng, start + i) for i in range(BATCH)]
        body = orjson.dumps({"batch": batch})
        bodies.append((body[:-7] if rng.random() < BROKEN_REQUEST_SHARE else body, len(batch)))

    def send(item):
        body, count = item
        r = collector.post("/v1/batch", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code < 500, r.text
        if r.status_code != 200:
            return 0, 0, count
        dead = len(r.json().get("dead_lettered", []))
        return count - dead, dead, 0

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(send, bodies))
    accepted, dead, refused = (sum(column) for column in zip(*results))
    assert accepted + dead + refused == EVENTS
    assert dead > 0.03 * EVENTS and refused > 0
    # raw messages: a million decoded records would not fit the soak run's memory
    stored = read_topic(settings, settings.topics.interactions, timeout=300)
    assert len(stored) == accepted and len({hashlib.blake2b(m.value()).digest() for m in stored}) == accepted
    dlq = dead_letters(settings)
    assert len(dlq) == dead
    assert all(d["reason"] and d["problem"] and (d.get("sealed") or d.get("redacted")) is not None for d in dlq)
