"""Live segments on the real stack: for a known population, the membership in Redis and
the records on ``<prefix>.segments`` equal a Python evaluation of the ground truth, for
segments defined before and after the events, when time passes with no event, after a
delete, and through SIGKILLed workers (no double enter or leave)."""

from __future__ import annotations

import signal
import time
from collections import defaultdict

import orjson
import pytest
from redis import Redis

from panorama.clock import now_us
from panorama.settings import Settings
from streams.identity.nodes import NodeNamer
from streams.profiles.fold import fold
from streams.segments.live import evaluate_customer
from streams.segments.store import SegmentStore
from streams.signals.rules import DAY_US, SignalRules
from tests.integration.kafka_reader import read_topic
from tests.integration.streams.population import (
    START_US, interleaved, population, wait_until_caught_up, wait_until_signals_settled, worker_thread,
)
from tests.integration.streams.test_profiles import _stored_total, _worker_process, produce

pytestmark = pytest.mark.integration

BUYERS = {"field": "orders", "op": ">=", "value": 2}
LAPSED = {"all": [{"field": "lifecycle.stage", "op": "in", "value": ["at_risk", "churned"]},
                  {"field": "orders", "op": ">=", "value": 1}]}
QUIET = {"field": "last_seen", "op": "older_than_days", "value": 150}
EMAIL_READERS = {"any": [{"field": "events_by_type.email_opened", "op": ">=", "value": 1},
                         {"field": "events_by_channel.email", "op": ">=", "value": 3}]}


def _store(settings: Settings) -> SegmentStore:
    return SegmentStore(Redis.from_url(settings.redis_address), settings.topic_prefix, settings.interactions_partitions)


def _expected(store: SegmentStore, customers, now: int) -> dict[str, set[str]]:
    """segment id -> customer ids, from the simulation's own events and the pure rules."""
    live = store.list()
    members: dict[str, set[str]] = {s.id: set() for s in live}
    for customer_id, events in customers.items():
        for segment in evaluate_customer(customer_id, fold(events), now, SignalRules(), live).segments:
            members[segment].add(customer_id)
    return members


def _ground_truth(settings: Settings, population_) -> dict[str, list[dict]]:
    namer = NodeNamer(settings.routing_key_secret.get_secret_value().encode())
    return {namer.node("user_id", c.user_id): c.events for c in population_}


def _stored_members(store: SegmentStore) -> dict[str, set[str]]:
    return {s.id: set(store.members(s.id, 100_000)) for s in store.list()}


def _segment_records(settings: Settings) -> dict[tuple[str, str], list[dict]]:
    """(segment, customer) -> its records by version; asserts a redelivery is identical."""
    by_id: dict[str, dict] = {}
    for msg in read_topic(settings, settings.topics.segments):
        record = orjson.loads(msg.value())
        assert by_id.setdefault(record["id"], record) == record, "one id, two contents"
        assert msg.key().decode() == record["customer_id"]
    found: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for record in by_id.values():
        found[(record["segment_id"], record["customer_id"])].append(record)
    for key, records in found.items():
        records.sort(key=lambda r: r["version"])
        assert [r["version"] for r in records] == list(range(1, len(records) + 1)), key
        assert [r["is_member"] for r in records] == [n % 2 == 0 for n in range(len(records))], \
            f"{key}: entered twice without leaving (or left without entering)"
    return found


def _members_from_records(records: dict[tuple[str, str], list[dict]]) -> dict[str, set[str]]:
    members: dict[str, set[str]] = defaultdict(set)
    for (segment, customer), found in records.items():
        if found[-1]["is_member"]:
            members[segment].add(customer)
    return members


def _assert_live_state(settings: Settings, store: SegmentStore, truth: dict[str, list[dict]], now: int) -> None:
    expected = _expected(store, truth, now)
    assert _stored_members(store) == expected
    from_records = _members_from_records(_segment_records(settings))
    assert {s: from_records.get(s, set()) for s in expected} == expected


