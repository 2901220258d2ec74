"""`cdp segments create|list|show|delete|members|activate`, registered on the main app by
:func:`register`. Every change, member read and activation is audited with the operator
(``cli:<os user>``) as the actor."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from redis import Redis

from panorama.clock import now_us
from panorama.settings import Settings
from streams.segments.rules import SegmentError

SegmentArg = Annotated[str, typer.Argument(help="the segment id: lowercase letters, digits, '_' or '-'")]
Reason = Annotated[str | None, typer.Option("--reason", help="why (audited)")]


def _rule(text: str) -> Any:
    """The rule from ``--rule``: JSON, or ``@FILE`` holding JSON."""
    source = Path(text[1:]).read_text() if text.startswith("@") else text
    try:
        return json.loads(source)
    except json.JSONDecodeError as e:
        raise typer.BadParameter(f"not JSON: {e}", param_hint="--rule") from None


def _audit(settings: Settings, action: str, subject: str, reason: str | None, details: dict[str, Any],
           outcome: str = "ok") -> None:
    from panorama.security.audit import AuditLog
    from panorama.security.cli import cli_actor

    with AuditLog(settings) as audit:
        audit.record(cli_actor(), action, subject, reason, outcome, details, role="operator")


def _print(document: Any) -> None:
    print(json.dumps(document, indent=2, ensure_ascii=False))


def register(app: typer.Typer, settings: Callable[[], Settings]) -> None:
    segments = typer.Typer(no_args_is_help=True, help="Define live segments, read their members, activate them.")
    app.add_typer(segments, name="segments")

    def store():
        from streams.segments.store import SegmentStore

        config = settings()
        return config, SegmentStore(Redis.from_url(config.redis_address), config.topic_prefix,
                                    config.interactions_partitions)

    @segments.command()
    def create(segment: SegmentArg,
               rule: Annotated[str, typer.Option(help="the rule as JSON, or @FILE (streams/README.md, Live segments)")],
               description: Annotated[str, typer.Option(help="what it is for")] = "",
               replace: Annotated[bool, typer.Option("--replace", help="update it if it exists")] = False,
               reason: Reason = None) -> None:
        """Create (or --replace) a segment; every customer is re-evaluated by the workers."""
        config, segments_store = store()
        found, marked = segments_store.save(segment, _rule(rule), description, now_us(), replace)
        _audit(config, "segment.save", segment, reason, {"rule": found.rule, "marked_due": marked})
        _print(found.as_dict() | {"marked_due": marked})

    @segments.command("list")
    def list_() -> None:
        """Every segment with its current size."""
        _, segments_store = store()
        found = segments_store.list()
        sizes = segments_store.sizes([s.id for s in found])
        _print([s.as_dict() | {"size": sizes[s.id]} for s in found])

    @segments.command()
    def show(segment: SegmentArg) -> None:
        """One segment's definition and size."""
        _, segments_store = store()
        _print(segments_store.get(segment).as_dict() | {"size": segments_store.size(segment)})

    @segments.command()
    def delete(segment: SegmentArg, reason: Reason = None) -> None:
        """Delete a segment: its members leave it (published on <prefix>.segments)."""
        config, segments_store = store()
        found, marked = segments_store.delete(segment, now_us())
        _audit(config, "segment.delete", segment, reason, {"rule": found.rule, "marked_due": marked})
        _print({"deleted": segment, "members_leaving": marked})

    @segments.command()
    def members(segment: SegmentArg, limit: Annotated[int, typer.Option(min=1, max=100_000)] = 100,
                reason: Reason = None) -> None:
        """Print up to LIMIT customer ids of the segment, one a line (audited)."""
        config, segments_store = store()
        found = segments_store.members(segment, limit)
        _audit(config, "segment.members", segment, reason, {"returned": len(found)})
        print("\n".join(found))

    @segments.command()
    def activate(segment: SegmentArg,
                 purpose: Annotated[str, typer.Option(help="marketing, analytics, profiling, third_party_sharing, "
                                                           "cross_border_transfer")],
                 channel: Annotated[str | None, typer.Option(help="email, sms, phone, whatsapp, web, ...")] = None,
                 out: Annotated[Path | None, typer.Option(help="JSON lines file to write ('-': standard output)")] = None,
                 webhook: Annotated[str | None, typer.Option(help="POST the members in JSON batches to this URL")] = None,
                 recipient: Annotated[str | None, typer.Option(
                     help="who receives the data (required for third_party_sharing and cross_border_transfer)")] = None,
                 region: Annotated[str | None, typer.Option(help="the recipient's region, ISO 3166-1 alpha-2")] = None,
                 reason: Reason = None) -> None:
        """Send the members whose consent allows PURPOSE on CHANNEL to --out or --webhook, audited."""
        from streams.segments.activation import activate as run
        from streams.segments.destinations import JsonLinesFile, Webhook

        if (out is None) == (webhook is None):
            raise typer.BadParameter("give one of --out FILE or --webhook URL", param_hint="--out / --webhook")
        config, segments_store = store()
        destination = JsonLinesFile(out) if out is not None else Webhook(webhook)
        details = {"purpose": purpose, "channel": channel, "recipient": recipient, "region": region,
                   "to": destination.description}
        try:
            report = run(config, segments_store.redis, segment, purpose, channel, now_us(), destination.send,
                         recipient, region)
            destination.close()
        except ValueError as e:
            raise typer.BadParameter(str(e), param_hint="--purpose / --recipient / --region") from None
        except SegmentError:
            _audit(config, "segment.activate", segment, reason, details | {"delivered": destination.delivered},
                   outcome="failed")
            raise
        _audit(config, "segment.activate", segment, reason, report.counts() | details)
        typer.echo(json.dumps(report.counts()), err=True)
