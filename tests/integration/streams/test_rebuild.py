"""Rebuilding profiles from the log gives the same profiles and recent events, and the
recent events of a customer are its newest events across all its identities."""

from __future__ import annotations

import pytest
from redis import Redis

from streams.profiles import ProfileReader
from streams.rebuild import rebuild_profiles
from tests.integration.streams.population import START_US, interleaved, population, wait_until_caught_up, worker_thread
from tests.integration.streams.test_profiles import produce

pytestmark = pytest.mark.integration
NOW = START_US + 400 * 86_400_000_000


def _snapshot(reader: ProfileReader, user_ids: list[str]) -> dict:
    return {u: (reader.read(f"user_id:{u}", NOW), reader.recent_events(f"user_id:{u}", 10)) for u in user_ids}


def test_rebuild_from_the_log_reproduces_profiles_and_recent_events(settings):
    customers = population(40, seed=41)
    events = interleaved(customers, seed=42)
    produce(settings, events)
    reader = ProfileReader(Redis.from_url(settings.redis_address), settings)
    with worker_thread(settings):
        wait_until_caught_up(settings)
    before = _snapshot(reader, [c.user_id for c in customers])
    for customer in customers:
        newest = sorted(customer.events, key=lambda e: (e["occurred_at"], e["event_id"]), reverse=True)[:10]
        assert before[customer.user_id][1] == [
            {"id": e["event_id"], "type": e["type"], "occurred_at": e["occurred_at"], "channel": e["source"]["channel"]}
            for e in newest]
    reports = []
    assert rebuild_profiles(settings, progress=lambda done, total: reports.append((done, total))) == len(events)
    assert reports[-1] == (len(events), len(events))
    assert _snapshot(reader, [c.user_id for c in customers]) == before