def test_membership_and_records_equal_the_rules_on_ground_truth(settings):
    customers = population(70, seed=31)
    truth = _ground_truth(settings, customers)
    store = _store(settings)
    clock = [START_US + 366 * DAY_US]  # the simulation spans a year from START_US
    store.save("buyers", BUYERS, "two orders or more", clock[0])  # before any event
    produce(settings, interleaved(customers, seed=32))
    with worker_thread(settings, signal_debounce_s=0, clock=lambda: clock[0]):
        wait_until_caught_up(settings)
        wait_until_signals_settled(settings, clock[0])
        _assert_live_state(settings, store, truth, clock[0])
        store.save("lapsed", LAPSED, "", clock[0])  # after the events: a backfill evaluates everyone
        store.save("quiet", QUIET, "", clock[0])
        wait_until_signals_settled(settings, clock[0])
        _assert_live_state(settings, store, truth, clock[0])
        before = {s: len(m) for s, m in _stored_members(store).items()}
        clock[0] += 200 * DAY_US  # no event: only the timers can move lapsed and quiet
        wait_until_signals_settled(settings, clock[0])
        _assert_live_state(settings, store, truth, clock[0])
        after = {s: len(m) for s, m in _stored_members(store).items()}
        assert after["buyers"] == before["buyers"] > 0
        assert after["lapsed"] > before["lapsed"] and after["quiet"] > before["quiet"]
        store.delete("buyers", clock[0])
        wait_until_signals_settled(settings, clock[0])
    records = _segment_records(settings)
    assert store.size("buyers") == 0 and not _members_from_records(records).get("buyers")
    assert {s.id for s in store.list()} == {"lapsed", "quiet"}
    _assert_profile_records(settings, truth, clock[0])


def _assert_profile_records(settings: Settings, truth: dict[str, list[dict]], now: int) -> set[str]:
    """The newest profile record of each customer is its ground truth; a provisional
    customer that a link merged into another ends with ``deleted``. Returns those."""
    profiles = defaultdict(list)
    for msg in read_topic(settings, settings.topics.profiles):
        record = orjson.loads(msg.value())
        profiles[record["customer_id"]].append(record)
    for customer_id, events in truth.items():
        latest = max(profiles[customer_id], key=lambda r: r["version"])
        expected = evaluate_customer(customer_id, fold(events), now, SignalRules(), []).profile
        assert {k: latest[k] for k in expected} == expected
    stitched_away = set(profiles) - set(truth)
    assert all(max(profiles[c], key=lambda r: r["version"])["deleted"] for c in stitched_away)
    return stitched_away


def test_a_worker_killed_mid_stream_enters_and_leaves_each_segment_once(settings):
    customers = population(300, seed=33)
    truth = _ground_truth(settings, customers)
    store = _store(settings)
    store.save("buyers", BUYERS, "", now_us())
    store.save("email-readers", EMAIL_READERS, "", now_us())
    events = interleaved(customers, seed=34)
    produce(settings, events)
    for _ in range(3):
        before = _stored_total(settings)
        worker = _worker_process(settings)
        deadline = time.monotonic() + 60
        while _stored_total(settings) < before + 300:  # a few batches with their sweeps, then kill it
            assert time.monotonic() < deadline, "the worker made no progress"
            time.sleep(0.005)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    assert _stored_total(settings) < len(events), "not killed mid-stream"
    worker = _worker_process(settings)
    try:
        wait_until_caught_up(settings, timeout=180)
        wait_until_signals_settled(settings, now_us() + 2 * 1_000_000)
    finally:
        worker.terminate()
        worker.wait(30)
    # membership rules here do not depend on time: the ground truth holds at any instant
    now = now_us()
    _assert_live_state(settings, store, truth, now)
    assert _assert_profile_records(settings, truth, now), "no provisional customer was merged: retiring untested"
