"""`cdp worker`, `cdp profile get`, `cdp identity explain`: registered on the main app
by :func:`register`."""

from __future__ import annotations

import json
import logging
import signal
from collections.abc import Callable
from typing import Annotated

import typer
from redis import Redis

from panorama.errors import ProfileNotFound, StreamError
from panorama.settings import Settings

profile_app = typer.Typer(no_args_is_help=True, help="Read live customer profiles.")
identity_app = typer.Typer(no_args_is_help=True, help="Inspect identity resolution.")
IdentityArg = Annotated[str, typer.Argument(
    help="email:…, phone:…, user_id:…, anonymous_id:…, device_id:…, external:<source>:…, customer:<id>, "
         "or a bare email / +phone / user id")]


def register(app: typer.Typer, settings: Callable[[], Settings]) -> None:
    def worker(
        batch_size: Annotated[int | None, typer.Option(
            min=1, help="most messages folded per transaction (default: CDP_WORKER_BATCH_SIZE, 5000)")] = None,
        session_timeout_ms: Annotated[int, typer.Option(help="how soon a crashed worker's partitions move")] = 10_000,
        metrics_port: Annotated[int | None, typer.Option(help="serve Prometheus metrics on this port")] = None,
        log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING")] = "INFO",
    ) -> None:
        """Build live profiles from the interaction log, in the foreground (SIGTERM stops it cleanly)."""
        from streams.worker import ProfileWorker

        logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
        stopping = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stopping.append(True))
        worker = ProfileWorker(settings(), batch_size=batch_size, session_timeout_ms=session_timeout_ms)
        if metrics_port is not None:
            from streams.metrics import serve_metrics

            serve_metrics(worker, metrics_port)
        worker.run(should_stop=lambda: bool(stopping))

    def get(identity: IdentityArg,
            purpose: Annotated[str | None, typer.Option("--purpose", help="why you read it (audited)")] = None) -> None:
        """Print the profile of the customer IDENTITY belongs to, as JSON (exit 1 if none); audited."""
        from panorama.security.cli import audited_read
        from streams.profiles.read import ProfileReader

        _print_or_exit(lambda reader: audited_read(settings(), reader, identity, purpose), settings(), ProfileReader)

    def explain(identity: IdentityArg) -> None:
        """Show the customer IDENTITY belongs to, its identities and the merges that made it."""
        from streams.profiles.read import ProfileReader

        _print_or_exit(lambda reader: reader.explain(identity), settings(), ProfileReader)

    def unmerge(
        identity: IdentityArg,
        other: Annotated[str, typer.Argument(help="an identity of the same customer that is not the same person")],
        reason: Annotated[str, typer.Option(help="why (kept in the graph history)")] = "",
    ) -> None:
        """Split the customer holding IDENTITY and OTHER apart; the pair is never linked again."""
        from streams.identity.nodes import NodeNamer
        from streams.identity.rules import configured_link_rules
        from streams.identity.unmerge import unmerge as split_customer
        from panorama.clock import now_us
        from streams.store import ProfileStore

        config = settings()
        namer = NodeNamer(config.routing_key_secret.get_secret_value().encode())
        store = ProfileStore(Redis.from_url(config.redis_address), config.topic_prefix, configured_link_rules(config))
        try:
            decision = split_customer(store, namer.parse(identity), namer.parse(other), now_us(),
                                      config.interactions_partitions, reason)
        except StreamError as e:
            typer.echo(f"not unmerged: {e}", err=True)
            raise typer.Exit(1) from e
        print(json.dumps(decision, indent=2))

    app.command()(worker)
    profile_app.command("get")(get)
    identity_app.command("explain")(explain)
    identity_app.command("unmerge")(unmerge)
    app.add_typer(profile_app, name="profile")
    app.add_typer(identity_app, name="identity")


def _print_or_exit(read, settings: Settings, reader_class) -> None:
    try:
        print(json.dumps(read(reader_class(Redis.from_url(settings.redis_address), settings)), indent=2, ensure_ascii=False))
    except ProfileNotFound as e:
        typer.echo(f"not found: {e}", err=True)
        raise typer.Exit(1) from e
