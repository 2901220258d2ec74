"""`cdp keys create|list|rotate|revoke` and `cdp audit`: registered on the main app by
:func:`register`. Every key change made here is audited with the operator's OS user as
the actor (``cli:<user>``)."""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from panorama.settings import Settings

keys_app = typer.Typer(no_args_is_help=True, help="API keys: create, list, rotate, revoke (every change is audited).")
console = Console(stderr=True)
_settings: Callable[[], Settings] = lambda: None  # noqa: E731  (set by register)


def register(app: typer.Typer, settings: Callable[[], Settings]) -> None:
    global _settings
    _settings = settings
    app.add_typer(keys_app, name="keys")
    app.command("audit")(audit)


def cli_actor() -> str:
    """Who acts from the shell, for the audit log: the OS user (its uid when it has no name)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return f"cli:uid-{os.getuid()}"


@contextmanager
def key_admin() -> Iterator[tuple[object, object]]:
    """(KeyStore, AuditLog) for one command, both closed at the end."""
    from panorama.security.audit import AuditLog
    from panorama.security.keys import KeyStore

    settings = _settings()
    store, audit_log = KeyStore(settings), AuditLog(settings)
    try:
        yield store, audit_log
    finally:
        store.close()
        audit_log.close()


@keys_app.command("create")
def create_key(
    name: Annotated[str, typer.Option("--name", help="who the key is for: a person, a service, or the source (ingest)")],
    role: Annotated[str, typer.Option("--role", help="admin, marketing, analyst, support, auditor or ingest")] = "ingest",
    workspace: Annotated[str | None, typer.Option("--workspace", help="the workspace the key is scoped to (default: CDP_TOPIC_PREFIX)")] = None,
    grant: Annotated[list[str] | None, typer.Option("--grant", help="extra right, e.g. pii (repeat)")] = None,
    rate_limit: Annotated[int | None, typer.Option("--rate-limit", help="requests/s (events/s for ingest)")] = None,
    connector: Annotated[str | None, typer.Option("--connector", help="ingest: a webhook connector this source posts to")] = None,
    setting: Annotated[list[str] | None, typer.Option("--set", help="KEY=VALUE setting of --connector (repeat)")] = None,
) -> None:
    """Create a key and print it once on stdout (only its SHA-256 is stored)."""
    from panorama.security.errors import KeyStoreError

    config = _connector_config(connector, setting)
    if config and role != "ingest":
        raise KeyStoreError("--connector: only ingest keys post to webhook connectors")
    with key_admin() as (store, audit_log):
        key, record = store.create(name, role, workspace, tuple(grant or ()), rate_limit, config)
        audit_log.record(cli_actor(), "key.create", record.key_id, role="operator",
                         details={"role": record.role, "workspace": record.workspace, "grants": list(record.grants)})
    if record.role == "ingest" and record.workspace != _settings().topic_prefix:
        from panorama.stack.topics import ensure_topics

        created = ensure_topics(_settings().model_copy(update={"topic_prefix": record.workspace}))
        if created:
            console.print(f"created the topics of workspace {record.workspace}: {', '.join(created)}")
    console.print(f"created {record.key_id} ({record.role} in workspace {record.workspace}); the key is shown once:")
    print(key)


def _connector_config(connector: str | None, setting: list[str] | None) -> dict[str, dict[str, str]]:
    from connectors import registry
    from panorama.errors import ConnectorError

    if not connector:
        if setting:
            raise ConnectorError("--set needs --connector")
        return {}
    values = dict(item.partition("=")[::2] for item in setting or [])
    result = registry.get(connector).check(values)
    if not result.ok:
        raise ConnectorError("; ".join(result.problems))
    return {connector: values}


@keys_app.command("list")
def list_keys(
    workspace: Annotated[str | None, typer.Option("--workspace", help="only this workspace")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Every key's id, name, workspace, role, grants, rate limit and times (never the key)."""
    from panorama.security.keys import KeyStore

    store = KeyStore(_settings())
    try:
        records = [r.public() for r in store.list(workspace)]
    finally:
        store.close()
    if as_json:
        print(json.dumps(records, indent=2))
        return
    table = Table("id", "name", "workspace", "role", "grants", "rate/s", "created", "rotated", "revoked")
    for r in records:
        table.add_row(r["key_id"], r["name"], r["workspace"], r["role"], ",".join(r["grants"]), f"{r['rate_limit']:,}",
                      *(_when(r[k]) for k in ("created_at", "rotated_at", "revoked_at")))
    Console().print(table)


