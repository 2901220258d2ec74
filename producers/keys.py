"""Kafka message keys: the customer routing key.

The key is a keyed hash (BLAKE2b with the ``routing_key_secret``) of the strongest
identity the event carries, so every event of one identity lands on one partition in
order, and no plaintext email or phone ever sits in a message key.
"""

from __future__ import annotations

from hashlib import blake2b

from schemas.identities import routing_identity


class RoutingKeys:
    """Computes routing keys; remembers recent ones because the same customers repeat."""

    def __init__(self, secret: bytes, cache_size: int = 65_536):
        if not secret:
            raise ValueError("routing key secret must not be empty")
        self._secret = secret[:64]
        self._cache: dict[tuple[str, str], bytes] = {}
        self._cache_size = cache_size

    def for_identities(self, identities: dict) -> bytes:
        ident = routing_identity(identities)
        key = self._cache.get(ident)
        if key is None:
            key = self.hash(*ident)
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            self._cache[ident] = key
        return key

    def hash(self, kind: str, value: str) -> bytes:
        return blake2b(f"{kind}:{value}".encode(), key=self._secret, digest_size=16).hexdigest().encode()
