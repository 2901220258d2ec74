"""What live segments cost the signal sweep, per customer, as ratios to the sweep without them.

* pure (no I/O): :func:`streams.segments.live.evaluate_customer` with ``SEGMENTS`` typical
  rules (stage, orders, revenue, consent, recency, birthday) beside the signal rules alone
  (:func:`streams.signals.rules.evaluate`, what the sweep computed before segments) and
  beside ``evaluate_customer`` with no segment (signals + the profile record's content);
* sweep on Redis: customers/s of whole sweeps (resolve, read partials, evaluate, one
  transaction with state, membership and outbox records) with ``SEGMENTS`` segments beside
  the same sweep with none, each on a fresh namespace holding the same partials.

Rates are customers per CPU second of this process for the pure figures (the cores are
shared), per wall second for the sweeps (Redis works in another process).
Run alone: ``python -m bench.segments_bench --customers N``.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from pathlib import Path

from redis import Redis

from bench.privacy_bench import rate as cpu_rate
from bench.report import Figure, print_figures
from connectors.demo import customer_events
from panorama.settings import Settings
from streams.profiles.fold import Partial, fold
from streams.segments.live import evaluate_customer
from streams.segments.store import SegmentStore
from streams.signals.rules import DAY_US, SignalRules, evaluate
from streams.signals.sweep import SignalSweeper
from streams.store import ProfileStore

START_US = 1_750_000_000_000_000
NOW = START_US + 366 * DAY_US
RULES = {
    "at-risk-buyers": {"all": [{"field": "lifecycle.stage", "op": "in", "value": ["at_risk", "churned"]},
                               {"field": "orders", "op": ">=", "value": 2}]},
    "win-back": {"all": [{"field": "last_purchase", "op": "older_than_days", "value": 120},
                         {"field": "consent.marketing", "op": "=", "value": True}]},
    "big-spenders": {"any": [{"field": "revenue_minor.EUR", "op": ">=", "value": 50_000},
                             {"field": "revenue_minor.USD", "op": ">=", "value": 50_000}]},
    "birthday-week": {"field": "traits.birthday", "op": "anniversary_within_days", "value": 7},
    "email-fans": {"field": "events_by_type.email_clicked", "op": ">=", "value": 2},
    "new": {"field": "first_purchase", "op": "within_last_days", "value": 30},
    "loyal-not-vip": {"all": [{"field": "lifecycle.stage", "op": "=", "value": "loyal"},
                              {"not": {"field": "traits.tier", "op": "=", "value": "vip"}}]},
    "risky": {"field": "churn_risk.score", "op": ">=", "value": 60},
    "shoppers-home": {"field": "categories", "op": "contains", "value": "home"},
    "quiet": {"field": "last_seen", "op": "older_than_days", "value": 60},
}
SEGMENTS = len(RULES)
ROUNDS = 3  # alternate the two sweeps; keep each one's best (the cores are shared)


def _partials(customers: int) -> dict[str, Partial]:
    rng = random.Random(5)
    return {f"user_id:bench{n:07d}": fold(customer_events(n, START_US, rng)) for n in range(customers)}


def _segments(redis: Redis, ns: str, with_rules: bool) -> SegmentStore:
    store = SegmentStore(redis, ns, 1)
    for segment_id, rule in RULES.items() if with_rules else ():
        store.save(segment_id, rule, "", NOW)
    return store


def _sweep_rate(settings: Settings, partials: dict[str, Partial], with_rules: bool) -> float:
    """Customers/s of sweeps over every customer of a fresh namespace (one partition)."""
    redis = Redis.from_url(settings.redis_address)
    ns = f"bench{uuid.uuid4().hex[:8]}"
    store = ProfileStore(redis, ns)
    nodes = list(partials)
    stored = -1
    for i in range(0, len(nodes), 500):  # as a worker's batches would (offset = the batch's first index)
        store.commit("bench", 0, stored, i, {node: partials[node] for node in nodes[i:i + 500]}, [], {}, now=NOW)
        stored = i
    _segments(redis, ns, with_rules)
    sweeper = SignalSweeper(store, f"{ns}.signals", 1, SignalRules(), limit=500)
    started = time.perf_counter()
    while sweeper.sweep(0, NOW) or redis.zcount(store.keys.due(0), "-inf", NOW):
        pass
    elapsed = time.perf_counter() - started
    assert sweeper.evaluated >= len(partials), "not every customer was evaluated"
    for key in redis.scan_iter(match=f"{ns}:*", count=5000):
        redis.unlink(key)
    return len(partials) / elapsed


def run(settings: Settings, customers: int = 5000) -> list[Figure]:
    partials = _partials(customers)
    ns = f"bench{uuid.uuid4().hex[:8]}"
    live = _segments(Redis.from_url(settings.redis_address), ns, True).list()
    rules = SignalRules()
    items = list(partials.items())
    signals_only = max(cpu_rate(len(items), lambda: [evaluate(p, NOW, rules) for _, p in items]) for _ in range(ROUNDS))
    no_segment = max(cpu_rate(len(items), lambda: [evaluate_customer(c, p, NOW, rules, []) for c, p in items])
                     for _ in range(ROUNDS))
    with_segments = max(cpu_rate(len(items), lambda: [evaluate_customer(c, p, NOW, rules, live) for c, p in items])
                        for _ in range(ROUNDS))
    sweeps = [(_sweep_rate(settings, partials, False), _sweep_rate(settings, partials, True)) for _ in range(ROUNDS)]
    plain_sweep, segment_sweep = (max(found) for found in zip(*sweeps))
    return [
        Figure(f"evaluate a customer: signals + profile + {SEGMENTS} segments (pure)", with_segments, "customers/s",
               "signal rules alone", signals_only, "CPU seconds of this process"),
        Figure("evaluate a customer: signals + profile record, no segment (pure)", no_segment, "customers/s",
               "signal rules alone", signals_only),
        Figure(f"sweep on Redis with {SEGMENTS} segments (first evaluation: every membership written)", segment_sweep,
               "customers/s", "the same sweep, no segment", plain_sweep, f"{customers:,} customers, wall clock"),
    ]


def main() -> None:
    from panorama.stack.ephemeral import ephemeral_stack

    parser = argparse.ArgumentParser(prog="python -m bench.segments_bench")
    parser.add_argument("--customers", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cdp-bench-") as tmp, ephemeral_stack(Path(tmp)) as settings:
        print_figures("live segments", run(settings, args.customers))


if __name__ == "__main__":
    main()