def _when(epoch: int | None) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M") if epoch else ""


@keys_app.command("rotate")
def rotate_key(key_id: Annotated[str, typer.Argument(help="the key's id (`cdp keys list`)")]) -> None:
    """Give a key a new secret and print it once; the old secret stops working."""
    with key_admin() as (store, audit_log):
        key, record = store.rotate(key_id)
        audit_log.record(cli_actor(), "key.rotate", key_id, role="operator", details={"workspace": record.workspace})
    console.print(f"rotated {key_id}; the new key is shown once:")
    print(key)


@keys_app.command("revoke")
def revoke_key(key_id: Annotated[str, typer.Argument(help="the key's id (`cdp keys list`)")]) -> None:
    """Revoke a key for good (requests with it get 401 "revoked")."""
    with key_admin() as (store, audit_log):
        record = store.revoke(key_id)
        audit_log.record(cli_actor(), "key.revoke", key_id, role="operator", details={"workspace": record.workspace})
    console.print(f"revoked {key_id}")


def audit(
    actor: Annotated[str | None, typer.Option("--actor", help="key:<name> or cli:<user>")] = None,
    action: Annotated[str | None, typer.Option("--action", help="e.g. profile.read, or a family: key.*")] = None,
    subject: Annotated[str | None, typer.Option("--subject", help="a customer id or key id")] = None,
    since: Annotated[str | None, typer.Option("--since", help="ISO date/time or 30m, 12h, 7d")] = None,
    workspace: Annotated[str | None, typer.Option("--workspace", help="only records made in this workspace")] = None,
    limit: Annotated[int, typer.Option("--limit", help="newest N matches", min=1)] = 100,
    load: Annotated[bool, typer.Option("--load", help="copy new audit events into ClickHouse's audit_log instead")] = False,
) -> None:
    """Search the audit log (who read or changed what, when, why), printed as JSON lines."""
    from panorama.security.audit_search import AuditQuery, load_audit, parse_since, search_audit

    settings = _settings()
    if load:
        from projections.backend import open_backend
        from projections.migrations import apply_migrations

        backend = open_backend(settings)
        try:
            apply_migrations(backend)
            console.print(f"loaded {load_audit(settings, backend):,} audit events into audit_log")
        finally:
            backend.close()
        return
    query = AuditQuery(actor, action, subject, parse_since(since) if since else None, limit, workspace)
    for event in search_audit(settings, query):
        print(json.dumps(event, ensure_ascii=False))


def audited_read(settings: Settings, reader: Any, identity: str, purpose: str | None) -> dict[str, Any]:
    """``reader.read(identity)`` for `cdp profile get`, audited (found or not) before it is
    shown, with the operator as the actor and ``purpose`` as the reason."""
    from panorama.errors import ProfileNotFound
    from panorama.security.audit import AuditLog

    with AuditLog(settings) as audit_log:
        try:
            profile = reader.read(identity)
        except ProfileNotFound:
            audit_log.record(cli_actor(), "profile.read", reader.namer.parse(identity), purpose, "not_found", role="operator")
            raise
        audit_log.record(cli_actor(), "profile.read", profile["customer_id"], purpose, role="operator")
    return profile


def first_admin_hint(settings: Settings) -> str | None:
    """What to run when no admin key exists yet (printed by `cdp up`): nothing is readable
    without a key, even on the local stack."""
    from panorama.security.keys import KeyStore

    store = KeyStore(settings)
    try:
        if any(r.role == "admin" and not r.revoked for r in store.list(settings.topic_prefix)):
            return None
    finally:
        store.close()
    return ("no admin key yet: the API answers 401 to everyone. Create one with "
            "`cdp keys create --role admin --name <you>` (printed once; keep it safe)")
