"""Lifecycle distribution and revenue by segment against values computed in Python from
the same signals, profile versions and membership changes (chDB, no Kafka)."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from projections.chdb_backend import ChdbBackend
from projections.migrations import apply_migrations

pytestmark = pytest.mark.integration

STAGES = ["prospect", "new", "active", "loyal", "at_risk", "churned", "won_back"]
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    rng = random.Random(8)
    profiles = []  # every version written, older ones and deletions included
    for c in range(300):
        for version in range(1, rng.randint(2, 4)):
            orders = rng.choice([0, 0, 1, 3, 7])
            profiles.append({
                "customer_id": f"c{c}", "version": version, "first_seen_at": T0, "last_seen_at": T0,
                "lifecycle_stage": rng.choice(STAGES), "orders": orders,
                "revenue_minor": orders * rng.randint(500, 9000) if orders else 0,
                "currency": rng.choice(["EUR", "EUR", "JPY"]) if orders else "", "traits": "{}",
                "deleted": int(rng.random() < 0.05),
            })
    changes = []
    for c in range(300):
        for segment in ("vip", "newsletter", "lapsed"):
            if rng.random() < 0.5:
                for step in range(rng.randint(1, 3)):  # enter, leave, enter again
                    changes.append({"segment_id": segment, "customer_id": f"c{c}", "is_member": 1 - step % 2,
                                    "changed_at": T0 + timedelta(days=step), "version": step + 1})
    signals = [{"customer_id": f"c{c}", "seq": seq, "stage": rng.choice(STAGES), "previous_stage": "",
                "churn_risk": rng.randint(0, 100), "churn_level": "low", "reasons": "[]",
                "recorded_at": T0 + timedelta(days=seq)}
               for c in range(300) for seq in rng.sample(range(1, 9), rng.randint(1, 3))]  # out of order
    backend = ChdbBackend(tmp_path_factory.mktemp("views") / "chdb")
    apply_migrations(backend)
    backend.insert("profile_versions", pa.Table.from_pylist(profiles))
    backend.insert("segment_membership", pa.Table.from_pylist(changes))
    backend.insert("customer_signals", pa.Table.from_pylist(signals))
    yield backend, profiles, changes, signals
    backend.close()


def live_profiles(profiles: list[dict]) -> dict[str, dict]:
    latest: dict[str, dict] = {}
    for p in profiles:
        if p["customer_id"] not in latest or p["version"] > latest[p["customer_id"]]["version"]:
            latest[p["customer_id"]] = p
    return {c: p for c, p in latest.items() if not p["deleted"]}


def current_members(changes: list[dict]) -> dict[str, set[str]]:
    last: dict[tuple, dict] = {}
    for ch in changes:
        key = (ch["segment_id"], ch["customer_id"])
        if key not in last or (ch["changed_at"], ch["version"]) > (last[key]["changed_at"], last[key]["version"]):
            last[key] = ch
    members = defaultdict(set)
    for (segment, customer), ch in last.items():
        if ch["is_member"]:
            members[segment].add(customer)
    return members


def test_lifecycle_distribution_counts_each_customers_latest_signal(data):
    backend, _, _, signals = data
    latest: dict[str, dict] = {}
    for signal in signals:
        if signal["customer_id"] not in latest or signal["seq"] > latest[signal["customer_id"]]["seq"]:
            latest[signal["customer_id"]] = signal
    stages = Counter(signal["stage"] for signal in latest.values())
    total = sum(stages.values())
    rows = backend.query("SELECT lifecycle_stage, customers, share FROM lifecycle_distribution").rows
    assert {stage: (n, pytest.approx(share)) for stage, n, share in rows} == \
        {stage: (n, pytest.approx(n / total)) for stage, n in stages.items()}


def test_revenue_by_segment(data):
    backend, profiles, changes, _ = data
    live, members = live_profiles(profiles), current_members(changes)
    expected = {}
    for segment, customers in members.items():
        for c in customers:
            p = live.get(c)
            if p and p["orders"] > 0:
                _, buyers, revenue = expected.get((segment, p["currency"]), (len(customers), 0, 0))
                expected[(segment, p["currency"])] = (len(customers), buyers + 1, revenue + p["revenue_minor"])
    rows = backend.query("SELECT segment_id, currency, members, buyers, revenue_minor, revenue_per_member_minor "
                         "FROM revenue_by_segment").rows
    assert len(expected) >= 4
    assert {(s, c): (m, b, r) for s, c, m, b, r, _ in rows} == expected
    assert all(per == r // m for _, _, m, _, r, per in rows)
