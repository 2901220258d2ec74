"""Read-only SQL wherever the store is: a real `cdp sink` holding chDB in another process
(its query socket), the store opened by the asking process, a stale socket of a killed sink,
a holder that serves nothing; and the same answers from a ClickHouse server when
CDP_CLICKHOUSE_URL names one."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import threading
import time

import orjson
import pytest

from panorama.errors import QueryError, ReadOnlyQueryError, StoreUnavailable
from producers import InteractionProducer
from projections import readonly
from projections.chdb_backend import ChdbBackend
from projections.query_service import run_read_only
from projections.query_socket import ask, socket_path
from tests.integration.projections.conftest import cdp_env
from tests.integration.projections.population import population
from tests.integration.projections.sink_process import (
    CDP, held_store, running_sink, start_sink, wait_until_served, wait_until_sunk)

pytestmark = pytest.mark.integration

TYPED = ("SELECT toUInt128('340282366920938463463374607431768211455') AS big, toInt64(-9007199254740993) AS beyond, "
         "toUInt64(9007199254740991) AS safe, [toUInt64(1), toUInt64(18446744073709551615)] AS list, "
         "toNullable(toInt64(7)) AS maybe, toDateTime64('2024-05-01 10:00:00.123456', 6, 'UTC') AS at, "
         "toDateTime('2024-05-01 12:00:00', 'Europe/Berlin') AS local, toDate('2024-05-01') AS day, "
         "toDecimal64(12.5, 2) AS money, toUUID('6f1c2a8e-0000-4000-8000-000000000001') AS id, nan AS nothing, "
         "-inf AS low, toIPv4('10.0.0.1') AS ip")


def produce(settings, records) -> None:
    with InteractionProducer(settings) as producer:
        assert producer.send_and_wait(records, timeout=60).ok


@pytest.fixture(params=["chdb", "server"])
def engine_settings(request, store_settings):
    """The test's chDB directory, or the server CDP_CLICKHOUSE_URL names."""
    if request.param == "chdb":
        return store_settings
    url = os.environ.get("CDP_CLICKHOUSE_URL")
    if not url:
        pytest.skip(reason="no ClickHouse server: set CDP_CLICKHOUSE_URL=http://host:8123 to run the server path")
    return store_settings.model_copy(update={"clickhouse_url": url})


def test_values_come_back_json_ready_with_clickhouse_types(engine_settings):
    answer = run_read_only(engine_settings, TYPED)
    assert [c["type"] for c in answer.columns] == [
        "UInt128", "Int64", "UInt64", "Array(UInt64)", "Nullable(Int64)", "DateTime64(6, 'UTC')",
        "DateTime('Europe/Berlin')", "Date", "Decimal(18, 2)", "UUID", "Float64", "Float64", "IPv4"]
    assert answer.rows == [[
        "340282366920938463463374607431768211455", "-9007199254740993", 9007199254740991, [1, "18446744073709551615"],
        7, "2024-05-01T10:00:00.123456Z", "2024-05-01T10:00:00Z", "2024-05-01", "12.5", "6f1c2a8e-0000-4000-8000-000000000001",
        None, None, "10.0.0.1"]]
    assert not answer.truncated and answer.elapsed_ms > 0


def test_rows_are_cut_at_max_rows_and_the_cut_is_said(engine_settings):
    cut = run_read_only(engine_settings, "SELECT number FROM numbers(100000)", max_rows=3)
    assert (cut.rows, cut.truncated) == ([[0], [1], [2]], True)
    whole = run_read_only(engine_settings, "SELECT number FROM numbers(3)", max_rows=3)
    assert (whole.rows, whole.truncated) == ([[0], [1], [2]], False)
    shown = run_read_only(engine_settings, "SHOW DATABASES", max_rows=1)
    assert len(shown.rows) == 1 and shown.truncated


@pytest.mark.parametrize("sql", [
    "SELECT 1 SETTINGS readonly = 0", "SELECT 1 SETTINGS max_execution_time = 0", "SELECT 1 SETTINGS max_memory_usage = 0",
    "SELECT * FROM url('http://127.0.0.1:9/', 'CSV', 'a String')",
])
def test_the_engine_refuses_what_readonly_forbids(engine_settings, sql):
    with pytest.raises(QueryError, match="readonly"):
        run_read_only(engine_settings, sql)


