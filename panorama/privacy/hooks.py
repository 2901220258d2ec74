"""Where the platform meets personal-data protection: the producer seals, readers open.

:class:`Sealer` is the producer's hook, called on every valid event before it is encoded:
it refuses events of forgotten customers (:class:`SuppressedIdentity`), lifts that block
when the event is a consent grant, and seals every personal field under the data key of
the event's routing subject (its Kafka message key). :class:`Opener` is the consumers'
hook, called right after decoding a batch: it opens sealed fields and drops the events a
forget erased (received before the forget, or whose fields can no longer be opened), so
neither a live worker nor a replay brings a forgotten customer back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from panorama.errors import ContractError, UnknownSchemaError
from panorama.privacy.crypto import SEALED_MARK, seal
from panorama.privacy.errors import SuppressedIdentity
from panorama.privacy.fields import RecordOpener, memo_sealer
from panorama.privacy.keystore import KeyStore
from panorama.settings import Settings
from producers.keys import RoutingKeys
from schemas.codec import InteractionCodec
from streams.identity.nodes import NodeNamer

CACHE_SIZE = 200_000  # identity combinations remembered per process
DLQ_PATH = "<dlq>"  # the field path a sealed DLQ payload is bound to


def identity_subjects(namer: NodeNamer, identities: Mapping[str, Any]) -> list[str]:
    """The subject (keyed hash) of every identity an event carries."""
    return [node.rsplit(":", 1)[1] for node, _label in namer.nodes(identities)]


def erased_by_forget(record: Mapping[str, Any], forgotten_at: int) -> bool:
    """Whether a forget at ``forgotten_at`` (µs) erased this event of the forgotten subject:
    it did if the platform received the event up to that moment (``received_at``). The one
    rule of every reader; why ``received_at`` and not the Kafka timestamp is explained in
    :mod:`panorama.privacy`."""
    return record["received_at"] <= forgotten_at


def is_consent_grant(record: Mapping[str, Any]) -> bool:
    change = record.get("consent_change")
    return record.get("type") == "consent_changed" and bool(change and change.get("granted"))


def _identity_tuple(identities: Mapping[str, Any]) -> tuple:
    external = identities.get("external_ids")
    return (identities.get("user_id"), identities.get("email"), identities.get("phone"), identities.get("device_id"),
            identities.get("anonymous_id"), tuple(sorted(external.items())) if external else ())


class Sealer:
    """The producer's hook. Not thread-safe, like the producer that owns it."""

    def __init__(self, settings: Settings, keystore: KeyStore | None = None):
        self.keystore = keystore or KeyStore.from_settings(settings)
        secret = settings.routing_key_secret.get_secret_value().encode()
        self.namer = NodeNamer(secret)
        self.routing = RoutingKeys(secret)
        self._subjects: dict[tuple, list[str]] = {}
        self._ready: dict[tuple, tuple[int, Callable[[dict], dict] | None]] = {}  # identity tuple ->
        self._sealers: dict[str, Callable[[dict], dict]] = {}  # subject -> memo_sealer of its key
        self._generation = self.keystore.generation
        self.suppressed = 0

    def seal(self, record: dict, key: bytes) -> dict:
        """``record`` with its personal fields sealed under the data key of ``key`` (the
        event's routing subject). Raises SuppressedIdentity for a forgotten customer."""
        self.keystore.refresh()
        raw = _identity_tuple(record["identities"])
        sealer = self._ready_sealer(raw) or self._verdict(raw, record, key.decode())[1]
        return sealer(record)

    def _ready_sealer(self, raw: tuple) -> Callable[[dict], dict] | None:
        """The sealer worked out for the identities ``raw`` under the current generation;
        None when there is none yet, it is stale, or the customer is forgotten (the slow
        path decides again, and raises for a forgotten one)."""
        ready = self._ready.get(raw)  # (generation, sealer for the data key or None when forgotten)
        return ready[1] if ready is not None and ready[0] == self.keystore.generation else None

    def _verdict(self, raw: tuple, record: dict, subject: str) -> tuple[int, Callable[[dict], dict]]:
        """The slow path, once per identity combination (and after each forget or grant)."""
        keystore = self.keystore
        subjects = self._identity_subjects(raw, record["identities"])
        forgotten = keystore.prepare([subject], subjects)
        if forgotten and is_consent_grant(record):
            keystore.lift(forgotten)
            forgotten = keystore.prepare([subject], subjects)
        if len(self._ready) > CACHE_SIZE or self._generation != keystore.generation:
            self._ready.clear()  # sealers remember values sealed under keys a forget may have deleted
            self._sealers.clear()
            self._generation = keystore.generation
        if forgotten:
            self._ready[raw] = (keystore.generation, None)
            self.suppressed += 1
            raise SuppressedIdentity()
        sealer = self._sealers.get(subject)
        if sealer is None:
            sealer = self._sealers[subject] = memo_sealer(keystore.cached_key(subject))
        ready = self._ready[raw] = (keystore.generation, sealer)
        return ready

    def ready_for(self, records: Iterable[Mapping[str, Any]]) -> bool:
        """Whether sealing ``records`` needs no key-store round trip: every identity
        combination among them was sealed for before, under the current generation, and the
        forget check is not due. The collector then seals on its event loop without first
        sending a :meth:`prefetch` to a worker thread (per request: a thread hand-off and
        1.1 µs per record of routing and subject lookups, for nothing in the steady state; this
        check costs ~0.3)."""
        if self.keystore.refresh_due():
            return False
        for record in records:
            try:
                raw = _identity_tuple(record["identities"])
            except (TypeError, KeyError, AttributeError):
                return False  # left to validation, after a prefetch that skips it too
            if self._ready_sealer(raw) is None:
                return False
        return True

    def prefetch(self, records: Iterable[Any], route: Callable[[Mapping[str, Any]], bytes]) -> None:
        """Fetch or create the data keys and forgotten-verdicts of a batch in one round trip
        (``send_and_wait``, imports) instead of one per new customer. ``route`` gives an
        event's routing key; records it cannot route are left to validation to reject."""
        routing, others = [], []
        for record in records:
            record = record.to_record() if hasattr(record, "to_record") else record
            try:
                identities = record["identities"]
                routing.append(route(identities).decode())
                others.extend(self._identity_subjects(_identity_tuple(identities), identities))
            except (ContractError, TypeError, KeyError, AttributeError):
                continue
        self.keystore.prepare(routing, others)

    def seal_payload(self, payload: Any) -> str | None:
        """``payload`` (JSON-ready) sealed as a whole under the data key of its routing
        identity, for the DLQ; None when no subject can be derived from it, or it belongs to
        a forgotten customer (the caller then keeps only its shape)."""
        original = payload.get("payload") if isinstance(payload, dict) else None
        identities = original.get("identities") if isinstance(original, dict) else None
        if not isinstance(identities, dict):
            return None
        try:
            subject = self.routing.for_identities(identities).decode()
            if self.keystore.prepare([subject]):
                return None
        except (ContractError, TypeError, AttributeError):
            return None
        return seal(self.keystore.cached_key(subject), orjson.dumps(payload, default=str).decode(), DLQ_PATH)

    def _identity_subjects(self, raw: tuple, identities: Mapping[str, Any]) -> list[str]:
        found = self._subjects.get(raw)
        if found is None:
            if len(self._subjects) > CACHE_SIZE:
                self._subjects.clear()
            found = self._subjects[raw] = identity_subjects(self.namer, identities)
        return found


