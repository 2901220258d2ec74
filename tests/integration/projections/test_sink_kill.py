"""SIGKILL the real `cdp sink` process mid-stream, restart it: exact counts."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from producers import InteractionProducer
from projections.store import analytics_store
from tests.integration.projections.conftest import cdp_env
from tests.integration.projections.population import population

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CDP = [sys.executable, "-m", "panorama.cli"]


def start_sink(settings, *args: str) -> subprocess.Popen:
    return subprocess.Popen([*CDP, "sink", "--batch-size", "1500", *args], env=cdp_env(settings),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_for_commits(proc: subprocess.Popen, commits: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    seen = 0
    while seen < commits:
        assert time.monotonic() < deadline, "the sink committed too few batches"
        line = proc.stderr.readline()
        assert line or proc.poll() is None, f"sink exited early with {proc.returncode}"
        seen += "committed" in line


def test_kill_mid_batch_and_restart_gives_exact_counts(store_settings):
    records = population(1_500, seed=5)  # ~20k events
    with InteractionProducer(store_settings) as producer:
        assert producer.send_and_wait(records, timeout=120).ok

    for commits_before_kill in (2, 5):  # kill twice, at different points of the stream
        proc = start_sink(store_settings)
        try:
            wait_for_commits(proc, commits_before_kill)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
    finished = start_sink(store_settings, "--until-caught-up")
    _, err = finished.communicate(timeout=180)
    assert finished.returncode == 0, err[-2000:]

    with analytics_store(store_settings) as store:
        raw = store.query("SELECT count() FROM event_log").scalar()
        assert store.query("SELECT count(), uniqExact(event_id) FROM events").rows == [(len(records), len(records))]
        assert store.query("SELECT sum(events) FROM daily_channel_activity").scalar() == len(records)
    assert raw >= len(records)
