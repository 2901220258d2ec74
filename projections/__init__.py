"""Read models: the ClickHouse analytics store, its sinks, analytics SQL and replay.

``migrate(settings)`` creates or upgrades the schema (``cdp up`` calls it);
``analytics_store(settings)`` opens a migrated backend.
"""

from projections.store import analytics_store, migrate

__all__ = ["analytics_store", "migrate"]
