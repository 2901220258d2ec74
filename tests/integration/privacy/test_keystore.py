"""The key store on a real Redis: one key per subject even when processes race, keys
survive a new process, a forget deletes them and reaches other processes, consent lifts."""

from __future__ import annotations

import threading

import pytest
from redis import Redis

from panorama.privacy.crypto import seal, parse, unseal
from panorama.privacy.errors import PrivacyError
from panorama.privacy.keystore import KeyStore, master_aead
from schemas.identities import _e164, normalise_phone

pytestmark = pytest.mark.integration


def store(settings, **overrides) -> KeyStore:
    return KeyStore.from_settings(settings.model_copy(update=overrides), Redis.from_url(settings.redis_address))


def test_racing_creators_agree_on_one_key_and_a_new_process_reads_it(settings):
    subjects = [f"{i:032x}" for i in range(300)]
    stores = [store(settings) for _ in range(4)]
    threads = [threading.Thread(target=s.prepare, args=(subjects,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    kids = {tuple(s.cached_key(x).kid for x in subjects) for s in stores}
    assert len(kids) == 1
    sealed = seal(stores[0].cached_key(subjects[7]), "ana@example.com", "identities.email")
    fresh = store(settings)
    key = fresh.existing_key(subjects[7])
    assert unseal(key, parse(sealed, "identities.email"), "identities.email") == "ana@example.com"
    raw = Redis.from_url(settings.redis_address).get(fresh.dek_key(subjects[7]))
    assert len(raw) == 4 + 12 + 32 + 16 and key.aead is not None  # wrapped, not the key itself


def test_forget_deletes_keys_blocks_writes_and_reaches_other_processes(settings):
    writer, other = store(settings, privacy_refresh_s=0.01), store(settings, privacy_refresh_s=0.01)
    subject, bystander = "a" * 32, "b" * 32
    assert writer.prepare([subject, bystander]) == set()
    assert other.existing_key(subject) is not None
    assert writer.forget([subject], at_us=123) == 1
    import time
    time.sleep(0.02)
    assert other.refresh() is True
    assert other.existing_key(subject) is None and other.existing_key(bystander) is not None
    assert other.prepare([subject]) == {subject} and other.cached_key(subject) is None
    assert other.forgotten_at([subject, bystander]) == {subject: 123, bystander: None} | other.forgotten_at([])
    assert other.lift([subject, bystander]) == [subject]
    assert other.prepare([subject]) == set()
    assert other.cached_key(subject).kid  # a new key
    assert other.forgotten_at([subject])[subject] == 123  # old events stay erased


def test_a_forget_seen_by_a_process_drops_the_phone_numbers_it_parsed(settings):
    writer, other = store(settings, privacy_refresh_s=0.01), store(settings, privacy_refresh_s=0.01)
    other.refresh(force=True)
    assert normalise_phone("+49 30 1234567") == "+49301234567"
    assert _e164.cache_info().currsize >= 1
    assert other.refresh(force=True) is False and _e164.cache_info().currsize >= 1  # nothing happened: kept
    writer.forget(["c" * 32], at_us=1)
    assert other.refresh(force=True) is True
    assert _e164.cache_info().currsize == 0


def test_a_wrong_master_key_is_reported(settings):
    store(settings).prepare(["c" * 32])
    other = KeyStore(Redis.from_url(settings.redis_address), settings.topic_prefix,
                     master_aead(settings.model_copy(update={"master_key": settings.master_key.__class__("A" * 43 + "=")})))
    with pytest.raises(PrivacyError, match="CDP_MASTER_KEY"):
        other.existing_key("c" * 32)


@pytest.mark.parametrize("routing, others", [(2500, 0), (1500, 1500), (10, 4100)])
def test_large_batches_are_prepared_in_chunks(settings, routing, others):
    """A batch larger than one Lua call holds is split, whatever mix of routing subjects
    (keys created) and other subjects (only checked) it has."""
    keystore = store(settings)
    subjects = [f"r{routing}-{i:030x}" for i in range(routing)]
    checked = [f"o{others}-{i:030x}" for i in range(others)]
    assert keystore.prepare(subjects, checked) == set()
    assert all(keystore.cached_key(s) is not None for s in subjects)


def test_a_reader_opens_events_sealed_after_consent_before_its_next_refresh(settings):
    """After a forget a reader caches 'no key'; a consent grant elsewhere creates a new one,
    and events sealed with it must open at once, not be dropped as shredded until the
    reader's next refresh."""
    writer, reader = store(settings), store(settings, privacy_refresh_s=3600)
    subject = "d" * 32
    writer.prepare([subject])
    writer.forget([subject], at_us=1)
    assert reader.existing_key(subject) is None  # cached: shredded
    writer.lift([subject])
    writer.prepare([subject])
    sealed = seal(writer.cached_key(subject), "new@example.com", "identities.email")
    key = reader.existing_key(subject)
    assert key is not None and unseal(key, parse(sealed, "identities.email"), "identities.email") == "new@example.com"



def test_the_sealer_is_ready_only_for_customers_it_sealed_for_and_until_a_forget(settings):
    from panorama.privacy.hooks import Sealer
    from producers.keys import RoutingKeys

    settings = settings.model_copy(update={"privacy_refresh_s": 0.05})
    sealer, route = Sealer(settings), RoutingKeys(settings.routing_key_secret.get_secret_value().encode())
    ana, bob = ({"identities": {"user_id": u, "email": f"{u}@example.com"}} for u in ("ready-ana", "ready-bob"))
    assert not sealer.ready_for([ana])  # never sealed for: the collector prefetches in a thread first
    sealer.seal(ana, route.for_identities(ana["identities"]))
    assert sealer.ready_for([ana]) and not sealer.ready_for([ana, bob])
    assert not sealer.ready_for([{"identities": None}])  # left to validation and the prefetch
    import time
    time.sleep(0.06)
    assert not sealer.ready_for([ana])  # the forget check is due: that is a round trip too
    sealer.keystore.refresh()
    assert sealer.ready_for([ana])
    store(settings).forget([route.for_identities(ana["identities"]).decode()], at_us=1)
    time.sleep(0.06)
    sealer.keystore.refresh()
    assert not sealer.ready_for([ana])  # a new generation: every verdict is worked out again
