"""`cdp sink` as a subprocess of a test, against the test's stack and data directory, and
waits on what it serves through its query socket; a process that holds the store and
serves nothing."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from panorama.settings import Settings
from projections.query_socket import ask, socket_path
from tests.integration.projections.conftest import cdp_env

CDP = [sys.executable, "-m", "panorama.cli"]


def start_sink(settings: Settings, log: Path) -> subprocess.Popen:
    """`cdp sink` running until stopped, its log in ``log`` (a pipe nobody reads would fill up)."""
    with log.open("w") as out:
        return subprocess.Popen([*CDP, "sink"], env=cdp_env(settings), stdout=subprocess.DEVNULL, stderr=out)


@contextmanager
def running_sink(settings: Settings, log: Path) -> Iterator[subprocess.Popen]:
    """A `cdp sink` whose query socket answers; SIGTERM and waited for on exit."""
    sink = start_sink(settings, log)
    try:
        wait_until_served(settings, sink, log)
        yield sink
    finally:
        if sink.poll() is None:
            sink.terminate()
            sink.wait(60)


def wait_until_served(settings: Settings, sink: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while ask(socket_path(settings.chdb_path), "SELECT 1", 1, 10) is None:
        assert sink.poll() is None, f"the sink exited with {sink.returncode}: {log.read_text()[-2000:]}"
        assert time.monotonic() < deadline, f"the sink's query socket did not answer: {log.read_text()[-2000:]}"
        time.sleep(0.1)


def wait_until_sunk(settings: Settings, events: int, timeout: float = 60) -> None:
    """Until the running sink's store holds ``events`` events (asked through its socket)."""
    deadline = time.monotonic() + timeout
    while (held := int(ask(socket_path(settings.chdb_path), "SELECT count() FROM events", 1, 10)["data"][0][0])) < events:
        assert time.monotonic() < deadline, f"only {held} of {events} events sunk"
        time.sleep(0.2)


@contextmanager
def held_store(settings: Settings) -> Iterator[subprocess.Popen]:
    """Another process holding the chDB directory, as `cdp replay` does, answering no queries."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from projections.chdb_backend import "
         "ChdbBackend; held = ChdbBackend(Path(sys.argv[1])); print('held', flush=True); time.sleep(300)",
         str(settings.chdb_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.kill()
        holder.wait(10)
