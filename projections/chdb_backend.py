"""chDB: the ClickHouse engine inside this process, data on disk under ``chdb_path``.

chDB admits one open data directory per process and one process per directory, so the
process that runs the sink is also the one that answers queries (see ``docs/analytics.md``,
"Who owns the embedded store"). Opening a second directory in the same process works only
after the first is closed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from panorama.errors import ProjectionError, QueryError
from projections.backend import QueryResult


class ChdbBackend:
    name = "chdb"

    def __init__(self, path: Path):
        from chdb import session

        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        try:
            self._session = session.Session(str(path))
        except Exception as e:  # noqa: BLE001 - chDB raises RuntimeError or ChdbError
            raise ProjectionError(
                f"chDB could not open {path}: {e}. Only one process may open an embedded "
                "ClickHouse directory: query through the process that holds it (`cdp sql` "
                "does that when `cdp sink` runs) or stop it first."
            ) from e

    def command(self, sql: str) -> None:
        self._run(sql, "TSVRaw")

    def query(self, sql: str) -> QueryResult:
        table = self._run(sql, "ArrowTable")
        columns = table.column_names
        return QueryResult(columns, list(zip(*(table.column(c).to_pylist() for c in columns))))

    def insert(self, table: str, data: pa.Table, settings: dict[str, Any] | None = None) -> None:
        """``INSERT ... SELECT FROM Python(batch)``: chDB reads the Arrow buffers in place,
        which measured faster here than streaming Arrow IPC bytes through ``send_insert``."""
        batch = data  # noqa: F841 - chDB's Python() table function finds it by name in this frame
        columns = ", ".join(f"`{c}`" for c in data.column_names)
        settings_sql = f" SETTINGS {_settings_sql(settings)}" if settings else ""
        self._run(f"INSERT INTO {table} ({columns}){settings_sql} SELECT * FROM Python(batch)", "TSVRaw")

    def close(self) -> None:
        self._session.close()

    def _run(self, sql: str, fmt: str) -> Any:
        try:
            return self._session.query(sql, fmt)
        except Exception as e:  # noqa: BLE001 - ChdbError carries the engine's message
            raise QueryError(f"chDB at {self.path} refused the statement: {e}") from e


def _settings_sql(settings: dict[str, Any]) -> str:
    return ", ".join(f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}" for k, v in settings.items())
