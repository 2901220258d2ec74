"""Erasing customers from the analytics store, physically.

A lightweight ``DELETE FROM`` only masks rows until a merge; ``ALTER TABLE ... DELETE``
with ``mutations_sync`` rewrites every part that held them, and ``OPTIMIZE ... FINAL``
merges what is left, and :func:`drop_outdated_parts` waits until the replaced parts
are deleted from the disk (ClickHouse otherwise keeps them 8 minutes). Aggregate states cannot have one customer subtracted, so the days of
``daily_channel_stats`` the customer touched are rebuilt from the remaining ``event_log``
rows with the materialized view's own query.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from panorama.errors import ProjectionError
from projections import ddl
from projections.backend import Backend

_SYNC = "SETTINGS mutations_sync = 2"


def _in_list(values: Sequence[str]) -> str:
    return ", ".join("'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'" for v in values)


def erase_customer(backend: Backend, customer_keys: Sequence[str], customer_id: str | None = None) -> int:
    """Remove every ``event_log`` row of ``customer_keys`` (routing hashes, the Kafka message
    keys) and every row of ``customer_id`` in the customer tables (profiles, segment
    membership, signals, and the identity links to it or of its identities); rebuild the
    daily aggregates they were part of. Returns the number of event rows removed. Idempotent."""
    if not customer_keys:
        return 0
    keys = _in_list(customer_keys)
    days = [str(row[0]) for row in backend.query(
        f"SELECT DISTINCT toDate(occurred_at) FROM event_log WHERE customer_key IN ({keys})").rows]
    removed = backend.query(f"SELECT count() FROM event_log WHERE customer_key IN ({keys})").scalar()
    backend.command(f"ALTER TABLE event_log DELETE WHERE customer_key IN ({keys}) {_SYNC}")
    if customer_id is not None:
        ids = _in_list([customer_id])
        for table in ("profile_versions", "segment_membership", "customer_signals"):
            backend.command(f"ALTER TABLE {table} DELETE WHERE customer_id IN ({ids}) {_SYNC}")
        backend.command(f"ALTER TABLE identity_links DELETE WHERE customer_id IN ({ids}) "
                        f"OR identity_hash IN ({keys}) {_SYNC}")
        # the in-memory copy of the links (customer_events' lookup) must not keep the hashes either
        backend.command(f"SYSTEM RELOAD DICTIONARY {ddl.IDENTITY_DICTIONARY}")
    if days:
        day_list = _in_list(days)
        backend.command(f"ALTER TABLE daily_channel_stats DELETE WHERE day IN ({day_list}) {_SYNC}")
        aggregate = ddl.daily_channel_stats_mv().split(" AS\n", 1)[1]
        backend.command(f"INSERT INTO daily_channel_stats SELECT * FROM ({aggregate}) WHERE day IN ({day_list})")
    tables = ("event_log", "daily_channel_stats", "profile_versions", "identity_links", "segment_membership",
              "customer_signals")
    for table in tables:
        backend.command(f"OPTIMIZE TABLE {table} FINAL")
    drop_outdated_parts(backend, tables)
    return int(removed)


def drop_outdated_parts(backend: Backend, tables: Sequence[str], timeout: float = 180.0) -> None:
    """Wait until the parts a mutation or merge replaced are gone from the disk. ClickHouse
    keeps them ``old_parts_lifetime`` (8 min) as a guard against losing unsynced merges in
    a crash; for the tables erased from, that guard is lowered until the cleanup thread
    has removed them, then reset. Raises ProjectionError if they are still there."""
    fast = "old_parts_lifetime = 0, cleanup_delay_period = 1, cleanup_delay_period_random_add = 0"
    for table in tables:
        backend.command(f"ALTER TABLE {table} MODIFY SETTING {fast}")
    names = _in_list(tables)
    deadline = time.monotonic() + timeout
    try:
        while (left := backend.query(f"SELECT count() FROM system.parts WHERE database = currentDatabase() "
                                     f"AND table IN ({names}) AND NOT active").scalar()):
            if time.monotonic() > deadline:
                raise ProjectionError(f"{left} replaced parts of {', '.join(tables)} still on disk after {timeout:.0f} s; "
                                      "ClickHouse removes them later (old_parts_lifetime)")
            time.sleep(0.5)
    finally:
        for table in tables:
            backend.command(f"ALTER TABLE {table} RESET SETTING old_parts_lifetime, cleanup_delay_period, "
                            "cleanup_delay_period_random_add")
