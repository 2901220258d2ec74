"""The `cdp` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from panorama.errors import PanoramaError
from panorama.settings import Settings, load_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Panorama customer data platform.")
console = Console(stderr=True)


class State:
    config: Path | None = None
    data_dir: Path | None = None

    def settings(self) -> Settings:
        overrides = {"data_dir": self.data_dir} if self.data_dir else {}
        return load_settings(self.config, **overrides)


state = State()


@app.callback()
def main_options(
    config: Annotated[Path | None, typer.Option("--config", help="env-style settings file (or CDP_CONFIG)")] = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="overrides CDP_DATA_DIR")] = None,
) -> None:
    state.config = config
    state.data_dir = data_dir


@app.command()
def up(
    services_only: Annotated[bool, typer.Option("--services-only", help="Kafka, Redis, chDB; not the platform's processes")] = False,
) -> None:
    """Start the local stack (Kafka, Redis, chDB) and the platform's processes; idempotent."""
    from panorama.stack.local import SERVICES
    from panorama.stack.local import up as stack_up

    settings = state.settings()
    parts = stack_up(settings, with_platform=not services_only, progress=lambda msg: console.print(f"[dim]•[/dim] {msg}"))
    _print_status(parts)
    relevant = [p for p in parts if p.name in SERVICES] if services_only else parts
    if not all(p.healthy for p in relevant):
        raise typer.Exit(1)
    if not services_only:
        from panorama.security.cli import first_admin_hint

        hint = first_admin_hint(settings)
        if hint:
            console.print(f"[yellow]![/yellow] {hint}")


@app.command()
def down() -> None:
    """Stop what `cdp up` started (and nothing else)."""
    from panorama.stack.local import down as stack_down

    stopped = stack_down(state.settings())
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing of ours was running")


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False) -> None:
    """Show each part of the stack: state, address, pid, log. Exit 1 if any is unhealthy."""
    from panorama.stack.local import status as stack_status

    parts = stack_status(state.settings())
    if as_json:
        print(json.dumps([p.as_dict() for p in parts], indent=2))
    else:
        _print_status(parts)
    if not all(p.healthy for p in parts):
        raise typer.Exit(1)


def _print_status(parts) -> None:
    table = Table("part", "state", "address", "pid", "log / detail")
    colours = {"running": "green", "external": "cyan", "stopped": "yellow", "unhealthy": "red"}
    for p in parts:
        table.add_row(p.name, f"[{colours[p.state]}]{p.state}[/]", p.address, str(p.pid or ""), p.detail or p.log or "")
    Console().print(table)


@app.command()
def serve(
    workers: Annotated[int, typer.Option("--workers", min=1, help="API processes (one per core for collector throughput)")] = 1,
) -> None:
    """Run the HTTP API in the foreground (port 8080 by default)."""
    if workers > 1:
        from connectors.collector.workers import serve as run_workers

        run_workers(state.settings(), workers)
        return
    from panorama.api import serve as run_api

    run_api(state.settings())


@app.command()
def topics() -> None:
    """Create any missing topics and list them with their settings."""
    from panorama.stack.topics import ensure_topics, topic_specs

    settings = state.settings()
    created = ensure_topics(settings)
    table = Table("topic", "partitions", "replication", "config", "")
    for spec in topic_specs(settings):
        config = ", ".join(f"{k}={v}" for k, v in spec.config.items())
        table.add_row(spec.name, str(spec.partitions), str(spec.replication), config, "created" if spec.name in created else "")
    Console().print(table)


@app.command()
def demo(
    customers: Annotated[int, typer.Option(help="how many customers to simulate")] = 1000,
    seed: Annotated[int, typer.Option(help="random seed; the same seed gives the same events")] = 7,
) -> None:
    """Produce a multi-channel demo population into the interaction log."""
    from connectors.demo import generate_population
    from producers import InteractionProducer

    settings = state.settings()
    with InteractionProducer(settings) as producer, console.status("producing demo events") as spinner:
        for n, record in enumerate(generate_population(customers, seed), 1):
            producer.send(record, source="demo")
            if n % 5000 == 0:
                spinner.update(f"producing demo events: {n:,} sent")
    console.print(
        f"demo: {producer.stats.acked:,} events acknowledged by Kafka on {settings.topics.interactions}, "
        f"{producer.stats.dead_lettered:,} dead-lettered"
    )


@app.command()
def tail(
    n: Annotated[int, typer.Option("-n", help="how many events per partition, from the end")] = 5,
    show_pii: Annotated[bool, typer.Option("--show-pii", help="print personal fields unmasked")] = False,
) -> None:
    """Print the latest events of the interaction log, decoded, personal fields masked."""
    from panorama.log_reader import latest_events

    for record in latest_events(state.settings(), n, mask_pii_fields=not show_pii):
        print(json.dumps(record, default=str, ensure_ascii=False))


def _register_domain_commands() -> None:
    """Each domain package keeps its commands in its own ``cli`` module."""
    from connectors.cli import register as register_connectors
    from panorama.privacy.cli import register as register_privacy
    from panorama.security.cli import register as register_security
    from projections.cli import register as register_projections
    from streams.cli import register as register_streams
    from streams.segments.cli import register as register_segments

    for register in (register_connectors, register_projections, register_streams, register_segments, register_security,
                     register_privacy):
        register(app, state.settings)


_register_domain_commands()


def main() -> None:
    try:
        app()
    except PanoramaError as e:
        # never wrapped (paths and commands stay whole, copyable) nor read as markup (log lines)
        console.print("[red]error:[/red]", escape(str(e)), soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
