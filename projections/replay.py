"""Rebuild the analytics projections from the interaction log.

Drops every table and view the migrations own, recreates them, and runs the events sink
from the beginning of every partition until it reaches the end of each. The sink's
consumer group ends where the rebuild stopped, so a ``cdp sink`` started afterwards
continues from there. The record topics (identity, signals, profiles, segments) are
re-read the same way into the customer tables (``projections/record_sink.py``). Because
both sinks are idempotent (by event_id, by record key and version), the rebuilt tables
equal the live ones.
"""

from __future__ import annotations

from collections.abc import Callable

from panorama.log_reader import watermarks
from panorama.settings import Settings
from projections.backend import Backend
from projections.migrations import apply_migrations, drop_everything
from projections.record_sink import replay_records
from projections.sink import BATCH_SIZE, EventsSink, SinkStats


def log_size(settings: Settings) -> int:
    """How many messages the interaction log holds now (sum of high - low watermarks)."""
    return sum(high - low for low, high in watermarks(settings, settings.topics.interactions).values())


def replay(settings: Settings, backend: Backend, on_progress: Callable[[int], None] | None = None,
           batch_size: int = BATCH_SIZE) -> SinkStats:
    """Drop and rebuild; ``on_progress(events_in_batch)`` after each committed batch."""
    drop_everything(backend)
    apply_migrations(backend)
    sink = EventsSink(settings, backend, batch_size=batch_size, from_beginning=True,
                      on_batch=(lambda _stats, n: on_progress(n)) if on_progress else None)
    stats = sink.run(until_caught_up=True)
    replay_records(settings, backend)
    return stats
