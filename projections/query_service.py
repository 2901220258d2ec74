"""Read-only SQL against the analytics store, for `cdp sql` and `POST /v1/sql`.

Where a statement runs (:func:`run_read_only`):

* ``CDP_CLICKHOUSE_URL`` set: on that server.
* chDB: one process may open the data directory. If a `cdp sink` holds it, the statement
  goes to that process over its query socket (:mod:`projections.query_socket`) and runs
  there, between the sink's inserts; otherwise this process opens the store, runs it and
  closes it again (~85 ms p50 with the platform's tables, against ~4 ms through the
  socket), one statement at a time per process.

Wherever it runs, the process that holds the store does the checking (:func:`execute`;
the sink does not trust its client): :mod:`projections.readonly`'s guards, then the
statement under ``readonly = 1`` with the limits, answered in the engine's ``JSONCompact``
format. So the column types are ClickHouse's own and the values are encoded by ClickHouse
the same way on both engines: dates and times ISO 8601 (UTC), Decimals and 64-bit or wider
integers as strings (those within ±(2^53 - 1) are turned back into numbers here, for
columns and arrays of them), NaN and infinities as null, UUIDs and IP addresses as text.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import orjson

from panorama.errors import StoreUnavailable
from panorama.settings import Settings
from projections.avro_input import sql_string
from projections.backend import Backend, open_backend
from projections.query_socket import ask, listening, socket_path
from projections.readonly import DEFAULT_ROWS, MAX_ROWS, TIMEOUT_S, check_read_only, refuse_escapes, with_limits

OPEN_WAIT_S = 1.0  # how long opening the store waits for another process's query to end
SOCKET_SLACK_S = 15.0  # beyond TIMEOUT_S: the sink runs a statement after its insert in flight
JSON_OUTPUT = {
    "output_format_json_quote_64bit_integers": 1, "output_format_json_quote_decimals": 1,
    "output_format_json_quote_denormals": 0, "date_time_output_format": "iso", "output_format_json_validate_utf8": 1,
}
SAFE_INTEGER = 2**53 - 1  # JavaScript's Number.MAX_SAFE_INTEGER
_WIDE_INTEGERS = {f"{sign}Int{bits}" for sign in ("", "U") for bits in (64, 128, 256)}  # quoted by ClickHouse
_WRAPPED = re.compile(r"(?:Nullable|LowCardinality)\((.*)\)")
_OPENING = threading.Lock()  # chDB: one open data directory per process


@dataclass(frozen=True)
class SqlAnswer:
    """A statement's answer: ``columns`` as ``{"name", "type"}`` (ClickHouse types), ``rows``
    of JSON-ready values, whether rows were cut at ``max_rows``, and the wall time."""

    columns: list[dict[str, str]]
    rows: list[list[Any]]
    truncated: bool
    elapsed_ms: float

    def as_dict(self) -> dict[str, Any]:
        return {"columns": self.columns, "rows": self.rows, "rows_returned": len(self.rows),
                "truncated": self.truncated, "elapsed_ms": self.elapsed_ms}


def run_read_only(settings: Settings, sql: str, max_rows: int = DEFAULT_ROWS) -> SqlAnswer:
    """Run one read-only statement where the store is (see the module docstring).

    Raises :class:`~panorama.errors.ReadOnlyQueryError` for a statement that is not an
    allowed read, :class:`~panorama.errors.QueryError` with the engine's message when it
    refused it (syntax, unknown table, timeout), and
    :class:`~panorama.errors.StoreUnavailable` when the store cannot be reached or another
    process that does not serve queries holds it."""
    started = time.perf_counter()
    answer = _opened(settings, sql, max_rows) if settings.clickhouse_url else _on_chdb(settings, sql, max_rows)
    return _shaped(answer, max_rows, started)


def execute(backend: Backend, sql: str, max_rows: int) -> bytes:
    """Check ``sql`` and run it on ``backend`` under the limits: the engine's JSONCompact
    answer, up to a block more than ``max_rows + 1`` rows. Runs in the process that holds
    the store, whoever asked."""
    if not 1 <= max_rows <= MAX_ROWS:
        raise ValueError(f"max_rows must be 1 to {MAX_ROWS:,}, got {max_rows}")
    statement = check_read_only(sql)
    rendered = backend.query(f"SELECT formatQuerySingleLine({sql_string(statement)})").scalar()
    refuse_escapes(rendered)
    return backend.query_bytes(with_limits(rendered, max_rows, TIMEOUT_S, JSON_OUTPUT), "JSONCompact")


def serving_queries(backend: Backend, settings: Settings) -> AbstractContextManager[Any]:
    """While in it, answer other processes' statements through ``backend`` (the sink's
    serialized one) on the store's query socket. With a ClickHouse server every process
    queries it itself: nothing to serve."""
    if settings.clickhouse_url:
        return nullcontext()
    return listening(socket_path(settings.chdb_path), functools.partial(execute, backend))


def _on_chdb(settings: Settings, sql: str, max_rows: int) -> dict[str, Any]:
    """Through the sink's socket, else in this process. A store found held after all is
    asked for once more: a sink that was starting serves within a fraction of a second."""
    path = socket_path(settings.chdb_path)
    if (answer := ask(path, sql, max_rows, TIMEOUT_S + SOCKET_SLACK_S)) is not None:
        return answer
    with _OPENING:
        try:
            return _opened(settings, sql, max_rows)
        except StoreUnavailable:
            if (answer := ask(path, sql, max_rows, TIMEOUT_S + SOCKET_SLACK_S)) is None:
                raise
            return answer


def _opened(settings: Settings, sql: str, max_rows: int) -> dict[str, Any]:
    backend = open_backend(settings, wait_for_lock=OPEN_WAIT_S)
    try:
        return orjson.loads(execute(backend, sql, max_rows))
    finally:
        backend.close()


def _shaped(answer: dict[str, Any], max_rows: int, started: float) -> SqlAnswer:
    columns = [{"name": c["name"], "type": c["type"]} for c in answer["meta"]]
    rows = answer["data"][:max_rows]
    for index, convert in ((i, f) for i, c in enumerate(columns) if (f := _numbers_back(c["type"]))):
        for row in rows:
            row[index] = convert(row[index])
    return SqlAnswer(columns, rows, len(answer["data"]) > max_rows, round((time.perf_counter() - started) * 1000, 1))


def _numbers_back(column_type: str) -> Any:
    """For a column of 64-bit or wider integers (or arrays of them), which ClickHouse quotes,
    a function giving back numbers where JavaScript holds them exactly; ``None`` for others."""
    inner = column_type
    while wrapped := _WRAPPED.fullmatch(inner):
        inner = wrapped[1]
    if inner in _WIDE_INTEGERS:
        return _safe_integer
    if inner.startswith("Array(") and (element := _numbers_back(inner[len("Array("):-1])):
        return lambda values: None if values is None else [element(v) for v in values]
    return None


def _safe_integer(value: str | None) -> int | str | None:
    if value is None:
        return None
    number = int(value)
    return number if -SAFE_INTEGER <= number <= SAFE_INTEGER else value
