"""chDB: the ClickHouse engine inside this process, data on disk under ``chdb_path``.

chDB admits one open data directory per process and one process per directory, so the
process that runs the sink is also the one that answers queries (see ``docs/analytics.md``,
"Who owns the embedded store"). Opening a second directory in the same process works only
after the first is closed.

ClickHouse marks a directory as held by ``flock`` on its ``status`` file (which names the
holder's PID). Opening waits up to ``wait_for_lock`` seconds for another process to let go:
a `cdp sql` or API query opens the store for ~0.1 s, and a sink starting meanwhile must not
fail because of it.

Inside the process, one session runs one statement at a time and an insert decodes its
rows on one core, so :meth:`ChdbBackend.writers` opens more sessions on the same directory
for inserts that run side by side (and leave the first session free for queries).
"""

from __future__ import annotations

import copy
import fcntl
import os
import shutil
import time
from itertools import count
from pathlib import Path
from typing import Any

import pyarrow as pa

from panorama.errors import ProjectionError, QueryError, StoreUnavailable
from projections.avro_input import AvroInsert, settings_sql, sql_string
from projections.backend import QueryResult


_WIDE_INTEGERS = {"UInt128": False, "UInt256": False, "Int128": True, "Int256": True}  # type -> signed
SPOOL_DIR = "avro-spool"  # under the data directory: Avro containers on their way in
LOCK_WAIT_S = 5.0  # how long opening waits for another process to close the directory
_LOCK_POLL_S = 0.05


class ChdbBackend:
    name = "chdb"

    def __init__(self, path: Path, wait_for_lock: float = LOCK_WAIT_S):
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._session = _open_session(path, wait_for_lock)
        self._spool = path / SPOOL_DIR
        shutil.rmtree(self._spool, ignore_errors=True)  # what a killed process left behind
        self._spool.mkdir()
        self._spooled = count()
        self._writers: list[ChdbBackend] = []
        self._owns_store = True

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

    def query_bytes(self, sql: str, fmt: str) -> bytes:
        return self._run(sql, fmt).bytes()

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
        clause = f" SETTINGS {settings_sql(settings)}" if settings else ""
        self._run(f"INSERT INTO {table} ({columns}){clause} SELECT * FROM Python(batch)", "TSVRaw")

    def insert_avro(self, statement: AvroInsert, container: bytes, settings: dict[str, Any] | None = None) -> None:
        """``INSERT ... SELECT ... FROM file(path, Avro, structure)``. chDB's streaming insert
        takes no ``INSERT ... SELECT`` and a query parameter cannot carry binary bytes, so
        the container goes through a file, deleted as soon as the insert returns (it stays
        in the page cache meanwhile; the file is the ~1 % of the insert's cost)."""
        spooled = self._spool / f"{next(self._spooled)}.avro"
        spooled.write_bytes(container)
        try:
            source = f"file({sql_string(str(spooled))}, 'Avro', {sql_string(statement.structure)})"
            clause = f" SETTINGS {settings_sql(settings)}" if settings else ""
            self._run(statement.sql(source, clause), "TSVRaw")
        finally:
            spooled.unlink()

    def writers(self, n: int) -> list[ChdbBackend]:
        """``n`` handles on this store for inserts that run at once, one thread each: sessions
        of their own on the same directory (opened on first use, closed with this backend).
        Two Avro inserts of 50,000 events side by side took ~1.4x the rows/s of one after
        the other here; on one session they take turns."""
        while len(self._writers) < n:
            from chdb import session

            writer = copy.copy(self)
            writer._session, writer._writers, writer._owns_store = session.Session(str(self.path)), [], False
            self._writers.append(writer)
        return self._writers[:n]

    def close(self) -> None:
        """Close the session (a writer's only); the store's own also closes its writers."""
        for writer in self._writers:
            writer.close()
        self._session.close()
        if self._owns_store:
            shutil.rmtree(self._spool, ignore_errors=True)

    def _run(self, sql: str, fmt: str) -> Any:
        try:
            return self._session.query(sql, fmt)
        except Exception as e:  # noqa: BLE001 - ChdbError carries the engine's message
            raise QueryError(f"chDB at {self.path} refused the statement: {e}") from e


def held_by(path: Path) -> str | None:
    """Who holds the chDB directory ``path`` (``PID: 1234``, from its status file) if another
    process has it open; ``None`` if nobody does, or only this process (chDB opens a second
    session on a directory this process holds)."""
    status = path / "status"
    try:
        fd = os.open(status, os.O_RDONLY)
    except FileNotFoundError:  # ClickHouse removes it on close
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = next(iter(status.read_text(errors="replace").splitlines()), "") or "another process"
            return None if holder == f"PID: {os.getpid()}" else holder
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _open_session(path: Path, wait_for_lock: float) -> Any:
    """A chDB session on ``path``, waiting up to ``wait_for_lock`` s while another process
    holds it (checked before each try, so chDB does not print a lock error per try)."""
    from chdb import session

    deadline = time.monotonic() + wait_for_lock
    while True:
        holder = held_by(path)
        if holder is None:
            try:
                return session.Session(str(path))
            except Exception as e:  # noqa: BLE001 - chDB raises RuntimeError or ChdbError
                holder = held_by(path)  # taken between the check and the open?
                if holder is None:
                    raise ProjectionError(f"chDB could not open {path}: {e}") from e
        if time.monotonic() >= deadline:
            raise StoreUnavailable(
                f"chDB could not open {path}: another process holds it ({holder}). Only one process "
                "may open an embedded ClickHouse directory: `cdp sql` and the API query through a "
                "running `cdp sink`; stop any other holder (`cdp replay`, `cdp migrate`) first.")
        time.sleep(_LOCK_POLL_S)
