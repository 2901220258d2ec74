"""The record sink on the real stack: identity and signal records from a real worker over a
known population, profile and segment records produced here (their producer is built
elsewhere); views against Python computations, redeliveries, an unavailable store,
replay and erasure."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import orjson
import pytest
from confluent_kafka import Producer

from panorama.clock import now_us
from panorama.errors import StoreUnavailable
from panorama.kafka_config import client_config
from panorama.settings import Settings
from projections import ddl
from projections.erasure import erase_customer
from projections.record_sink import RecordSink
from projections.replay import replay
from projections.sink import EventsSink
from streams.identity.nodes import NodeNamer
from streams.profiles.fold import fold
from streams.signals.rules import DAY_US, evaluate
from tests.integration.streams.population import (
    START_US, interleaved, population, wait_until_caught_up, wait_until_signals_settled, worker_thread,
)
from tests.integration.streams.test_profiles import produce
from tests.integration.streams.test_unmerge import _page

pytestmark = pytest.mark.integration

NOW = START_US + 365 * DAY_US


def publish(settings: Settings, topic: str, records: list[dict]) -> None:
    producer = Producer(client_config(settings) | {"enable.idempotence": True})
    for record in records:
        producer.produce(topic, orjson.dumps(record), key=record["customer_id"].encode())
    assert producer.flush(30) == 0


def sink_records(settings: Settings, backend, **options) -> RecordSink:
    sink = RecordSink(settings, backend, batch_size=options.pop("batch_size", 500), batch_seconds=0.2, **options)
    sink.run(until_caught_up=True)
    return sink


def profile_record(customer_id: str, version: int, revenue: int, currency: str = "EUR", stage: str = "active") -> dict:
    return {"id": f"p-{customer_id}-{version}", "customer_id": customer_id, "version": version,
            "first_seen_at": START_US, "last_seen_at": START_US + version, "lifecycle_stage": stage,
            "orders": revenue // 1000, "revenue_minor": revenue, "currency": currency, "traits": {"tier": "x"},
            "deleted": False, "recorded_at": START_US + version}


def segment_record(segment_id: str, customer_id: str, version: int, is_member: bool) -> dict:
    return {"id": f"s-{segment_id}-{customer_id}-{version}", "segment_id": segment_id, "customer_id": customer_id,
            "is_member": is_member, "version": version, "changed_at": START_US + version * 1000,
            "recorded_at": START_US + version * 1000}


def test_worker_records_put_events_in_customer_space_and_lifecycle_matches_the_rules(store_settings, store):
    settings = store_settings
    customers = population(40, seed=31)
    produce(settings, interleaved(customers, seed=32))
    with worker_thread(settings, signal_debounce_s=0, clock=lambda: NOW):
        wait_until_caught_up(settings)
        wait_until_signals_settled(settings, NOW)
    EventsSink(settings, store, batch_size=2000, batch_seconds=0.2).run(until_caught_up=True)
    sink = sink_records(settings, store)
    assert sink.stats.batches >= 1 and sink.stats.retries == 0

    namer = NodeNamer(settings.routing_key_secret.get_secret_value().encode())
    expected_events = {namer.node("user_id", c.user_id): len(c.events) for c in customers}
    found = dict(store.query("SELECT customer_id, count() FROM customer_events GROUP BY customer_id").rows)
    assert found == expected_events  # anonymous, email and device events all stitched to their user

    links = dict(store.query("SELECT concat(kind, ':', identity_hash), customer_id FROM identities").rows)
    for customer in customers:
        for kind, values in customer.identities().items():
            for value in values:
                assert links[namer.node(kind, value)] == namer.node("user_id", customer.user_id), (kind, customer.user_id)

    stages = Counter(evaluate(fold(c.events), NOW).stage for c in customers)
    distribution = {stage: (n, share) for stage, n, share in store.query("SELECT * FROM lifecycle_distribution").rows}
    assert {stage: n for stage, (n, _) in distribution.items()} == dict(stages)
    assert all(share == pytest.approx(stages[s] / len(customers)) for s, (_, share) in distribution.items())

    # replay rebuilds the customer tables from the record topics: the same answers
    before = {q: sorted(store.query(q).rows) for q in (
        "SELECT customer_id, count() FROM customer_events GROUP BY customer_id",
        "SELECT * FROM lifecycle_distribution", "SELECT * FROM identities", "SELECT * FROM customer_lifecycle")}
    replay(settings, store)
    assert {q: sorted(store.query(q).rows) for q in before} == before

    # erasure removes the customer's signals and identity links too
    gone = customers[0]
    customer_id = namer.node("user_id", gone.user_id)
    keys = [namer.node(k, v).rpartition(":")[2] for k, values in gone.identities().items() for v in values]
    erase_customer(store, keys, customer_id)
    for table, column in (("customer_signals", "customer_id"), ("identity_links", "customer_id"),
                          ("customer_events", "customer_id")):
        assert store.query(f"SELECT count() FROM {table} WHERE {column} = '{customer_id}'").scalar() == 0, table
    assert store.query("SELECT sum(customers) FROM lifecycle_distribution").scalar() == len(customers) - 1


def test_an_unmerge_moves_the_visitors_events_back_out_of_the_customer(store_settings, store):
    settings = store_settings
    (customer,) = population(1, seed=41)
    email = customer.identities()["email"][0]
    visitor = [_page({"anonymous_id": "anon-visitor"}, START_US + i) for i in range(5)]
    wrong = _page({"email": email, "anonymous_id": "anon-visitor"}, START_US + 10)  # a shared computer
    produce(settings, customer.events + visitor + [wrong])
    namer = NodeNamer(settings.routing_key_secret.get_secret_value().encode())
    mine, theirs = namer.node("user_id", customer.user_id), namer.node("anonymous_id", "anon-visitor")
    by_customer = "SELECT customer_id, count() FROM customer_events GROUP BY customer_id"
    with worker_thread(settings, signal_debounce_s=0):
        wait_until_caught_up(settings)
        EventsSink(settings, store, batch_size=2000, batch_seconds=0.2).run(until_caught_up=True)
        sink_records(settings, store)
        assert dict(store.query(by_customer).rows) == {mine: len(customer.events) + 6}
        env = os.environ | {"CDP_REDIS_URL": settings.redis_address, "CDP_TOPIC_PREFIX": settings.topic_prefix,
                            "CDP_KAFKA_BOOTSTRAP": settings.kafka_address,
                            "CDP_INTERACTIONS_PARTITIONS": str(settings.interactions_partitions)}
        done = subprocess.run([sys.executable, "-m", "panorama.cli", "identity", "unmerge", email,
                               "anonymous_id:anon-visitor"], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        wait_until_signals_settled(settings, now_us())  # both sides are due now: their signals are published
    sink_records(settings, store)
    assert dict(store.query(by_customer).rows) == {mine: len(customer.events) + 1, theirs: 5}
    assert sorted(store.query("SELECT customer_id FROM customer_lifecycle").rows) == sorted([(mine,), (theirs,)])


def test_redelivered_records_collapse_and_views_equal_python(store_settings, store):
    settings = store_settings
    topics = settings.topics
    customers = [f"user_id:c{n:03d}" for n in range(30)]
    profiles = [profile_record(c, 1, 1000 * (n % 4), "EUR" if n % 3 else "USD") for n, c in enumerate(customers)]
    profiles += [profile_record(c, 2, 1000 * (n % 4) + 500) for n, c in enumerate(customers[:10])]  # newer versions
    segments = [segment_record("vip" if n % 2 else "churny", c, 1, True) for n, c in enumerate(customers)]
    segments += [segment_record("vip", c, 2, False) for c in customers[1:10:2]]  # five leave vip
    publish(settings, topics.profiles, profiles)
    publish(settings, topics.segments, segments)
    sink_records(settings, store)
    publish(settings, topics.profiles, profiles)  # a producer retry: every record again, new offsets
    publish(settings, topics.segments, segments)
    sink_records(settings, store)

    assert store.query("SELECT count() FROM profile_versions").scalar() > len(customers)  # not merged yet
    assert store.query("SELECT count(), uniqExact(customer_id) FROM profiles").rows == [(30, 30)]
    latest = {p["customer_id"]: p for p in profiles if p["version"] == max(
        q["version"] for q in profiles if q["customer_id"] == p["customer_id"])}
    members: dict[str, set[str]] = {}
    for s in sorted(segments, key=lambda s: s["version"]):
        (members.setdefault(s["segment_id"], set()).add if s["is_member"] else members[s["segment_id"]].discard)(
            s["customer_id"])
    found = sorted(store.query("SELECT segment_id, count() FROM segment_members GROUP BY segment_id").rows)
    assert found == sorted((seg, len(m)) for seg, m in members.items())

    expected = []
    for seg, m in members.items():
        by_currency: dict[str, list[int]] = {}
        for c in m:
            if latest[c]["orders"]:
                by_currency.setdefault(latest[c]["currency"], []).append(latest[c]["revenue_minor"])
        for currency, revenues in by_currency.items():
            expected.append((seg, currency, len(m), len(revenues), sum(revenues), sum(revenues) // len(m)))
    assert sorted(store.query("SELECT * FROM revenue_by_segment").rows) == sorted(expected)
    # profile records name their customers too: each links to itself
    assert store.query("SELECT count() FROM identities WHERE customer_id = concat(kind, ':', identity_hash)"
                       ).scalar() == len(customers)


class FlakyStore:
    """The real store, refusing its first ``failures`` inserts as if unreachable."""

    def __init__(self, backend, failures: int):
        self._backend, self.failures = backend, failures
        self.name = backend.name

    def insert(self, table, data, settings=None):
        if self.failures:
            self.failures -= 1
            raise StoreUnavailable("ClickHouse is down (injected)")
        self._backend.insert(table, data, settings)

    def __getattr__(self, name):
        return getattr(self._backend, name)


def test_an_unavailable_store_pauses_the_sink_and_nothing_is_lost(store_settings, store):
    settings = store_settings
    segments = [segment_record("s1", f"user_id:u{n}", 1, True) for n in range(200)]
    publish(settings, settings.topics.segments, segments)
    sink = sink_records(settings, FlakyStore(store, failures=2), batch_size=5000)
    assert sink.stats.retries == 2
    assert sink.stats.events == 200
    assert store.query("SELECT count() FROM segment_members").scalar() == 200


def test_a_record_out_of_format_stops_the_sink_naming_it(store_settings, store):
    settings = store_settings
    publish(settings, settings.topics.segments, [segment_record("s1", "user_id:u1", 1, True) | {"is_member": "yes"}])
    with pytest.raises(Exception, match=r"segments\[\d+\]@0: field 'is_member' must be bool"):
        sink_records(settings, store)
    assert store.query("SELECT count() FROM segment_membership").scalar() == 0


def test_customer_events_stay_exact_while_the_identity_dictionary_lags(store):
    """Links the dictionary loaded a day after they were written, then links written after
    the load (a move, a deletion, a new stitch, an older decision arriving late): every
    event has the customer the exact join over ``identities`` gives it, not the stale one."""
    def link(rows: str, written: str = "now64(6)") -> None:
        store.command("INSERT INTO identity_links (kind, identity_hash, customer_id, version, deleted, inserted_at) "
                      f"SETTINGS insert_allow_materialized_columns = 1 SELECT *, {written} FROM values({rows})")
    link("('email', 'k1', 'user_id:a', 2, 0), ('email', 'k2', 'user_id:a', 2, 0), ('email', 'k3', 'user_id:b', 2, 0)",
         "now64(6) - INTERVAL 1 DAY")
    store.command("INSERT INTO event_log (event_id, type, occurred_at, received_at, customer_key) "
                  "SELECT generateUUIDv4(number), 'page', now64(6), now64(6), ['k1', 'k2', 'k3', 'k4'][number % 4 + 1] "
                  "FROM numbers(40)")
    store.command("SYSTEM RELOAD DICTIONARY identity_customers")
    by_customer = "SELECT customer_id, count() FROM customer_events GROUP BY customer_id"
    assert dict(store.query(by_customer).rows) == {"user_id:a": 20, "user_id:b": 10, "k4": 10}

    link("('email', 'k1', 'user_id:b', 3, 0), ('email', 'k3', 'user_id:b', 3, 1), ('email', 'k4', 'user_id:a', 3, 0), "
         "('email', 'k2', 'user_id:b', 1, 0)")
    assert store.query("SELECT dictGet('identity_customers', 'customer_id', tuple('k1'))").scalar() == "user_id:a"
    assert dict(store.query(by_customer).rows) == {"user_id:a": 20, "user_id:b": 10, "k3": 10}
    exact_join = ddl.customer_events_view().split(" AS\n", 1)[1]
    exact = f"SELECT customer_id, count() FROM ({exact_join}) GROUP BY customer_id"
    assert dict(store.query(exact).rows) == dict(store.query(by_customer).rows)
    # the views group by customer_hash: it must name the same customer on every path (dictionary,
    # recent link, deleted link, no link at all)
    by_hash = f"SELECT {ddl.customer_hash('any(customer_id)')}, customer_hash, count() FROM customer_events GROUP BY customer_hash"
    assert all(named == hash_ for named, hash_, _ in store.query(by_hash).rows)
    assert sorted(n for *_, n in store.query(by_hash).rows) == sorted(dict(store.query(by_customer).rows).values())