def test_a_statement_past_the_memory_limit_fails_with_the_engines_error(engine_settings, monkeypatch):
    monkeypatch.setattr(readonly, "MAX_MEMORY_BYTES", 64 * 2**20)
    with pytest.raises(QueryError, match="(?i)memory limit"):
        run_read_only(engine_settings, "SELECT length(groupArray(number)) FROM numbers(50000000)")
    assert run_read_only(engine_settings, "SELECT count() FROM numbers(1000)").rows == [[1000]]


def test_cdp_sql_answers_while_the_sink_holds_the_store(store_settings, tmp_path):
    records = population(30)
    produce(store_settings, records)
    path = socket_path(store_settings.chdb_path)
    with running_sink(store_settings, tmp_path / "sink.log"):
        wait_until_sunk(store_settings, len(records))
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        shown = subprocess.run([*CDP, "sql", "--json", "SELECT count() AS n, uniqExact(event_id) AS ids FROM events"],
                               env=cdp_env(store_settings), capture_output=True, text=True, timeout=120)
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout) == {"n": len(records), "ids": len(records)}
        assert run_read_only(store_settings, "SELECT count() FROM events").rows == [[len(records)]]
        status = subprocess.run([*CDP, "status", "--json"], env=cdp_env(store_settings), capture_output=True,
                                text=True, timeout=120)
        clickhouse = next(p for p in json.loads(status.stdout) if p["name"] == "clickhouse")
        assert clickhouse["state"] == "running" and "held by cdp sink" in clickhouse["detail"], status.stdout
    assert not path.exists(), "the sink removes its socket when it stops"


def test_the_sink_checks_every_statement_itself(store_settings, tmp_path):
    path = socket_path(store_settings.chdb_path)
    written = tmp_path / "written.txt"
    with running_sink(store_settings, tmp_path / "sink.log"):
        for sql in ("INSERT INTO event_log (type) VALUES ('x')", "DROP TABLE events", "SELECT 1; DROP TABLE events",
                    f"SELECT 1 INTO OUTFILE '{written}'", "SELECT file('/proc/self/environ')"):
            with pytest.raises(ReadOnlyQueryError):
                ask(path, sql, 10, 30)  # straight to the socket, past any check of this process
        with pytest.raises(QueryError, match="readonly"):
            ask(path, "SELECT 1 SETTINGS readonly = 0", 10, 30)
        with pytest.raises(ValueError, match="max_rows"):
            ask(path, "SELECT 1", 0, 30)
        with socket.socket(socket.AF_UNIX) as conn:
            conn.connect(str(path))
            conn.sendall(b"not json")
            conn.shutdown(socket.SHUT_WR)
            assert orjson.loads(conn.recv(1 << 16))["error"]["code"] == "bad_request"
        assert ask(path, "EXISTS TABLE events", 1, 30)["data"] == [[1]]
    assert not written.exists()


def test_a_stale_socket_of_a_killed_sink_does_not_break_queries(store_settings, tmp_path):
    records = population(20, seed=3)
    produce(store_settings, records)
    path = socket_path(store_settings.chdb_path)
    sink = start_sink(store_settings, tmp_path / "sink.log")
    try:
        wait_until_served(store_settings, sink, tmp_path / "sink.log")
        wait_until_sunk(store_settings, len(records))
    finally:
        sink.send_signal(signal.SIGKILL)
        sink.wait(10)
    assert path.exists()  # left behind, nobody listening
    assert run_read_only(store_settings, "SELECT count() FROM events").rows == [[len(records)]]  # opened here
    with running_sink(store_settings, tmp_path / "sink-2.log"):  # a new sink takes the name over
        assert ask(path, "SELECT count() FROM events", 1, 30)["data"] == [[str(len(records))]]


def test_a_holder_that_serves_no_queries_makes_the_store_unavailable_naming_it(store_settings):
    with held_store(store_settings) as holder:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match=f"PID: {holder.pid}"):
            run_read_only(store_settings, "SELECT 1")
        assert time.monotonic() - started < 5, "waits about a second, not the sink's five"


def test_a_sink_starting_while_a_query_holds_the_store_waits_for_it(store_settings, tmp_path):
    held = ChdbBackend(store_settings.chdb_path)  # as an API process does for one statement, only longer
    release = threading.Timer(1.5, held.close)
    release.start()
    sink = start_sink(store_settings, tmp_path / "sink.log")
    try:
        wait_until_served(store_settings, sink, tmp_path / "sink.log")
    finally:
        release.join()
        sink.terminate()
        sink.wait(60)
    assert sink.returncode == 0, (tmp_path / "sink.log").read_text()[-2000:]
