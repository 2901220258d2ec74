"""A ClickHouse server through clickhouse-connect (``CDP_CLICKHOUSE_URL``), same SQL as chDB."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from panorama.errors import ProjectionError, QueryError, StoreUnavailable
from projections.avro_input import AvroInsert, sql_string
from projections.backend import QueryResult


class ServerBackend:
    name = "clickhouse-server"

    def __init__(self, url: str):
        try:
            import clickhouse_connect
        except ImportError as e:
            raise ProjectionError(
                "CDP_CLICKHOUSE_URL is set but clickhouse-connect is missing: pip install 'panorama-cdp[server]'"
            ) from e
        self.url = url
        try:
            self._client = clickhouse_connect.get_client(dsn=url)
        except Exception as e:  # noqa: BLE001 - the driver raises many types; all mean "unreachable"
            raise StoreUnavailable(f"ClickHouse at {url} does not answer: {e}") from e

    def command(self, sql: str) -> None:
        self._call(self._client.command, sql)

    def query(self, sql: str) -> QueryResult:
        result = self._call(self._client.query, sql)
        return QueryResult(list(result.column_names), [tuple(r) for r in result.result_rows])

    def query_bytes(self, sql: str, fmt: str) -> bytes:
        return self._call(self._client.raw_query, sql, fmt=fmt)

    def insert(self, table: str, data: pa.Table, settings: dict[str, Any] | None = None) -> None:
        self._call(self._client.insert_arrow, table, data, settings=settings or {})

    def insert_avro(self, statement: AvroInsert, container: bytes, settings: dict[str, Any] | None = None) -> None:
        """``INSERT ... SELECT ... FROM input(structure) FORMAT Avro`` with the container as
        the HTTP body: the server decodes it, as chDB does from its file."""
        sql = statement.sql(f"input({sql_string(statement.structure)})") + "\nFORMAT Avro"
        self._call(self._client.command, sql, data=container, settings=settings or {})

    def writers(self, n: int) -> list[ServerBackend]:
        """This client alone: the server decodes an insert on its own cores, and one
        clickhouse-connect client runs one statement at a time."""
        return [self]

    def close(self) -> None:
        self._client.close()

    def _call(self, fn, *args, **kwargs) -> Any:
        from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

        try:
            return fn(*args, **kwargs)
        except OperationalError as e:
            raise StoreUnavailable(f"ClickHouse at {self.url} does not answer: {e}") from e
        except DatabaseError as e:
            raise QueryError(f"ClickHouse at {self.url} refused the statement: {e}") from e