@dataclass
class Opened:
    """A batch after :meth:`Opener.open_batch`: the records to use, by input position."""

    records: list[tuple[int, dict]] = field(default_factory=list)
    erased: int = 0  # events of forgotten customers, dropped
    errors: list[tuple[int, ContractError]] = field(default_factory=list)  # tampered or unreadable
    forgets_seen: bool = False  # a forget or grant happened: drop any cached customer state


class Opener:
    """The consumers' hook (profile worker, ``cdp tail --show-pii``, export)."""

    def __init__(self, settings: Settings, keystore: KeyStore | None = None):
        self.keystore = keystore or KeyStore.from_settings(settings)
        self.codec = InteractionCodec()
        self._generation = self.keystore.generation
        self._memo: dict[tuple[str, str], str] = {}  # (path, sealed) -> plaintext, see open_record

    def not_erased(self, messages: list[Any]) -> list[Any]:
        """The Kafka messages of a batch minus those a forget erased, for consumers that
        never decode in Python, such as the analytics sink, so a replay brings no forgotten
        customer back. Same rule as :meth:`open_batch` (see :func:`erased_by_forget`); only
        messages keyed by a forgotten subject are decoded, to read their ``received_at``
        (a corrupt one is dropped: it cannot be told apart from the erased; an unknown
        schema raises, as the sink stops on it).
        One Redis round trip per batch at most."""
        keystore = self.keystore
        keystore.refresh()
        keyed = [(m, key.decode() if (key := m.key()) else None) for m in messages]
        forgotten = keystore.forgotten_at({key for _, key in keyed if key})
        if not forgotten:
            return messages
        return [m for m, key in keyed if (at := forgotten.get(key)) is None or not self._erased(m.value(), at)]

    def _erased(self, value: bytes, forgotten_at: int) -> bool:
        try:
            return erased_by_forget(self.codec.decode(value), forgotten_at)
        except UnknownSchemaError:
            raise  # a newer writer: the consumer must stop, not guess
        except ContractError:
            return True

    def open_batch(self, items: list[tuple[dict, bytes | None]], values: Sequence[bytes] | None = None) -> Opened:
        """Open the personal fields of decoded ``(record, message key)`` pairs. ``values``,
        the raw message values by position, lets a record whose bytes hold no sealed value
        skip the walk over its personal fields: most events carry none."""
        keystore = self.keystore
        keystore.refresh()
        opened = Opened(forgets_seen=keystore.generation != self._generation)
        if opened.forgets_seen or len(self._memo) > 4 * CACHE_SIZE:
            self._memo.clear()  # opened under keys a forget may have deleted
        self._generation = keystore.generation
        subjects = {key.decode() for _, key in items if key}
        forgotten = keystore.forgotten_at(subjects)
        erased_before = {s: at for s in subjects if (at := forgotten.get(s)) is not None}
        keystore.load_existing(subjects)
        open_one = RecordOpener(keystore.existing_key, self._memo)
        for index, (record, key) in enumerate(items):
            at = erased_before.get(key.decode()) if erased_before and key else None
            if at is not None and erased_by_forget(record, at):
                opened.erased += 1
                continue
            if values is not None and SEALED_MARK not in values[index]:
                opened.records.append((index, record))
                continue
            try:
                record, shredded = open_one(record)
            except ContractError as e:
                opened.errors.append((index, e))
                continue
            if shredded:
                opened.erased += 1
            else:
                opened.records.append((index, record))
        return opened
