"""``cdp privacy export``: everything held about one customer, machine-readable (access
request, GDPR art. 15 / PIPL art. 45).

The copy holds the live profile, the customer's identities and how they were linked, every
event of the customer in the interaction log (found by its message keys, the customer's
routing hashes; personal fields opened), sealed DLQ copies of its rejected input, and its
consent: the statements over time and what they allow now, per purpose and channel. The
log is scanned from its start: the time of an export grows with the log.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from redis import Redis

from panorama.log_reader import read_log, readable
from panorama.privacy.consent import consent_history, consent_summary
from panorama.privacy.crypto import is_sealed, parse, unseal
from panorama.privacy.hooks import DLQ_PATH, Opener
from panorama.security.audit import AuditLog
from panorama.settings import Settings
from schemas.codec import InteractionCodec
from streams.profiles.read import ProfileReader

FORMAT = "panorama.export/1"


def export(settings: Settings, identity: str, actor: str, reason: str | None, redis: Redis | None = None) -> dict[str, Any]:
    """The export of the customer ``identity`` belongs to. Raises ProfileNotFound (audited
    as ``not_found``) when no customer has it."""
    redis = redis or Redis.from_url(settings.redis_address)
    reader = ProfileReader(redis, settings)
    customer_id, members = reader.store.resolve(reader.namer.parse(identity))
    with AuditLog(settings) as audit:
        try:
            profile = reader.read(identity)
        except Exception:
            audit.record(actor, "privacy.export", customer_id, reason, "not_found")
            raise
        explained = reader.explain(identity)
        opener = Opener(settings)
        subjects = {node.rsplit(":", 1)[1].encode() for node in members}
        events = customer_events(settings, opener, subjects)
        rejected = customer_dead_letters(settings, opener, {s.decode() for s in subjects})
        audit.record(actor, "privacy.export", customer_id, reason, "ok",
                     {"events": len(events), "identities": len(members), "rejected_inputs": len(rejected)})
    return {
        "format": FORMAT,
        "generated_at": datetime.now(UTC).isoformat(),
        "customer_id": customer_id,
        "profile": profile,
        "identities": explained["identities"],
        "identity_history": explained["history"],
        "events": [readable(e) for e in events],
        "rejected_inputs": rejected,
        "consent": {"current": consent_summary(profile), "history": consent_history(events)},
    }


def customer_events(settings: Settings, opener: Opener, subjects: set[bytes]) -> list[dict]:
    """The customer's events in the log, personal fields opened, oldest first."""
    codec = InteractionCodec()
    found = [(codec.decode(m.value()), m.key()) for m in read_log(settings, settings.topics.interactions, lambda low, _: low)
             if m.key() in subjects]
    events = [record for _, record in opener.open_batch(found).records]
    return sorted(events, key=lambda e: (e["occurred_at"], e["event_id"]))


def customer_dead_letters(settings: Settings, opener: Opener, subjects: set[str]) -> list[dict]:
    """The customer's rejected input still in the DLQ (sealed copies), opened."""
    out = []
    for msg in read_log(settings, settings.topics.dlq, lambda low, _: low):
        body = orjson.loads(msg.value())
        sealed = body.get("sealed")
        if not is_sealed(sealed):
            continue
        header = parse(sealed, DLQ_PATH)
        key = opener.keystore.existing_key(header.subject) if header.subject in subjects else None
        if key is not None and key.kid == header.kid:
            inner = orjson.loads(unseal(key, header, DLQ_PATH))
            out.append({k: body[k] for k in ("reason", "field", "source", "rejected_at")} | inner)
    return out
