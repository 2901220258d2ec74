"""`cdp sink`, `cdp sql`, `cdp replay`, `cdp migrate`: the analytics store from the shell
(`cdp replay` also rebuilds the live profiles in Redis).

Registered on the main app by :func:`register`.

Who answers a query in local mode: chDB lets one process open the data directory. While
`cdp sink` runs, the sink holds it and answers `cdp sql` (and the API's ``POST /v1/sql``)
on its query socket; otherwise `cdp sql` opens the store itself for the one statement
(:mod:`projections.query_service`). With ``CDP_CLICKHOUSE_URL`` any number of processes
query the server.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import signal
from collections.abc import Callable
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from panorama.settings import Settings
from projections.readonly import DEFAULT_ROWS, MAX_ROWS

console = Console(stderr=True)


def register(app: typer.Typer, settings: Callable[[], Settings]) -> None:
    """Add the analytics commands to ``app``; ``settings()`` gives the settings the main
    command parsed (``--config``, ``--data-dir``)."""
    for command in (migrate, sink, sql, replay):
        app.command()(_with_settings(command, settings))


def _with_settings(command, settings: Callable[[], Settings]):
    """``command`` with its leading ``settings`` parameter filled from the CLI state."""
    @functools.wraps(command)
    def run(*args, **kwargs):
        return command(settings(), *args, **kwargs)
    signature = inspect.signature(command, eval_str=True)  # typer reads Annotated options from it, not strings
    run.__signature__ = signature.replace(parameters=list(signature.parameters.values())[1:])
    return run


def migrate(settings: Settings) -> None:
    """Create or upgrade the analytics tables and views (idempotent)."""
    from projections.store import migrate as apply

    applied = apply(settings)
    console.print(f"applied migrations: {applied}" if applied else "analytics schema is up to date")


def sink(
    settings: Settings,
    batch_size: Annotated[int | None, typer.Option(help="most messages per insert (default: each sink's own)")] = None,
    batch_seconds: Annotated[float, typer.Option(help="longest wait to fill a batch")] = 0.5,
    until_caught_up: Annotated[bool, typer.Option("--until-caught-up", help="exit once the log is fully sunk")] = False,
) -> None:
    """Run the sinks in the foreground: interaction log -> ClickHouse `event_log`, and the
    identity, signal, profile and segment records -> the customer tables (on a thread);
    with chDB, also answer `cdp sql` and the API's queries meanwhile (the query socket)."""
    from projections.query_service import serving_queries
    from projections.record_sink import RecordSink, SerializedBackend, running_beside
    from projections.sink import EventsSink
    from projections.store import analytics_store

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    sizes = {} if batch_size is None else {"batch_size": batch_size}
    with analytics_store(settings) as store, serving_queries(backend := SerializedBackend(store), settings):
        events_sink = EventsSink(
            settings, backend, **sizes, batch_seconds=batch_seconds,
            on_batch=lambda stats, n: logging.getLogger("projections.sink").info(
                "committed %d events (total %d, positions %s)", n, stats.events, stats.positions),
        )
        record_sink = RecordSink(
            settings, backend, **sizes, batch_seconds=batch_seconds,
            on_batch=lambda stats, n: logging.getLogger("projections.record_sink").info(
                "committed %d records (total %d)", n, stats.events),
        )
        try:
            with running_beside(record_sink, lambda: bool(stopping), until_caught_up) as should_stop:
                stats = events_sink.run(should_stop, until_caught_up=until_caught_up)
        except KeyboardInterrupt:
            stats = events_sink.stats
    console.print(f"sink stopped: {stats.events:,} events in {stats.batches:,} batches, {stats.retries} insert retries; "
                  f"{record_sink.stats.events:,} records in {record_sink.stats.batches:,} batches, "
                  f"{record_sink.stats.retries} insert retries")


def sql(
    settings: Settings,
    query: Annotated[str, typer.Argument(help="one read-only statement: SELECT, WITH, SHOW, DESCRIBE, EXPLAIN, EXISTS")],
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per row")] = False,
    max_rows: Annotated[int, typer.Option("--max-rows", min=1, max=MAX_ROWS, help="rows to print at most")] = DEFAULT_ROWS,
) -> None:
    """Run a read-only SQL query against the analytics store and print the rows (works while
    `cdp sink` runs: the sink answers it)."""
    from rich.table import Table

    from projections.query_service import run_read_only

    answer = run_read_only(settings, query, max_rows)
    names = [column["name"] for column in answer.columns]
    if as_json:
        for row in answer.rows:
            print(json.dumps(dict(zip(names, row)), ensure_ascii=False))
    else:
        table = Table(*names)
        for row in answer.rows:
            table.add_row(*(str(v) for v in row))
        Console().print(table)
    if answer.truncated:
        console.print(f"[yellow]![/yellow] only the first {max_rows:,} rows; --max-rows for more")


def replay(settings: Settings, yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False) -> None:
    """Drop every projection (ClickHouse tables, Redis profiles) and rebuild it from the Kafka log."""
    from projections.replay import log_size, replay as rebuild
    from projections.store import analytics_store
    from streams.rebuild import rebuild_profiles

    if not yes:
        typer.confirm("drop every analytics table and live profile and rebuild them from the interaction log?", abort=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        with analytics_store(settings) as backend:
            task = progress.add_task("ClickHouse", total=log_size(settings))
            stats = rebuild(settings, backend, on_progress=lambda n: progress.advance(task, n))
        profiles = progress.add_task("profiles", total=None)
        folded = rebuild_profiles(settings, lambda done, total: progress.update(profiles, completed=done, total=total))
    console.print(f"replayed {stats.events:,} events into ClickHouse and {folded:,} into the live profiles (Redis)")
    if settings.retention_file is not None:  # the log still holds what the policy expired; expire it again
        from panorama.privacy.retention import apply, load_policy, topic_retention_ms
        from panorama.security.cli import cli_actor

        expired = apply(settings, load_policy(settings.retention_file), cli_actor(), analytics_store,
                        topic_retention_ms(settings))
        console.print(f"retention ({settings.retention_file}): {expired.event_rows_deleted:,} expired events removed again "
                      f"from ClickHouse, {expired.recent_events_removed:,} from the recent-event lists")
