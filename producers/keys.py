"""Kafka message keys: the customer routing key.

The key is a keyed hash (BLAKE2b with the ``routing_key_secret``) of the strongest
identity the event carries, so every event of one identity lands on one partition in
order, and no plaintext email or phone ever sits in a message key.
"""

from __future__ import annotations

from collections.abc import Mapping
from hashlib import blake2b
from typing import Any

from schemas.identities import routing_identity


class RoutingKeys:
    """Computes routing keys; remembers recent ones because the same customers repeat.

    The memory is keyed by the raw identities, before normalisation, because normalising
    (parsing a phone number above all) costs more than the hash itself.
    """

    def __init__(self, secret: bytes, cache_size: int = 100_000):
        if not secret:
            raise ValueError("routing key secret must not be empty")
        self._secret = secret[:64]
        self._cache: dict[tuple, tuple[str, bytes]] = {}
        self._cache_size = cache_size

    def route(self, identities: Mapping[str, Any]) -> tuple[str, bytes]:
        """(kind, key) of the strongest identity the event carries."""
        raw = (identities.get("user_id"), identities.get("email"), identities.get("phone"),
               tuple(sorted((identities.get("external_ids") or {}).items())),
               identities.get("device_id"), identities.get("anonymous_id"))
        route = self._cache.get(raw)
        if route is None:
            kind, value = routing_identity(identities)
            route = kind, self.hash(kind, value)
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            self._cache[raw] = route
        return route

    def for_identities(self, identities: Mapping[str, Any]) -> bytes:
        return self.route(identities)[1]

    def hash(self, kind: str, value: str) -> bytes:
        return blake2b(f"{kind}:{value}".encode(), key=self._secret, digest_size=16).hexdigest().encode()
