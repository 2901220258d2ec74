"""The columnar import's sealing on a real Redis: importers racing over the same new
customers agree on one data key each, and a customer the import remembers from earlier
chunks is refused once a forget reaches it."""

from __future__ import annotations

import csv
import threading
import time
import uuid

import pytest

from connectors.importer.chunks import ChunkEncoder, ImportTask, chunks
from connectors.importer.mapping import Mapping
from panorama.clock import now_us
from panorama.privacy.crypto import parse
from panorama.privacy.keystore import KeyStore
from producers.keys import RoutingKeys
from schemas.codec import InteractionCodec

pytestmark = pytest.mark.integration


def write(path, tag: str, customers: range, repeat: int = 1) -> None:
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["order_id", "ordered_at", "total", "email", "phone"])
        out.writerows([f"o-{tag}-{n}-{r}", "2024-06-10 08:00:00", "1.00", f"c{n}-{tag}@example.com", f"+4930{n:07d}"]
                      for r in range(repeat) for n in customers)


def encoder(settings, path) -> ChunkEncoder:
    found = ChunkEncoder(ImportTask(settings, path, "orders", Mapping(), now_us()))
    assert found.columnar is not None
    return found


def test_racing_importers_agree_on_one_data_key_per_customer(settings, tmp_path):
    tag = uuid.uuid4().hex[:8]
    path = tmp_path / "orders.csv"
    write(path, tag, range(3000))
    results: list[list] = [[], [], []]

    def run(index: int) -> None:
        chunk_encoder = encoder(settings, path)
        try:
            results[index] = [event for _, chunk in chunks(path) for event in chunk_encoder(chunk).events]
        finally:
            chunk_encoder.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(results))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(len(events) == 3000 for events in results)
    codec, keystore = InteractionCodec(), KeyStore.from_settings(settings)
    kids = {}
    for events in results:
        for value, key in events:
            sealed = parse(codec.decode(value)["identities"]["email"], "identities.email")
            assert sealed.subject == key.decode()
            kids.setdefault(sealed.subject, set()).add(sealed.kid)
    assert len(kids) == 3000 and all(len(found) == 1 for found in kids.values())
    assert all(keystore.existing_key(subject).kid in found for subject, found in kids.items())


def test_a_remembered_customer_is_refused_once_a_forget_reaches_the_import(settings, tmp_path):
    settings = settings.model_copy(update={"privacy_refresh_s": 0.05})
    tag = uuid.uuid4().hex[:8]
    path = tmp_path / "orders.csv"
    write(path, tag, range(10), repeat=2)
    chunk_encoder = encoder(settings, path)
    try:
        (_, chunk), = chunks(path)
        first = chunk_encoder(chunk)
        assert len(first.events) == 20 and not first.rejects
        subject = RoutingKeys(settings.routing_key_secret.get_secret_value().encode()).for_identities(
            {"email": f"c3-{tag}@example.com"}).decode()
        KeyStore.from_settings(settings).forget([subject], now_us())
        time.sleep(0.1)
        again = chunk_encoder(chunk)
    finally:
        chunk_encoder.close()
    assert [(row, field) for row, field, *_ in again.rejects] == [(4, "identities"), (14, "identities")]
    assert len(again.events) == 18 and all(key.decode() != subject for _, key in again.events)
