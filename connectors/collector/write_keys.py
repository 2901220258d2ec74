"""Write keys: which source sends, under which role, at which rate, through which connector.

The one place keys are stored (Redis at ``settings.redis_address``, one hash per key under
``<topic_prefix>:write_keys:<sha256 of the key>``), so the security work can extend it
(rotation, revocation, read roles) without touching the collector. Only the SHA-256 of a
key is stored: keys are 32 random bytes, so a fast hash is as strong as a slow one here.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis

from panorama.errors import ConnectorError
from panorama.settings import Settings

ROLES = ("ingest",)
DEFAULT_RATE_LIMIT = 50_000  # events per second per source


@dataclass(frozen=True)
class WriteKey:
    """What a key grants: the source ``name`` events are attributed to, its ``role``, its
    rate limit in events/s, and the settings of the connectors it may post webhooks to."""

    name: str
    role: str
    rate_limit: int = DEFAULT_RATE_LIMIT
    connector_config: dict[str, dict[str, Any]] = field(default_factory=dict)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class WriteKeyStore:
    def __init__(self, settings: Settings, client: redis.Redis | None = None):
        self._redis = client or redis.Redis.from_url(settings.redis_address, socket_timeout=2.0)
        self._prefix = f"{settings.topic_prefix}:write_keys:"

    def create(self, name: str, role: str = "ingest", rate_limit: int = DEFAULT_RATE_LIMIT,
               connector_config: dict[str, dict[str, Any]] | None = None) -> str:
        """Store a new key and return it; the plain key is shown once and never stored."""
        if role not in ROLES:
            raise ConnectorError(f"role {role!r} is not one of {', '.join(ROLES)}")
        if not name.strip():
            raise ConnectorError("a write key needs a source name")
        if rate_limit <= 0:
            raise ConnectorError("rate limit must be a positive number of events per second")
        key = f"pk_{role}_{secrets.token_urlsafe(32)}"
        self._redis.hset(self._prefix + digest(key), mapping={
            "name": name.strip(), "role": role, "rate_limit": rate_limit,
            "connector_config": orjson.dumps(connector_config or {}), "created_at": int(time.time()),
        })
        return key

    def lookup(self, key: str) -> WriteKey | None:
        """The grant of ``key``, or None for an unknown key."""
        fields = self._redis.hgetall(self._prefix + digest(key))
        if not fields:
            return None
        return WriteKey(name=fields[b"name"].decode(), role=fields[b"role"].decode(),
                        rate_limit=int(fields[b"rate_limit"]),
                        connector_config=orjson.loads(fields.get(b"connector_config", b"{}")))

    def close(self) -> None:
        self._redis.close()


class CachedKeys:
    """Lookups remembered for ``ttl`` seconds (unknown keys too), so the collector's hot
    path does not wait on Redis per request; a revoked key stops working within ``ttl``."""

    def __init__(self, store: WriteKeyStore, ttl: float = 30.0, max_entries: int = 10_000):
        self._store, self._ttl, self._max = store, ttl, max_entries
        self._cache: dict[str, tuple[float, WriteKey | None]] = {}

    def cached(self, key: str) -> tuple[bool, WriteKey | None]:
        """(hit, grant); a miss means :meth:`fetch` must be called (it does I/O)."""
        entry = self._cache.get(key)
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def fetch(self, key: str) -> WriteKey | None:
        grant = self._store.lookup(key)
        if len(self._cache) >= self._max:
            self._cache.clear()
        self._cache[key] = (time.monotonic() + self._ttl, grant)
        return grant
