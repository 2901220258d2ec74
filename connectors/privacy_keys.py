"""Fetching the privacy keys of many events at once, before they are encoded one by one.

The producer seals each event's personal fields under its customer's data key; encoding
an event of a customer it has not seen yet costs a Redis round trip. A connector that
holds many events (an import chunk, a collector batch) asks for all their keys first, in
a few round trips, instead of one per new customer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis

from panorama.privacy.errors import KeyStoreUnavailable
from producers import InteractionProducer

# A record names up to four subjects (routing, email, phone, user id); the key store
# takes at most 2,000 subjects per round trip.
PREFETCH_RECORDS = 500


def keys_ready(producer: InteractionProducer, records: Sequence[dict[str, Any]]) -> bool:
    """Whether ``producer`` can seal ``records`` without a key-store round trip (always
    without privacy): then :func:`prefetch_keys` has nothing to do."""
    return producer.privacy is None or producer.privacy.ready_for(records)


def prefetch_keys(producer: InteractionProducer, records: Sequence[dict[str, Any]]) -> None:
    """Make the keys of ``records``' customers cached in ``producer`` (no-op without
    privacy); KeyStoreUnavailable, a ProducerError, when the key store cannot be reached
    (nothing was sent)."""
    if producer.privacy is None:
        return
    try:
        for start in range(0, len(records), PREFETCH_RECORDS):
            producer.privacy.prefetch(records[start:start + PREFETCH_RECORDS], producer.keys.for_identities)
    except redis.RedisError as e:
        raise KeyStoreUnavailable(f"the privacy key store is unavailable: {e}") from e
