"""The opener's shortcut — a record whose raw bytes hold no sealed value is not walked —
gives exactly what the full walk gives: same records opened, same erased, same errors.
Real Redis key store."""

from __future__ import annotations

import uuid

import pytest

from connectors.demo import generate_population
from panorama.clock import now_us
from panorama.privacy.crypto import SEALED_MARK
from panorama.privacy.hooks import Opener
from panorama.privacy.keystore import KeyStore
from producers import InteractionProducer
from schemas.codec import InteractionCodec

pytestmark = pytest.mark.integration


def _open(settings, encoded, with_values: bool):
    codec = InteractionCodec()
    items = [(codec.decode(value), key) for value, key in encoded]
    opened = Opener(settings).open_batch(items, [value for value, _ in encoded] if with_values else None)
    return opened.records, opened.erased, [(i, e.code) for i, e in opened.errors]


def test_skipping_records_without_sealed_bytes_changes_nothing(settings):
    events = [e | {"event_id": str(uuid.uuid4())} for e in generate_population(60, seed=5)]
    with InteractionProducer(settings) as producer:
        encoded = [producer.encode(e) for e in events]
    sealed = [value for value, _ in encoded if SEALED_MARK in value]
    assert 0 < len(sealed) < len(encoded)  # both kinds present, or the test proves nothing

    value, key = next((v, k) for v, k in encoded if SEALED_MARK in v)
    tampered = value.replace(b"pii1.", b"pii9.", 1)  # an unknown version: an error, not a skip
    forgotten = encoded[-1][1].decode()
    KeyStore.from_settings(settings).forget([forgotten], now_us())
    batch = encoded + [(tampered, key)]

    walked, skipped = _open(settings, batch, False), _open(settings, batch, True)
    assert skipped == walked
    records, erased, errors = skipped
    assert erased >= 1 and errors == [(len(batch) - 1, errors[0][1])]
    assert not any(SEALED_MARK.decode() + "1." in str(record) for _, record in records)
