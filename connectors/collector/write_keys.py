"""Write keys: the collector's view of the platform's API keys (``panorama.security.keys``).

A write key is an API key with the role ``ingest``: its ``name`` is the source events are
attributed to, its ``rate_limit`` is in events/s, its ``connector_config`` holds the
settings of the webhook connectors the source posts to. Keys are stored hashed, rotated
and revoked by `cdp keys ...`; a revoked key looks unknown here.
"""

from __future__ import annotations

from typing import Any

import redis

from panorama.security.keys import DEFAULT_RATE_LIMITS, ApiKey, CachedKeys, KeyStore
from panorama.settings import Settings

WriteKey = ApiKey
__all__ = ["CachedKeys", "WriteKey", "WriteKeyStore"]
DEFAULT_RATE_LIMIT = DEFAULT_RATE_LIMITS["ingest"]


class WriteKeyStore:
    def __init__(self, settings: Settings, client: redis.Redis | None = None):
        self._store = KeyStore(settings, client)

    def create(self, name: str, role: str = "ingest", rate_limit: int = DEFAULT_RATE_LIMIT,
               connector_config: dict[str, dict[str, Any]] | None = None) -> str:
        """Store a new ingest key for source ``name`` and return it (shown once, stored hashed)."""
        return self._store.create(name, role, rate_limit=rate_limit, connector_config=connector_config)[0]

    def lookup(self, key: str) -> WriteKey | None:
        """The grant of ``key``, or None for an unknown or revoked key."""
        grant = self._store.lookup(key)
        return None if grant is None or grant.revoked else grant

    def close(self) -> None:
        self._store.close()
