"""Migrations that re-create a table keep its rows, and the materialized view keeps feeding it
(chDB; no Kafka needed)."""

from __future__ import annotations

import pytest

from projections import ddl, migrations
from projections.chdb_backend import ChdbBackend

pytestmark = pytest.mark.integration

DAILY = ("SELECT day, channel, events, active_customers FROM daily_channel_activity ORDER BY day, channel",
         "SELECT day, channel, currency, revenue_minor FROM daily_revenue ORDER BY day, channel, currency")


def _insert_orders(store: ChdbBackend, first: int, count: int) -> None:
    """``count`` orders numbered from ``first``, one a day from 2024-12-10 on (two years,
    several months); order n is event ``n``, so inserting a number twice is a duplicate."""
    store.command(f"""INSERT INTO event_log (event_id, type, channel, occurred_at, received_at, order_total_minor,
    currency, customer_key)
SELECT toUUID(concat('00000000-0000-4000-8000-', leftPad(toString(number), 12, '0'))), 'order_placed',
    ['web', 'email'][intDiv(number, 60) % 2 + 1], toDateTime64('2024-12-10 12:00:00', 6, 'UTC') + toIntervalDay(number % 60),
    toDateTime64('2025-03-01 00:00:00', 6, 'UTC'), 100 + number, 'EUR', lower(hex(MD5(toString(number % 7))))
FROM numbers({first}, {count})""")


def _daily(store: ChdbBackend) -> list[list[tuple]]:
    return [store.query(sql).rows for sql in DAILY]


def test_yearly_daily_aggregates_keep_their_rows_and_stay_fed(tmp_path, monkeypatch):
    store = ChdbBackend(tmp_path / "chdb")
    try:
        with monkeypatch.context() as before_10:
            before_10.setattr(migrations, "MIGRATIONS", tuple(m for m in migrations.MIGRATIONS if m.version < 10))
            migrations.apply_migrations(store)
        _insert_orders(store, 0, 300)
        monthly = _daily(store)
        assert len(monthly[0]) == 120 and sum(row[2] for row in monthly[0]) == 300  # 60 days x 2 channels

        assert migrations.apply_migrations(store)[0] == 10
        assert _daily(store) == monthly
        assert store.query("SELECT partition_key FROM system.tables WHERE database = currentDatabase() "
                           "AND name = 'daily_channel_stats'").scalar() == "toYear(day)"
        assert {row[0] for row in store.query("SELECT DISTINCT partition FROM system.parts WHERE "
                                              "table = 'daily_channel_stats' AND active").rows} == {"2024", "2025"}

        store.command(ddl.daily_channel_stats_by_year())  # interrupted before it was recorded: runs again
        assert _daily(store) == monthly

        _insert_orders(store, 250, 100)  # 50 duplicates, 50 new orders: the view still feeds the table
        activity, revenue = _daily(store)
        assert sum(row[2] for row in activity) == 350
        assert sum(row[3] for row in revenue) == sum(100 + n for n in range(350))
    finally:
        store.close()


def test_event_log_merges_idle_partitions_into_one_part(tmp_path):
    """The engine settings of migration 11 are in force (with them, 48 parts of 10 million
    events became 13, one per month, within 30 s of an age limit of 10 s: docs/analytics.md)."""
    store = ChdbBackend(tmp_path / "chdb")
    try:
        migrations.apply_migrations(store)
        created = store.query("SELECT create_table_query FROM system.tables WHERE database = currentDatabase() "
                              "AND name = 'event_log'").scalar()
        assert f"min_age_to_force_merge_seconds = {ddl.IDLE_PARTITION_MERGE_SECONDS}" in created
        assert "min_age_to_force_merge_on_partition_only = 1" in created
    finally:
        store.close()
