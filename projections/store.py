"""Opening the analytics store ready for use: backend plus schema."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from panorama.settings import Settings
from projections.backend import Backend, open_backend
from projections.migrations import apply_migrations


@contextmanager
def analytics_store(settings: Settings) -> Iterator[Backend]:
    """The backend for ``settings`` with every migration applied; closed on exit."""
    backend = open_backend(settings)
    try:
        apply_migrations(backend)
        yield backend
    finally:
        backend.close()


def migrate(settings: Settings) -> list[int]:
    """Apply pending migrations and close the store again (for ``cdp up``). Returns the
    versions applied. With chDB this must run while no other process holds the
    directory — before ``cdp sink`` starts; the sink migrates on start anyway."""
    backend = open_backend(settings)
    try:
        return apply_migrations(backend)
    finally:
        backend.close()
