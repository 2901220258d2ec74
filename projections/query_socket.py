"""The query socket: read-only SQL answered by the process that holds the embedded store.

chDB lets one process open a data directory. While `cdp sink` holds it, the sink listens
on ``<chdb dir>/query.sock`` (mode 0600: the same OS user only) and runs each statement
it is sent between its own inserts. Other processes (`cdp sql`, the API) send theirs
there instead of opening the store (:mod:`projections.query_service`).

One exchange per connection. The client sends one JSON object,
``{"query": "...", "max_rows": 1000}``, and shuts down its side; the server answers one
JSON object, ``{"result": <the engine's JSONCompact answer>}`` or
``{"error": {"code": ..., "message": ...}}``, and closes. Codes: ``read_only_query`` (the
statement is not an allowed read), ``query_failed`` (the engine refused it),
``store_unavailable``, ``bad_request`` (not such an object), ``internal``.

A socket file without a listener (a sink killed with SIGKILL leaves one) refuses the
connection, which :func:`ask` reports as "nobody serves": the next sink replaces the file.
"""

from __future__ import annotations

import logging
import os
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from panorama.errors import ProjectionError, QueryError, ReadOnlyQueryError, StoreUnavailable

log = logging.getLogger(__name__)

SOCKET_NAME = "query.sock"
MAX_REQUEST = 1 << 20  # bytes: a statement is far smaller (the API takes 64 KiB bodies)
_MAX_PATH = 107  # bytes of a Unix socket path (sun_path is 108 with its NUL)
_ERRORS: tuple[tuple[str, type[Exception]], ...] = (  # most specific first
    ("read_only_query", ReadOnlyQueryError), ("query_failed", QueryError), ("store_unavailable", StoreUnavailable),
    ("bad_request", ValueError), ("internal", ProjectionError),
)

Run = Callable[[str, int], bytes]  # (statement, max_rows) -> the engine's JSONCompact answer


def socket_path(chdb_path: Path) -> Path:
    return chdb_path / SOCKET_NAME


@contextmanager
def listening(path: Path, run: Run) -> Iterator[bool]:
    """Answer requests on ``path`` with ``run`` (a thread per connection) while the block
    runs; yields whether it listens (not when ``path`` is too long for a Unix socket). On
    exit it stops accepting, waits for the answers in flight and removes the file."""
    staging = path.with_suffix(f".{os.getpid()}")  # bound and chmod-ed here, then moved into place
    if max(len(os.fsencode(p)) for p in (path, staging)) > _MAX_PATH:
        log.warning("not serving queries: %s is longer than a Unix socket path may be (%d bytes)", path, _MAX_PATH)
        yield False
        return
    staging.unlink(missing_ok=True)
    server = _Server(str(staging), run)
    try:
        os.chmod(staging, 0o600)
        server.server_activate()
        os.replace(staging, path)  # over a stale file a killed sink left
    except BaseException:
        server.server_close()
        staging.unlink(missing_ok=True)
        raise
    thread = threading.Thread(target=server.serve_forever, name="query-socket", daemon=True)
    thread.start()
    try:
        yield True
    finally:
        server.shutdown()
        server.server_close()
        path.unlink(missing_ok=True)


def ask(path: Path, sql: str, max_rows: int, timeout_s: float) -> dict[str, Any] | None:
    """The engine's answer (parsed JSONCompact) from the process listening on ``path``, or
    ``None`` when none listens. Raises what the server raised (by its code), and
    :class:`StoreUnavailable` when it does not answer within ``timeout_s``."""
    if len(os.fsencode(path)) > _MAX_PATH:
        return None  # nobody can listen there (see listening)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(timeout_s)
        try:
            conn.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            return None
        except OSError as e:
            raise StoreUnavailable(f"cannot reach the sink's query socket {path}: {e}") from e
        try:
            conn.sendall(orjson.dumps({"query": sql, "max_rows": max_rows}))
            conn.shutdown(socket.SHUT_WR)
            reply = orjson.loads(_read_to_end(conn))
        except (OSError, orjson.JSONDecodeError) as e:  # a timeout is an OSError
            raise StoreUnavailable(f"the sink's query socket {path} did not answer: {e}") from e
    if "error" in reply:
        code, message = reply["error"]["code"], reply["error"]["message"]
        raise dict(_ERRORS).get(code, ProjectionError)(message)
    return reply["result"]


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = False
    block_on_close = True  # server_close() waits for the answers in flight: the store closes after them

    def __init__(self, address: str, run: Run):
        super().__init__(address, _Exchange, bind_and_activate=False)
        self.run = run
        self.server_bind()


class _Exchange(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        try:
            request = orjson.loads(_read_to_end(self.request, MAX_REQUEST))  # JSONDecodeError is a ValueError
            if not (isinstance(request, dict) and isinstance(request.get("query"), str)
                    and type(request.get("max_rows")) is int):
                raise ValueError('a request is {"query": string, "max_rows": integer}')
            reply = b'{"result":' + self.server.run(request["query"], request["max_rows"]) + b"}"
        except Exception as e:  # noqa: BLE001 - every failure goes back to the client, named
            code = next((code for code, kind in _ERRORS if isinstance(e, kind)), "internal")
            if code == "internal":
                log.exception("query socket: answering a request failed")
            reply = orjson.dumps({"error": {"code": code, "message": str(e)}})
        self.request.sendall(reply)


def _read_to_end(conn: socket.socket, limit: int | None = None) -> bytes:
    chunks, size = [], 0
    while chunk := conn.recv(1 << 16):
        chunks.append(chunk)
        size += len(chunk)
        if limit is not None and size > limit:
            raise ValueError(f"request larger than {limit} bytes")
    return b"".join(chunks)
