"""API keys: who may call the platform, in which workspace, under which role.

A key is ``pk_<role>_<43 url-safe characters>``: 32 bytes from :mod:`secrets`. Only its
SHA-256 is stored. A slow password hash (bcrypt, scrypt) exists to make guessing a
*low-entropy* secret expensive; a 256-bit random key cannot be guessed whatever the hash,
and SHA-256 keeps the check on every request at a microsecond. The role in the prefix is
only a hint for people and secret scanners; the stored record is what decides.

Layout in Redis under ``<topic_prefix>:keys:`` — ``id:<key id>`` a hash per key (name,
workspace, role, grants, rate limit, connector settings, digest, created/rotated/revoked
times), ``digest:<sha256>`` → key id, and ``ids``, the set of key ids. A revoked key keeps
its digest entry, so a request with it is told "revoked" rather than "unknown".
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson
import redis

from panorama.security.errors import KeyStoreError
from panorama.settings import Settings

ROLES = ("admin", "marketing", "analyst", "support", "auditor", "ingest")
GRANTS = {"pii": "see personal fields unmasked (marketing, analyst)"}
DEFAULT_RATE_LIMITS = {"ingest": 50_000}  # ingest: events/s per source; everyone else: requests/s
DEFAULT_RATE_LIMIT = 50
_WORKSPACE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(frozen=True)
class ApiKey:
    """What a key grants. ``name`` is the person, service or (for ingest) the source events
    are attributed to; ``rate_limit`` is requests/s (events/s for ingest keys)."""

    key_id: str
    name: str
    workspace: str
    role: str
    grants: tuple[str, ...] = ()
    rate_limit: int = DEFAULT_RATE_LIMIT
    connector_config: dict[str, dict[str, Any]] = field(default_factory=dict)
    created_at: int = 0
    rotated_at: int | None = None
    revoked_at: int | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def public(self) -> dict[str, Any]:
        """Everything but connector secrets: what `cdp keys list` and the API show."""
        return {k: v for k, v in asdict(self).items() if k != "connector_config"} | {"grants": list(self.grants)}


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def check_key_fields(name: str, role: str, workspace: str, grants: tuple[str, ...], rate_limit: int) -> None:
    """Raise :class:`KeyStoreError` naming the first bad field."""
    if role not in ROLES:
        raise KeyStoreError(f"role: {role!r} is not one of {', '.join(ROLES)}")
    if not name.strip() or len(name) > 100:
        raise KeyStoreError("name: must be 1 to 100 characters (the person, service or source the key is for)")
    if not _WORKSPACE.match(workspace):
        raise KeyStoreError(f"workspace: {workspace!r} must be 1-64 letters, digits, '.', '_' or '-'")
    unknown = [g for g in grants if g not in GRANTS]
    if unknown:
        raise KeyStoreError(f"grants: {', '.join(unknown)} unknown; known: {', '.join(GRANTS)}")
    if rate_limit <= 0:
        raise KeyStoreError("rate_limit: must be a positive number per second")


class KeyStore:
    """Creates, looks up, rotates and revokes keys. Lookups are one Redis round trip; the
    HTTP layer caches them (:class:`panorama.security.auth.Authenticator`)."""

    def __init__(self, settings: Settings, client: redis.Redis | None = None):
        self._redis = client or redis.Redis.from_url(settings.redis_address, socket_timeout=2.0)
        self._prefix = f"{settings.topic_prefix}:keys:"
        self.default_workspace = settings.topic_prefix

    def create(self, name: str, role: str, workspace: str | None = None, grants: tuple[str, ...] = (),
               rate_limit: int | None = None, connector_config: dict[str, dict[str, Any]] | None = None) -> tuple[str, ApiKey]:
        """Store a new key; returns (the key, shown once and never stored, its record)."""
        workspace = workspace or self.default_workspace
        rate_limit = rate_limit or DEFAULT_RATE_LIMITS.get(role, DEFAULT_RATE_LIMIT)
        grants = tuple(sorted(set(grants)))
        check_key_fields(name, role, workspace, grants, rate_limit)
        record = ApiKey(key_id=f"k_{secrets.token_hex(8)}", name=name.strip(), workspace=workspace, role=role,
                        grants=grants, rate_limit=rate_limit, connector_config=connector_config or {},
                        created_at=int(time.time()))
        key = _new_key(role)
        pipe = self._redis.pipeline()
        pipe.hset(self._prefix + "id:" + record.key_id, mapping=_to_hash(record, digest(key)))
        pipe.set(self._prefix + "digest:" + digest(key), record.key_id)
        pipe.sadd(self._prefix + "ids", record.key_id)
        pipe.execute()
        return key, record

    def lookup(self, key: str) -> ApiKey | None:
        """The record of ``key`` (revoked ones too: check ``.revoked``), None if unknown."""
        key_id = self._redis.get(self._prefix + "digest:" + digest(key))
        return self.get(key_id.decode()) if key_id else None

    def get(self, key_id: str) -> ApiKey | None:
        fields = self._redis.hgetall(self._prefix + "id:" + key_id)
        return _from_hash(key_id, fields) if fields else None

    def list(self, workspace: str | None = None) -> list[ApiKey]:
        ids = sorted(i.decode() for i in self._redis.smembers(self._prefix + "ids"))
        records = [r for r in map(self.get, ids) if r is not None]
        return [r for r in records if workspace is None or r.workspace == workspace]

    def rotate(self, key_id: str) -> tuple[str, ApiKey]:
        """Replace the key's secret; the old one stops working at once (401 unknown key)."""
        record = self._existing(key_id)
        if record.revoked:
            raise KeyStoreError(f"key {key_id}: revoked keys cannot be rotated; create a new one")
        old_digest = self._redis.hget(self._prefix + "id:" + key_id, "digest").decode()
        key = _new_key(record.role)
        now = int(time.time())
        pipe = self._redis.pipeline()
        pipe.delete(self._prefix + "digest:" + old_digest)
        pipe.set(self._prefix + "digest:" + digest(key), key_id)
        pipe.hset(self._prefix + "id:" + key_id, mapping={"digest": digest(key), "rotated_at": now})
        pipe.execute()
        return key, self._existing(key_id)

    def revoke(self, key_id: str) -> ApiKey:
        record = self._existing(key_id)
        if not record.revoked:
            self._redis.hset(self._prefix + "id:" + key_id, "revoked_at", int(time.time()))
        return self._existing(key_id)

    def update(self, key_id: str, name: str | None = None, rate_limit: int | None = None) -> ApiKey:
        """Change what may change after creation: the name and the rate limit. The role,
        workspace and grants are fixed for a key's life (make a new key to change them)."""
        record = self._existing(key_id)
        changes = {"name": (name or record.name).strip(), "rate_limit": rate_limit or record.rate_limit}
        check_key_fields(changes["name"], record.role, record.workspace, record.grants, changes["rate_limit"])
        self._redis.hset(self._prefix + "id:" + key_id, mapping=changes)
        return self._existing(key_id)

    def _existing(self, key_id: str) -> ApiKey:
        record = self.get(key_id)
        if record is None:
            raise KeyStoreError(f"key {key_id!r} does not exist (`cdp keys list` shows the ids)")
        return record

    def close(self) -> None:
        self._redis.close()


