"""Numbered, append-only schema migrations, recorded in ``schema_migrations``.

Add a migration by appending to ``MIGRATIONS``; never edit or reorder an applied one.
Every statement can run twice — ``CREATE ... IF NOT EXISTS``, ``CREATE OR REPLACE VIEW``
(a later migration redefining a view; a dictionary likewise, it reloads from its source), an ``ALTER TABLE`` that sets a column's type, or
``CREATE OR REPLACE TABLE t ... AS SELECT * FROM t`` (a new partitioning, rows copied) —
so a migration interrupted half-way is simply applied again. Rows a sink inserts while
such a copy runs can miss it: apply migrations with the sinks stopped (``cdp up`` and the
chDB store apply them before anything writes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from projections import analytics, ddl
from projections.backend import Backend


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "event log and the events view", (ddl.event_log(), ddl.events_view())),
    Migration(2, "profiles, identities and segment membership", (
        ddl.profile_versions(), ddl.profiles_view(), ddl.identity_links(), ddl.identities_view(),
        ddl.segment_membership(), ddl.segment_members_view(),
    )),
    Migration(3, "daily channel aggregates", (
        ddl.daily_channel_stats(), ddl.daily_channel_stats_mv(), ddl.daily_channel_activity_view(), ddl.daily_revenue_view(),
    )),
    Migration(4, "analytics views", analytics.event_views(analytics.ROUTING_KEYS)),
    Migration(5, "lifecycle distribution and revenue by segment", (
        analytics.lifecycle_distribution(), analytics.revenue_by_segment(),
    )),
    Migration(6, "audit log", (ddl.audit_log(),)),
    Migration(7, "customer signals, identity-resolved events, lifecycle from signals", (
        ddl.customer_signals(), ddl.profile_times_nullable(), ddl.replaced(ddl.profiles_view()),
        ddl.customer_lifecycle_view(),
        ddl.lifecycle_distribution_from_signals(), ddl.customer_events_view(),
    )),
    Migration(8, "analytics views per customer (identities stitched)",
              tuple(ddl.replaced(view) for view in analytics.event_views(analytics.CUSTOMERS))),
    Migration(9, "customers looked up in an identity dictionary", (
        ddl.identity_links_inserted_at(), ddl.identity_customers_dictionary(), ddl.customer_events_from_dictionary(),
    )),
    Migration(10, "daily aggregates partitioned by year", (ddl.daily_channel_stats_by_year(),)),
    Migration(11, "idle event log partitions merged into one part", (ddl.event_log_merge_idle_partitions(),)),
    Migration(12, "customers grouped by a 128-bit hash of their id", (
        ddl.identity_customers_with_hash(), ddl.customer_events_with_hash(),
        *(ddl.replaced(view) for view in analytics.keyed_views(analytics.CUSTOMER_HASHES)),
    )),
)

_CREATED = re.compile(r"CREATE (?:OR REPLACE )?(TABLE|VIEW|MATERIALIZED VIEW|DICTIONARY) (?:IF NOT EXISTS )?(\w+)")
_ALTERED = re.compile(r"ALTER TABLE (\w+)")


def applied_versions(backend: Backend) -> set[int]:
    backend.command(ddl.schema_migrations())
    return {row[0] for row in backend.query("SELECT version FROM schema_migrations").rows}


def apply_migrations(backend: Backend) -> list[int]:
    """Apply every migration not yet recorded, in order; return the versions applied."""
    done = applied_versions(backend)
    applied = []
    for migration in MIGRATIONS:
        if migration.version in done:
            continue
        for statement in migration.statements:
            backend.command(statement)
        backend.command(
            f"INSERT INTO schema_migrations (version, name) VALUES ({migration.version}, '{migration.name}')"
        )
        applied.append(migration.version)
    return applied


def statement_target(statement: str) -> tuple[str, str]:
    """(kind, name) of the object a migration statement creates, replaces or alters."""
    if m := _CREATED.match(statement):
        return m[1], m[2]
    if m := _ALTERED.match(statement):
        return "TABLE", m[1]
    raise ValueError(f"not a CREATE or ALTER TABLE statement: {statement[:60]!r}")


def created_objects() -> list[tuple[str, str]]:
    """(kind, name) of every table, view and dictionary the migrations create, in creation order (a
    view a later migration replaces, or a table it alters, is listed once)."""
    found = dict.fromkeys(statement_target(s) for migration in MIGRATIONS for s in migration.statements)
    return list(found)


def drop_everything(backend: Backend) -> None:
    """Drop every projection object and the migration record (newest first), for a rebuild."""
    for kind, name in reversed(created_objects()):
        backend.command(f"DROP {'VIEW' if 'VIEW' in kind else kind} IF EXISTS {name}")
    backend.command("DROP TABLE IF EXISTS schema_migrations")
