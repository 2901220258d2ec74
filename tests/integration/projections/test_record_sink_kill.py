"""SIGKILL the real `cdp sink` while it sinks records and events, restart it: exact counts."""

from __future__ import annotations

import signal

import pytest

from producers import InteractionProducer
from projections.store import analytics_store
from tests.integration.projections.population import population
from tests.integration.projections.test_record_sink import profile_record, publish, segment_record
from tests.integration.projections.test_sink_kill import start_sink, wait_for_commits

SMALL_BATCHES = ("--batch-size", "400", "--batch-seconds", "0.2")  # the last --batch-size given wins

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_kill_while_sinking_records_and_restart_gives_exact_counts(store_settings):
    settings = store_settings
    customers = [f"user_id:k{n:05d}" for n in range(3000)]
    profiles = [profile_record(c, 1, 1000 * (n % 5)) for n, c in enumerate(customers)]
    segments = [segment_record(f"seg{n % 7}", c, 1, True) for n, c in enumerate(customers)]
    segments += [segment_record(f"seg{n % 7}", c, 2, False) for n, c in enumerate(customers) if n % 3 == 0]
    publish(settings, settings.topics.profiles, profiles)
    publish(settings, settings.topics.segments, segments)
    events = population(300, seed=9)
    with InteractionProducer(settings) as producer:
        assert producer.send_and_wait(events, timeout=120).ok

    for commits_before_kill in (3, 9):  # events and record batches both count
        proc = start_sink(settings, *SMALL_BATCHES)
        try:
            wait_for_commits(proc, commits_before_kill)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
    finished = start_sink(settings, *SMALL_BATCHES, "--until-caught-up")
    _, err = finished.communicate(timeout=180)
    assert finished.returncode == 0, err[-2000:]

    left = sum(1 for n in range(len(customers)) if n % 3)
    with analytics_store(settings) as store:
        assert store.query("SELECT count(), uniqExact(customer_id) FROM profiles").rows == [(3000, 3000)]
        assert store.query("SELECT count() FROM segment_members").scalar() == left
        assert store.query("SELECT count() FROM (SELECT * FROM segment_membership FINAL)").scalar() == len(segments)
        assert store.query("SELECT sum(revenue_minor) FROM profiles").scalar() == sum(p["revenue_minor"] for p in profiles)
        assert store.query("SELECT count() FROM events").scalar() == len(events)  # the events sink ran too