class CachedKeys:
    """Lookups of ``store`` (anything with ``lookup(key)``) remembered for ``ttl`` seconds,
    unknown keys too, so a request does not wait on Redis; a revoked or rotated key stops
    working within ``ttl``."""

    def __init__(self, store: Any, ttl: float = 30.0, max_entries: int = 10_000):
        self._store, self._ttl, self._max = store, ttl, max_entries
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}

    def cached(self, key: str) -> tuple[bool, ApiKey | None]:
        """(hit, grant); a miss means :meth:`fetch` must be called (it does I/O)."""
        entry = self._cache.get(key)
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def fetch(self, key: str) -> ApiKey | None:
        grant = self._store.lookup(key)
        if len(self._cache) >= self._max:
            self._cache.clear()
        self._cache[key] = (time.monotonic() + self._ttl, grant)
        return grant


def _new_key(role: str) -> str:
    return f"pk_{role}_{secrets.token_urlsafe(32)}"


def _to_hash(record: ApiKey, key_digest: str) -> dict[str, Any]:
    return {"name": record.name, "workspace": record.workspace, "role": record.role,
            "grants": ",".join(record.grants), "rate_limit": record.rate_limit,
            "connector_config": orjson.dumps(record.connector_config), "created_at": record.created_at,
            "digest": key_digest}


def _from_hash(key_id: str, fields: dict[bytes, bytes]) -> ApiKey:
    text = {k.decode(): v.decode() for k, v in fields.items()}
    return ApiKey(
        key_id=key_id, name=text["name"], workspace=text["workspace"], role=text["role"],
        grants=tuple(g for g in text.get("grants", "").split(",") if g), rate_limit=int(text["rate_limit"]),
        connector_config=orjson.loads(text.get("connector_config", "{}")), created_at=int(text["created_at"]),
        rotated_at=int(text["rotated_at"]) if "rotated_at" in text else None,
        revoked_at=int(text["revoked_at"]) if "revoked_at" in text else None,
    )
