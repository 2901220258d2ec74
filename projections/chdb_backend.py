"""chDB: the ClickHouse engine inside this process, data on disk under ``chdb_path``.

chDB admits one open data directory per process and one process per directory, so the
process that runs the sink is also the one that answers queries (see ``docs/analytics.md``,
"Who owns the embedded store"). Opening a second directory in the same process works only
after the first is closed.
"""

from __future__ import annotations

import shutil
from itertools import count
from pathlib import Path
from typing import Any

import pyarrow as pa

from panorama.errors import ProjectionError, QueryError
from projections.avro_input import AvroInsert, sql_string
from projections.backend import QueryResult


_WIDE_INTEGERS = {"UInt128": False, "UInt256": False, "Int128": True, "Int256": True}  # type -> signed
SPOOL_DIR = "avro-spool"  # under the data directory: Avro containers on their way in


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
        self._spool = path / SPOOL_DIR
        shutil.rmtree(self._spool, ignore_errors=True)  # what a killed process left behind
        self._spool.mkdir()
        self._spooled = count()

    def command(self, sql: str) -> None:
        self._run(sql, "TSVRaw")

    def query(self, sql: str) -> QueryResult:
        table = self._run(sql, "ArrowTable")
        columns = table.column_names
        values = [table.column(c).to_pylist() for c in columns]
        wide = [i for i, field in enumerate(table.schema) if pa.types.is_fixed_size_binary(field.type)
                and field.type.byte_width in (16, 32)]
        if wide:
            self._wide_integers(sql, values, wide)
        return QueryResult(columns, list(zip(*values)))

    def _wide_integers(self, sql: str, values: list[list[Any]], candidates: list[int]) -> None:
        """Turn (U)Int128/256 columns into ints, as the server backend returns them: chDB's
        Arrow output gives their little-endian bytes, which a ``FixedString(16)`` shares, so
        the result's types are asked for (only when such a column is there). A statement
        that cannot be described (not a SELECT) keeps the bytes."""
        try:
            types = self._run(f"DESCRIBE TABLE ({sql.strip().rstrip(';')})", "ArrowTable").column("type").to_pylist()
        except QueryError:
            return
        for i in candidates:
            kind = _WIDE_INTEGERS.get(types[i].removeprefix("Nullable(").rstrip(")"))
            if kind is not None:
                values[i] = [None if v is None else int.from_bytes(v, "little", signed=kind) for v in values[i]]

    def insert(self, table: str, data: pa.Table, settings: dict[str, Any] | None = None) -> None:
        """``INSERT ... SELECT FROM Python(batch)``: chDB reads the Arrow buffers in place,
        which measured faster here than streaming Arrow IPC bytes through ``send_insert``."""
        batch = data  # noqa: F841 - chDB's Python() table function finds it by name in this frame
        columns = ", ".join(f"`{c}`" for c in data.column_names)
        settings_sql = f" SETTINGS {_settings_sql(settings)}" if settings else ""
        self._run(f"INSERT INTO {table} ({columns}){settings_sql} SELECT * FROM Python(batch)", "TSVRaw")

    def insert_avro(self, statement: AvroInsert, container: bytes, settings: dict[str, Any] | None = None) -> None:
        """``INSERT ... SELECT ... FROM file(path, Avro, structure)``. chDB's streaming insert
        takes no ``INSERT ... SELECT`` and a query parameter cannot carry binary bytes, so
        the container goes through a file, deleted as soon as the insert returns (it stays
        in the page cache meanwhile; the file is the ~1 % of the insert's cost)."""
        spooled = self._spool / f"{next(self._spooled)}.avro"
        spooled.write_bytes(container)
        try:
            source = f"file({sql_string(str(spooled))}, 'Avro', {sql_string(statement.structure)})"
            settings_sql = f" SETTINGS {_settings_sql(settings)}" if settings else ""
            self._run(statement.sql(source, settings_sql), "TSVRaw")
        finally:
            spooled.unlink()

    def close(self) -> None:
        self._session.close()
        shutil.rmtree(self._spool, ignore_errors=True)

    def _run(self, sql: str, fmt: str) -> Any:
        try:
            return self._session.query(sql, fmt)
        except Exception as e:  # noqa: BLE001 - ChdbError carries the engine's message
            raise QueryError(f"chDB at {self.path} refused the statement: {e}") from e


def _settings_sql(settings: dict[str, Any]) -> str:
    return ", ".join(f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}" for k, v in settings.items())
