"""Unmerge and link order on the real stack: a wrong link merges a visitor into a
customer; `cdp identity unmerge` splits them, both profiles are exactly their own events
again (partials per identity), the split is published on `<prefix>.identity`, the same
link later is refused, and `cdp identity explain` shows the versioned history. A late
link that loses a capped slot in event time ends with the in-order customers."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections import Counter
from contextlib import ExitStack

import orjson
import pytest
from redis import Redis

from projections.records import Rows, identity as identity_record
from streams.profiles import ProfileReader
from streams.rebuild import rebuild_profiles
from tests.integration.kafka_reader import read_topic
from tests.integration.streams.population import (
    START_US, population, wait_for_assignment, wait_until_caught_up, worker_thread,
)
from tests.integration.streams.test_profiles import produce

pytestmark = pytest.mark.integration


def _page(identities: dict, at: int) -> dict:
    event = dict(population(1, seed=30)[0].events[0])  # an anonymous page view, as a template
    return event | {"event_id": str(uuid.uuid4()), "occurred_at": at, "received_at": at,
                    "identities": {k: None for k in event["identities"]} | {"external_ids": {}} | identities}


def _summary(profile: dict) -> tuple:
    return profile["events"], profile["events_by_type"], profile["identities"]


def test_unmerge_splits_a_wrong_merge_and_both_profiles_are_their_own_events(settings):
    (customer,) = population(1, seed=31)
    email = customer.identities()["email"][0]
    visitor = [_page({"anonymous_id": "anon-visitor"}, START_US + i) for i in range(5)]
    produce(settings, customer.events + visitor)
    env = os.environ | {"CDP_REDIS_URL": settings.redis_address, "CDP_TOPIC_PREFIX": settings.topic_prefix,
                        "CDP_KAFKA_BOOTSTRAP": settings.kafka_address,
                        "CDP_INTERACTIONS_PARTITIONS": str(settings.interactions_partitions)}
    cli = [sys.executable, "-m", "panorama.cli", "identity"]
    reader = ProfileReader(Redis.from_url(settings.redis_address), settings)
    with worker_thread(settings, signal_debounce_s=0):
        wait_until_caught_up(settings)
        alone = _summary(reader.read(f"user_id:{customer.user_id}")), _summary(reader.read("anonymous_id:anon-visitor"))
        wrong = _page({"email": email, "anonymous_id": "anon-visitor"}, START_US + 10)  # a shared computer
        produce(settings, [wrong])
        wait_until_caught_up(settings)
        merged = reader.read("anonymous_id:anon-visitor")
        assert merged["customer_id"] == reader.read(f"user_id:{customer.user_id}")["customer_id"]
        assert merged["events"] == len(customer.events) + len(visitor) + 1

        done = subprocess.run(cli + ["unmerge", email, "anonymous_id:anon-visitor", "--reason", "shared computer"],
                              env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        mine, theirs = reader.read(f"user_id:{customer.user_id}"), reader.read("anonymous_id:anon-visitor")
        assert mine["customer_id"] != theirs["customer_id"]
        assert _summary(theirs) == alone[1]  # the visitor's own five page views, nothing else
        assert mine["events"] == alone[0][0] + 1  # the customer keeps the event that carried its email
        assert mine["events_by_type"] == dict(Counter(alone[0][1]) + Counter({"page": 1}))

        produce(settings, [_page({"email": email, "anonymous_id": "anon-visitor"}, START_US + 20)])  # the same link again
        wait_until_caught_up(settings)
        assert reader.read("anonymous_id:anon-visitor")["customer_id"] == theirs["customer_id"]

    explained = subprocess.run(cli + ["explain", "anonymous_id:anon-visitor"], env=env, capture_output=True, text=True)
    assert explained.returncode == 0, explained.stderr
    history = orjson.loads(explained.stdout)["history"]
    assert [h["action"] for h in history][-3:] == ["merge", "unmerge", "refused"]
    assert "unmerged by an operator" in history[-1]["reason"] and history[-2]["reason"] == "shared computer"
    assert orjson.loads(explained.stdout)["version"] == len(history)
    again = subprocess.run(cli + ["unmerge", email, "anonymous_id:anon-visitor"], env=env, capture_output=True, text=True)
    assert again.returncode == 1 and "different customers" in again.stderr
    published = [orjson.loads(m.value()) for m in read_topic(settings, settings.topics.identity)]
    assert [p["action"] for p in published].count("unmerge") == 1

    customers = {i: reader.read(i)["customer_id"] for i in (f"user_id:{customer.user_id}", "anonymous_id:anon-visitor")}
    rebuild_profiles(settings)  # the log replayed from scratch, the operator's block kept: the same split
    assert {i: reader.read(i)["customer_id"] for i in customers} == customers


@pytest.mark.parametrize("workers", [1, 2])
def test_a_late_link_that_loses_a_capped_slot_in_event_time_ends_as_in_order_delivery(settings, workers):
    """In event time the visitor identified as late-u1 first and then as late-u2 (one
    user_id per customer: refused). Delivered the other way round, the worker first merges
    the visitor into late-u2; the late identify as late-u1 is refused on arrival but is
    older than the link it lost to, so the component is recomputed: the same customers as
    in-order delivery, published as regroup records."""
    visits = [_page({"anonymous_id": "late-a"}, START_US + i) for i in range(3)]
    first = _page({"user_id": "late-u1", "anonymous_id": "late-a"}, START_US + 10)
    second = _page({"user_id": "late-u2", "anonymous_id": "late-a"}, START_US + 20)
    reader = ProfileReader(Redis.from_url(settings.redis_address), settings)
    with ExitStack() as stack:
        running = [stack.enter_context(worker_thread(settings, signal_debounce_s=0)) for _ in range(workers)]
        wait_for_assignment(settings, running)
        produce(settings, visits + [second])
        wait_until_caught_up(settings)
        assert reader.read("anonymous_id:late-a")["customer_id"] == reader.read("user_id:late-u2")["customer_id"]
        produce(settings, [first])
        wait_until_caught_up(settings)
        visitor, u1, u2 = (reader.read(i) for i in ("anonymous_id:late-a", "user_id:late-u1", "user_id:late-u2"))
        assert sum(worker.stats.regroups for worker in running) == 1  # counted for the metrics
    assert visitor["customer_id"] == u1["customer_id"] != u2["customer_id"]
    assert (u1["events"], u2["events"]) == (len(visits) + 1, 1)  # the visits and the first identify / its own
    published = [orjson.loads(m.value()) for m in read_topic(settings, settings.topics.identity)]
    regrouped = [p for p in published if p.get("cause") == "regroup"]
    assert sorted(p["winner"] for p in regrouped) == sorted([u1["customer_id"], u2["customer_id"]])
    rows = Rows()  # what the ClickHouse record sink makes of them: every node re-pointed
    for record in regrouped:
        identity_record(record, rows)
    links = {r["identity_hash"]: r["customer_id"] for r in rows.tables()["identity_links"].to_pylist()}
    assert set(links.values()) == {u1["customer_id"], u2["customer_id"]} and len(links) == 3
    history = reader.explain("user_id:late-u1")["history"]
    assert [h["action"] for h in history][-1] == "regroup"
    assert [r["event_id"] for r in history[-1]["refused"]] == [second["event_id"]]
