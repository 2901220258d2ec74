"""The analytics store interface: one SQL dialect, two engines.

Callers hold a :class:`Backend` and never know whether chDB (the ClickHouse engine
in-process, the local default) or a ClickHouse server (``CDP_CLICKHOUSE_URL``, through
clickhouse-connect) answers. Every statement in ``projections/`` runs unchanged on both.

Inserts take a ``pyarrow.Table`` (columns, never per-row JSON), or — for the events
sink — an Avro Object Container File that ClickHouse decodes itself with an
``INSERT ... SELECT`` (``projections/avro_input.py``): decoding Avro in Python cost ~30 us
per event, ClickHouse's Avro input a few.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa

from panorama.settings import Settings
from projections.avro_input import AvroInsert


@dataclass(frozen=True)
class QueryResult:
    """Rows of a query, with the names of its columns."""

    columns: list[str]
    rows: list[tuple[Any, ...]]

    def scalar(self) -> Any:
        return self.rows[0][0]

    def as_dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row)) for row in self.rows]


class Backend(Protocol):
    """A connection to the analytics store.

    ``command`` runs DDL or a mutation; ``query`` returns rows; ``insert`` writes a
    table of columns and returns only once the rows are durable (a written part on
    disk) — callers commit Kafka offsets after it returns, never before. Methods raise
    :class:`panorama.errors.StoreUnavailable` when the engine cannot be reached and
    :class:`panorama.errors.QueryError` when it refused the statement (for chDB, which
    runs in-process, every failure is the latter: a full disk shows up there too).
    """

    name: str

    def command(self, sql: str) -> None: ...

    def query(self, sql: str) -> QueryResult: ...

    def query_bytes(self, sql: str, fmt: str) -> bytes:
        """The result as the engine writes it in its output format ``fmt`` (``JSONCompact``):
        its own column types and value encoding, the same from chDB and from a server."""
        ...

    def insert(self, table: str, data: pa.Table, settings: dict[str, Any] | None = None) -> None: ...

    def insert_avro(self, statement: AvroInsert, container: bytes, settings: dict[str, Any] | None = None) -> None:
        """Run ``statement`` over ``container`` (Avro Object Container File bytes); durable
        on return, like :meth:`insert`."""
        ...

    def writers(self, n: int) -> list[Backend]:
        """Up to ``n`` handles on the same store whose inserts may run at the same time, one
        thread each; closed with this backend."""
        ...

    def close(self) -> None: ...


def open_backend(settings: Settings, wait_for_lock: float | None = None) -> Backend:
    """The server named by ``CDP_CLICKHOUSE_URL`` if set, otherwise chDB at ``settings.chdb_path``,
    waiting up to ``wait_for_lock`` s (default :data:`~projections.chdb_backend.LOCK_WAIT_S`)
    while another process holds its directory."""
    if settings.clickhouse_url:
        from projections.server_backend import ServerBackend

        return ServerBackend(settings.clickhouse_url)
    from projections.chdb_backend import LOCK_WAIT_S, ChdbBackend

    return ChdbBackend(settings.chdb_path, LOCK_WAIT_S if wait_for_lock is None else wait_for_lock)
