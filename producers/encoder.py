"""The producer's per-event work without Kafka: validate, key, seal, encode.

:class:`InteractionProducer` encodes through one of these; a process that only prepares
bytes for another process to send (an import worker) uses one on its own, without
opening a Kafka connection it would never use.
"""

from __future__ import annotations

from typing import Any

from panorama.errors import ContractError
from panorama.settings import Settings
from producers.keys import RoutingKeys
from schemas.codec import InteractionCodec
from schemas.validation import validate


class EventEncoder:
    """Turns interactions into (value, key) pairs ready to produce. Not thread-safe (the
    sealer's caches are plain dicts). ``close()`` releases the key store's Redis client."""

    def __init__(self, settings: Settings, codec: InteractionCodec | None = None):
        self.codec = codec or InteractionCodec()
        self.keys = RoutingKeys(settings.routing_key_secret.get_secret_value().encode())
        from panorama.privacy.hooks import Sealer  # here: panorama.privacy imports producers.keys

        self.privacy: Sealer | None = Sealer(settings)  # seals personal fields; None only in benchmarks

    def encode(self, event: Any) -> tuple[bytes, bytes]:
        """(value, key) for a valid event; ContractError naming the field otherwise
        (SuppressedIdentity, a ContractError, for a forgotten customer's event)."""
        record = event.to_record() if hasattr(event, "to_record") else event
        if not isinstance(record, dict):
            raise ContractError("<event>", f"expected an object, got {type(record).__name__}", code="malformed")
        validate(record)
        key = self.keys.for_identities(record["identities"])
        return self.codec.encode(self.privacy.seal(record, key) if self.privacy else record), key

    def close(self) -> None:
        """Release the key store's Redis connections (idempotent)."""
        if self.privacy is not None:
            self.privacy.keystore.redis.close()
