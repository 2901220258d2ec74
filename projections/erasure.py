"""Erasing customers from the analytics store, physically.

A lightweight ``DELETE FROM`` only masks rows until a merge; ``ALTER TABLE ... DELETE``
with ``mutations_sync`` rewrites every part that held them, and ``OPTIMIZE ... FINAL``
merges what is left. Aggregate states cannot have one customer subtracted, so the days of
``daily_channel_stats`` the customer touched are rebuilt from the remaining ``event_log``
rows with the materialized view's own query.
"""

from __future__ import annotations

from collections.abc import Sequence

from projections import ddl
from projections.backend import Backend

_SYNC = "SETTINGS mutations_sync = 2"


def _in_list(values: Sequence[str]) -> str:
    return ", ".join("'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'" for v in values)


def erase_customer(backend: Backend, customer_keys: Sequence[str], customer_id: str | None = None) -> int:
    """Remove every ``event_log`` row of ``customer_keys`` (routing hashes, the Kafka message
    keys) and every row of ``customer_id`` in the customer tables; rebuild the daily
    aggregates they were part of. Returns the number of event rows removed. Idempotent."""
    if not customer_keys:
        return 0
    keys = _in_list(customer_keys)
    days = [str(row[0]) for row in backend.query(
        f"SELECT DISTINCT toDate(occurred_at) FROM event_log WHERE customer_key IN ({keys})").rows]
    removed = backend.query(f"SELECT count() FROM event_log WHERE customer_key IN ({keys})").scalar()
    backend.command(f"ALTER TABLE event_log DELETE WHERE customer_key IN ({keys}) {_SYNC}")
    if customer_id is not None:
        ids = _in_list([customer_id])
        for table in ("profile_versions", "segment_membership"):
            backend.command(f"ALTER TABLE {table} DELETE WHERE customer_id IN ({ids}) {_SYNC}")
        backend.command(f"ALTER TABLE identity_links DELETE WHERE customer_id IN ({ids}) "
                        f"OR identity_hash IN ({keys}) {_SYNC}")
    if days:
        day_list = _in_list(days)
        backend.command(f"ALTER TABLE daily_channel_stats DELETE WHERE day IN ({day_list}) {_SYNC}")
        aggregate = ddl.daily_channel_stats_mv().split(" AS\n", 1)[1]
        backend.command(f"INSERT INTO daily_channel_stats SELECT * FROM ({aggregate}) WHERE day IN ({day_list})")
    for table in ("event_log", "daily_channel_stats", "profile_versions", "identity_links", "segment_membership"):
        backend.command(f"OPTIMIZE TABLE {table} FINAL")
    return int(removed)
