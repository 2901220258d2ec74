"""Lifecycle and churn-risk signals on the real stack: for a known population, the last
signal published for each customer is what the pure rules say about its ground truth,
timers fire when time passes with no new event, and every record is published once per
committed change (ids recognise a redelivery)."""

from __future__ import annotations

from collections import Counter

import orjson
import pytest

from panorama.settings import Settings
from streams.identity.nodes import NodeNamer
from streams.profiles.fold import fold
from streams.signals.rules import DAY_US, evaluate
from tests.integration.kafka_reader import read_topic
from tests.integration.streams.population import (
    START_US, interleaved, population, wait_until_caught_up, wait_until_signals_settled, worker_thread,
)
from tests.integration.streams.test_profiles import produce

pytestmark = pytest.mark.integration


def _latest_signals(settings: Settings) -> tuple[list[dict], dict[str, dict]]:
    records = [orjson.loads(m.value()) for m in read_topic(settings, settings.topics.signals)]
    latest: dict[str, dict] = {}
    for record in records:
        if record["seq"] > latest.get(record["customer_id"], {"seq": 0})["seq"]:
            latest[record["customer_id"]] = record
    return records, latest


def test_signals_match_the_rules_on_ground_truth_and_timers_fire_without_events(settings):
    customers = population(60, seed=21)
    produce(settings, interleaved(customers, seed=22))
    namer = NodeNamer(settings.routing_key_secret.get_secret_value().encode())
    clock = [START_US + 365 * DAY_US]
    with worker_thread(settings, signal_debounce_s=0, clock=lambda: clock[0]) as worker:
        wait_until_caught_up(settings)
        wait_until_signals_settled(settings, clock[0])
        first, latest = _latest_signals(settings)
        for customer in customers:
            expected = evaluate(fold(customer.events), clock[0])
            found = latest[namer.node("user_id", customer.user_id)]
            assert (found["stage"], found["churn_risk"]["score"]) == (expected.stage, expected.score), customer.user_id
            assert [r["code"] for r in found["churn_risk"]["reasons"]] == [r.code for r in expected.reasons]
        clock[0] += 200 * DAY_US  # nobody buys for 200 days: only the timers can notice
        wait_until_signals_settled(settings, clock[0])
        records, latest = _latest_signals(settings)
    stages = Counter()
    for customer in customers:
        found = latest[namer.node("user_id", customer.user_id)]
        expected = evaluate(fold(customer.events), clock[0])
        assert (found["stage"], found["churn_risk"]["score"]) == (expected.stage, expected.score), customer.user_id
        stages[found["stage"]] += 1
    assert stages["churned"] >= 1 and set(stages) <= {"prospect", "churned"}
    ids = Counter(r["id"] for r in records)
    assert max(ids.values()) == 1, "a committed change was published twice"
    assert worker.stats.signals == len(records) and len(records) > len(first)
    merges = [orjson.loads(m.value()) for m in read_topic(settings, settings.topics.identity)]
    assert len(merges) == worker.stats.merges > 0 and len({m["id"] for m in merges}) == len(merges)
    profiles = read_topic(settings, settings.topics.profiles)  # the same sweep's profile records (streams/segments)
    assert worker.stats.published == len(records) + len(merges) + len(profiles)
