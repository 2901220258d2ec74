"""`cdp replay --yes`, as an operator runs it: every projection (ClickHouse, Redis profiles)
dropped and rebuilt from the log, equal to what the live processes had built."""

from __future__ import annotations

import subprocess
import sys

import pytest
from redis import Redis

from panorama.clock import now_us
from panorama.privacy.retention import DAY_US
from producers import InteractionProducer
from projections.sink import EventsSink
from projections.store import analytics_store
from streams.profiles.read import ProfileReader
from streams.worker import ProfileWorker
from tests.integration.projections.conftest import cdp_env
from tests.integration.projections.population import population

pytestmark = pytest.mark.integration
NOW = 1_900_000_000_000_000  # a fixed clock, so lifecycle and churn read the same before and after


def live_state(settings, users: list[str]) -> tuple[list, dict]:
    with analytics_store(settings) as store:
        events = store.query("SELECT event_id, type, customer_key FROM events ORDER BY event_id").rows
    reader = ProfileReader(Redis.from_url(settings.redis_address), settings)
    return events, {user: reader.read(f"user_id:{user}", now=NOW) for user in users}


def test_cdp_replay_rebuilds_clickhouse_and_profiles(store_settings):
    records = population(120, seed=5)
    users = sorted({r["identities"]["user_id"] for r in records if r["identities"]["user_id"]})[:10]
    with InteractionProducer(store_settings) as producer:
        assert producer.send_and_wait(records, timeout=60).ok
    with analytics_store(store_settings) as store:
        EventsSink(store_settings, store, batch_size=1_000).run(until_caught_up=True)
    worker = ProfileWorker(store_settings)
    worker.run(should_stop=lambda: worker.stats.events >= len(records))
    before = live_state(store_settings, users)
    assert len(before[0]) == len(records)

    done = subprocess.run([sys.executable, "-m", "panorama.cli", "replay", "--yes"], env=cdp_env(store_settings),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"replayed {len(records):,} events into ClickHouse and {len(records):,} into the live profiles" in done.stderr
    assert live_state(store_settings, users) == before


def test_cdp_replay_expires_again_what_the_retention_policy_expired(store_settings, tmp_path):
    """The log still holds events the policy removed from ClickHouse; a replay must not bring
    them back."""
    records = population(60, seed=6)
    with InteractionProducer(store_settings) as producer:
        assert producer.send_and_wait(records, timeout=60).ok
    policy = tmp_path / "retention.toml"
    policy.write_text('page = 30\n')
    started = now_us()

    done = subprocess.run([sys.executable, "-m", "panorama.cli", "replay", "--yes"],
                          env=cdp_env(store_settings) | {"CDP_RETENTION_FILE": str(policy)},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]

    def expired_by(moment: int) -> int:
        return sum(r["type"] == "page" and r["occurred_at"] < moment - 30 * DAY_US for r in records)

    with analytics_store(store_settings) as store:
        kept = store.query("SELECT type, count() FROM events GROUP BY type").rows
    counts = dict(kept)
    removed = sum(r["type"] == "page" for r in records) - counts.get("page", 0)
    assert expired_by(started) <= removed <= expired_by(now_us()) and removed > 0
    assert sum(counts.values()) == len(records) - removed
    assert f"{removed:,} expired events removed again" in done.stderr
