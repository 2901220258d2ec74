"""Activation: hand a segment's members to a campaign, only those whose consent allows the
purpose on the channel, never a forgotten customer.

Each exported line is ``{customer_id, segment_id, purpose, channel, address}``, where
``address`` is the identities the channel reaches (e-mails for ``email``, phone numbers
for ``sms``/``phone``/``whatsapp``; absent for other channels, which address customers by
id). A member is skipped, and counted, when its consent does not allow the purpose on the
channel (:func:`panorama.privacy.consent.consent_allows`), when the channel needs an
address it does not have, or when it is gone (forgotten, or merged into another customer
since it entered).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from functools import reduce
from typing import Any

from redis import Redis

from panorama.privacy.consent import RECIPIENT_PURPOSES, consent_allows
from panorama.privacy.keystore import forgotten_key, is_forgotten
from panorama.settings import Settings
from streams.profiles.fold import merge
from streams.profiles.view import profile_view
from streams.signals.rules import SignalRules, configured_signal_rules
from streams.segments.store import SegmentStore
from streams.store import ProfileStore

ADDRESS_KINDS = {"email": "email", "sms": "phone", "phone": "phone", "whatsapp": "phone"}


@dataclass
class ActivationReport:
    segment_id: str
    purpose: str
    channel: str | None
    members: int = 0
    exported: int = 0
    skipped_no_consent: int = 0
    skipped_no_address: int = 0
    skipped_gone: int = 0

    def counts(self) -> dict[str, Any]:
        return asdict(self)


def activate(settings: Settings, redis: Redis, segment_id: str, purpose: str, channel: str | None, now: int,
             emit: Callable[[dict[str, Any]], None], recipient: str | None = None,
             region: str | None = None) -> ActivationReport:
    """Call ``emit`` with the line of every member that may be contacted; return the counts.
    Sharing with a third party and transfer abroad need the ``recipient`` (and ``region``):
    PIPL asks for consent to each recipient, so a purpose-wide grant is not enough. ValueError
    for an unknown purpose or a missing / invalid recipient (before anything is read);
    SegmentError for an unknown segment."""
    if purpose in RECIPIENT_PURPOSES and recipient is None:
        raise ValueError(f"recipient: {purpose} needs the recipient the members are sent to (consent is per recipient)")
    consent_allows({}, purpose, channel, recipient, region)  # an unknown purpose fails here, naming the valid ones
    segments = SegmentStore(redis, settings.topic_prefix, settings.interactions_partitions)
    segments.get(segment_id)
    store = ProfileStore(redis, settings.topic_prefix)
    rules = configured_signal_rules(settings)
    report = ActivationReport(segment_id, purpose, channel)
    kind = ADDRESS_KINDS.get(channel or "")
    for customer_id in _members(redis, segments.keys.members(segment_id)):
        report.members += 1
        profile = _live_profile(store, redis, customer_id, now, rules)
        if profile is None:
            report.skipped_gone += 1
        elif not consent_allows(profile, purpose, channel, recipient, region):
            report.skipped_no_consent += 1
        elif kind is not None and not profile["identities"].get(kind):
            report.skipped_no_address += 1
        else:
            line = {"customer_id": customer_id, "segment_id": segment_id, "purpose": purpose, "channel": channel}
            emit(line | ({"address": profile["identities"][kind]} if kind else {}))
            report.exported += 1
    return report


def _members(redis: Redis, key: str) -> Iterator[str]:
    for member in redis.sscan_iter(key, count=1000):
        yield member.decode()


def _live_profile(store: ProfileStore, redis: Redis, customer_id: str, now: int, rules: SignalRules) -> dict | None:
    """The customer's profile, or None when it is no customer any more: merged into another,
    erased, or forgotten (checked here too: a forget shreds the keys before it erases Redis)."""
    root, nodes = store.resolve(customer_id)
    if root != customer_id:
        return None
    if any(map(is_forgotten, redis.hmget(forgotten_key(store.keys.ns), [n.rsplit(":", 1)[1] for n in nodes]))):
        return None
    partials = store.read_partials(nodes)
    return profile_view(reduce(merge, partials), root, now, rules) if partials else None
