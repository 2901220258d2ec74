"""Retention in the analytics store: expired events removed from ``event_log``, physically.

Why a scheduled mutation rather than a table ``TTL ... DELETE WHERE type = ...``: a TTL is
applied *eventually*, by a merge that ClickHouse schedules no sooner than
``merge_with_ttl_timeout`` (4 hours by default) and often later; a policy change is a
``MODIFY TTL`` that rewrites every part (``materialize_ttl_after_modify``); and the TTL
would live in the table definition, which the events-table DDL owns. ``ALTER TABLE ...
DELETE`` with ``mutations_sync`` rewrites the parts that hold expired rows when
``cdp privacy retention apply`` runs, and :func:`projections.erasure.drop_outdated_parts`
waits until the replaced parts are gone from the disk — the same path as a forget. A
lightweight ``DELETE FROM`` would only mask the rows until a merge.

The daily aggregates (``daily_channel_stats``) are counts per day and channel, without
events or customers: they keep the expired days' totals.
"""

from __future__ import annotations

from panorama.privacy.retention import RetentionPolicy
from projections.backend import Backend
from projections.avro_input import sql_string
from projections.erasure import drop_outdated_parts

_SYNC = "SETTINGS mutations_sync = 2"


def _before(cutoff_us: int) -> str:
    return f"occurred_at < fromUnixTimestamp64Micro(toInt64({cutoff_us}), 'UTC')"


def expired_condition(policy: RetentionPolicy, now_us: int) -> str | None:
    """The ``WHERE`` condition of expired ``event_log`` rows; None when nothing expires.
    A type named in the policy follows its own entry ("keep" included), never ``*``."""
    named, default_cutoff = policy.cutoffs(now_us)
    parts = [f"(type = {sql_string(t)} AND {_before(cutoff)})" for t, cutoff in sorted(named.items())]
    if default_cutoff is not None:
        exempt = f"type NOT IN ({', '.join(sql_string(t) for t in sorted(policy.days))}) AND " if policy.days else ""
        parts.append(f"({exempt}{_before(default_cutoff)})")
    return " OR ".join(parts) or None


def delete_expired(backend: Backend, policy: RetentionPolicy, now_us: int) -> int:
    """Remove the expired rows from ``event_log`` and their bytes from the disk; returns
    the rows removed (0 without touching the table when none has expired)."""
    condition = expired_condition(policy, now_us)
    if condition is None:
        return 0
    removed = int(backend.query(f"SELECT count() FROM event_log WHERE {condition}").scalar())
    if removed:
        backend.command(f"ALTER TABLE event_log DELETE WHERE {condition} {_SYNC}")
        drop_outdated_parts(backend, ["event_log"])
    return removed
