"""The record sink's thread beside the events sink: stops with it, and its failure stops it."""

from __future__ import annotations

import threading
import time

import pytest

from panorama.errors import ProjectionError
from projections.record_sink import SerializedBackend, running_beside


class LoopingSink:
    """Stands in for RecordSink.run: loops until told to stop, or fails after ``fail_after`` s."""

    def __init__(self, fail_after: float | None = None, caught_up_after: float | None = None):
        self.fail_after, self.caught_up_after = fail_after, caught_up_after
        self.stopped = threading.Event()

    def run(self, should_stop, until_caught_up=False):
        started = time.monotonic()
        while not should_stop():
            elapsed = time.monotonic() - started
            if self.fail_after is not None and elapsed > self.fail_after:
                raise ProjectionError("cannot sink t.segments[0]@3: field 'x' is missing")
            if until_caught_up and self.caught_up_after is not None and elapsed > self.caught_up_after:
                break
            time.sleep(0.01)
        self.stopped.set()


def test_it_stops_when_the_events_sink_returns():
    sink = LoopingSink()
    with running_beside(sink, lambda: False, until_caught_up=False):
        pass
    assert sink.stopped.is_set()


def test_until_caught_up_waits_for_it_to_catch_up():
    sink = LoopingSink(caught_up_after=0.2)
    started = time.monotonic()
    with running_beside(sink, lambda: False, until_caught_up=True):
        pass
    assert sink.stopped.is_set() and time.monotonic() - started >= 0.2


def test_its_failure_stops_the_events_sink_and_is_raised():
    sink = LoopingSink(fail_after=0.05)
    with pytest.raises(ProjectionError, match="record sink stopped: cannot sink t.segments"):
        with running_beside(sink, lambda: False, until_caught_up=True) as should_stop:
            deadline = time.monotonic() + 5
            while not should_stop():
                assert time.monotonic() < deadline, "the events sink was never told to stop"
                time.sleep(0.01)


def test_an_interrupt_of_the_events_sink_stops_it_too():
    sink = LoopingSink()
    with pytest.raises(KeyboardInterrupt):
        with running_beside(sink, lambda: False, until_caught_up=True):
            raise KeyboardInterrupt
    assert sink.stopped.is_set()


def test_a_serialized_backend_runs_one_call_at_a_time():
    inside, most = [0], [0]

    class Slow:
        name = "slow"

        def query(self, sql):
            inside[0] += 1
            most[0] = max(most[0], inside[0])
            time.sleep(0.01)
            inside[0] -= 1
            return sql

    backend = SerializedBackend(Slow())
    threads = [threading.Thread(target=backend.query, args=("SELECT 1",)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most[0] == 1 and backend.name == "slow" and backend.query("x") == "x"
