"""`cdp privacy forget|export|consent`: the data subject's rights from the shell.

Registered on the main app by :func:`register`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated

import typer
from rich.console import Console

from panorama.security.cli import cli_actor
from panorama.settings import Settings

console = Console(stderr=True)


def register(app: typer.Typer, settings: Callable[[], Settings]) -> None:
    privacy = typer.Typer(no_args_is_help=True, help="Right to erasure and access, consent.")
    app.add_typer(privacy, name="privacy")

    @privacy.command()
    def forget(
        identity: Annotated[str, typer.Argument(help="email:…, user_id:…, phone:…, customer:<id>, or a bare value")],
        reason: Annotated[str | None, typer.Option(help="why (e.g. the request's ticket id); audited")] = None,
        wait: Annotated[float, typer.Option(help="seconds to wait for the worker and the sink to catch up")] = 60.0,
        yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
    ) -> None:
        """Erase a customer: shred its data keys, delete its profile and analytics rows, audit it."""
        from panorama.privacy.forget import forget as run
        from projections.store import analytics_store

        if not yes:
            typer.confirm("erase this customer everywhere? this cannot be undone", abort=True)
        report = run(settings(), identity, cli_actor(), reason, analytics_store, wait_s=wait)
        print(json.dumps(report.__dict__, indent=2))
        if report.consumers_behind:
            console.print(f"[yellow]warning:[/yellow] {', '.join(report.consumers_behind)} had not read the log up to "
                          "the forget; nothing is lost: when they do, this customer's events are dropped (crypto-shredded, "
                          "forgotten list). `cdp sink --until-caught-up` brings the analytics store up to date")

    @privacy.command()
    def export(
        identity: Annotated[str, typer.Argument(help="email:…, user_id:…, phone:…, customer:<id>, or a bare value")],
        reason: Annotated[str | None, typer.Option(help="why (e.g. the request's ticket id); audited")] = None,
    ) -> None:
        """Print everything held about a customer as JSON (access request); audited."""
        from panorama.privacy.export import export as run

        print(json.dumps(run(settings(), identity, cli_actor(), reason), indent=2, default=str, ensure_ascii=False))

    retention = typer.Typer(no_args_is_help=True, help="Retention per event type (CDP_RETENTION_FILE).")
    privacy.add_typer(retention, name="retention")

    @retention.command("show")
    def retention_show() -> None:
        """Print the policy, each type's cutoff and what applies to the Kafka log."""
        from panorama.clock import now_us
        from panorama.privacy.retention import load_policy, kafka_note, topic_retention_ms

        current = settings()
        policy = load_policy(current.retention_file)
        named, default = policy.cutoffs(now_us())
        print(json.dumps({"policy": policy.as_dict(), "cutoffs_us": {"*": default} | named,
                          "kafka": kafka_note(policy, topic_retention_ms(current))}, indent=2))

    @retention.command("apply")
    def retention_apply() -> None:
        """Delete expired events from ClickHouse (physically) and Redis; audited. Run it
        daily (cron, a systemd timer) and after a replay."""
        from panorama.privacy.retention import apply, load_policy, topic_retention_ms
        from projections.store import analytics_store

        current = settings()
        report = apply(current, load_policy(current.retention_file), cli_actor(), analytics_store,
                       topic_retention_ms(current))
        print(json.dumps(report.__dict__, indent=2))

    @privacy.command()
    def consent(
        identity: Annotated[str, typer.Argument(help="any identity of the customer")],
        purpose: Annotated[str, typer.Argument(help="marketing, analytics, profiling, third_party_sharing, cross_border_transfer")],
        channel: Annotated[str | None, typer.Option(help="e.g. email, sms, web")] = None,
        recipient: Annotated[str | None, typer.Option(help="who receives the data (third_party_sharing, cross_border_transfer)")] = None,
        region: Annotated[str | None, typer.Option(help="where it goes, ISO 3166-1 alpha-2 (cross_border_transfer)")] = None,
    ) -> None:
        """Exit 0 if the customer's consent allows PURPOSE (on CHANNEL, for RECIPIENT in
        REGION), 1 otherwise; 2 for a question that cannot be asked (the error names it)."""
        from redis import Redis

        from panorama.privacy.consent import consent_allows
        from streams.profiles.read import ProfileReader

        current = settings()
        profile = ProfileReader(Redis.from_url(current.redis_address), current).read(identity)
        try:
            allowed = consent_allows(profile, purpose, channel, recipient, region)
        except ValueError as e:
            raise typer.BadParameter(str(e)) from None
        print("allowed" if allowed else "not allowed")
        raise typer.Exit(0 if allowed else 1)
