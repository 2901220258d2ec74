"""ClickHouse for the local stack: chDB, the ClickHouse engine in-process, data on disk.

chDB lets one process at a time open a data directory, so the stack never keeps it open:
``cdp up`` creates the directory and checks the engine answers, and later the process
that owns the analytics store opens it. A ClickHouse server named by
``CDP_CLICKHOUSE_URL`` is used instead when set.
"""

from __future__ import annotations

from pathlib import Path

from panorama.errors import PanoramaError, StackError


def chdb_version(path: Path) -> str:
    """The version of the embedded engine at ``path``: asked of the `cdp sink` that holds
    it and serves queries (so `cdp status` does not call a running sink's store
    unhealthy), else by opening it here and closing it again."""
    from projections.query_socket import ask, socket_path

    try:
        served = ask(socket_path(path), "SELECT version()", 1, 5.0)
    except PanoramaError as e:  # a sink that holds the store and does not answer
        raise StackError(f"the cdp sink holding {path} did not answer: {e}") from e
    if served is not None:
        return f"{served['data'][0][0]}, held by cdp sink"
    from projections.chdb_backend import ChdbBackend

    try:
        backend = ChdbBackend(path, wait_for_lock=0.0)
    except PanoramaError as e:  # held by a process that serves no queries, or unusable
        raise StackError(str(e)) from e
    try:
        return str(backend.query("SELECT version()").scalar())
    finally:
        backend.close()


def server_version(url: str) -> str:
    try:
        import clickhouse_connect
    except ImportError as e:
        raise StackError(
            "CDP_CLICKHOUSE_URL is set but clickhouse-connect is missing: pip install 'panorama-cdp[server]'"
        ) from e
    try:
        client = clickhouse_connect.get_client(dsn=url)
        return str(client.server_version)
    except Exception as e:  # noqa: BLE001 - the driver raises many types; all mean "unreachable"
        raise StackError(f"ClickHouse at {url} does not answer: {e}") from e
