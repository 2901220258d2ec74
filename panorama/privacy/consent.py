"""Consent per purpose, channel and recipient, as activation, exports and destinations
must check it.

The contract carries consent two ways (``schemas/avro/interaction``): every event's
``consent`` map (entry name -> granted, as known when it happened) and ``consent_changed``
events (``consent_change {purpose, channel, granted, method, policy_version, recipient,
destination_region}``, with the event's ``source`` and ``occurred_at`` as who and when).
The purposes are the contract's closed list: marketing, analytics, profiling,
third_party_sharing and cross_border_transfer — the last two separate, as PIPL (arts. 23,
38-39) asks, and given *per recipient*: PIPL asks the person to be told who receives the
data (and, abroad, where) and to consent to that. A live profile keeps the latest value
of each map entry.

An entry name is ``purpose[:channel][@recipient[/region]]`` (:func:`entry_name`): e.g.
``marketing:email``, ``third_party_sharing@Acme Ads Ltd``,
``cross_border_transfer@Acme Analytics Pte Ltd/SG``.

Rule of :func:`consent_allows` (opt-in, conservative): a purpose is allowed on a channel
when an entry for it (``purpose:channel`` or the purpose-wide ``purpose``) grants it and no
applicable entry withdraws it. A withdrawal always wins, so "no marketing" stops e-mail
marketing even if e-mail was granted before. For third_party_sharing and
cross_border_transfer *with a recipient named*, only an entry naming that recipient (and,
when a region is asked about, that recipient in that region, or the recipient with no
region stated) grants: consent given to recipient A does not allow B, and a purpose-wide
grant recorded without a recipient (schema v1 data) allows no named recipient. A
purpose-wide or channel withdrawal still stops every recipient. Activation calls it
before every send; a destination before every sync, naming itself as the recipient.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from schemas.contract import consent_purposes

RECIPIENT_PURPOSES = ("third_party_sharing", "cross_border_transfer")
_REGION = re.compile(r"^[A-Z]{2}$")


def entry_name(purpose: str, channel: str | None = None, recipient: str | None = None, region: str | None = None) -> str:
    """The ``consent`` map entry a statement about these is recorded under."""
    name = f"{purpose}:{channel}" if channel else purpose
    if recipient:
        name += f"@{recipient}/{region}" if region else f"@{recipient}"
    return name


def parse_entry(name: str) -> tuple[str, str | None, str | None, str | None]:
    """(purpose, channel, recipient, region) of an entry name (inverse of :func:`entry_name`)."""
    scope, _, to = name.partition("@")
    purpose, _, channel = scope.partition(":")
    recipient, _, region = to.rpartition("/") if "/" in to else (to, "", "")
    return purpose, channel or None, recipient or None, region or None


def check_recipient(purpose: str, recipient: str | None, region: str | None) -> None:
    """ValueError naming the field when ``recipient`` / ``region`` cannot be recorded for
    ``purpose``: only sharing and transfer abroad are given per recipient; a recipient may
    not hold ``@`` or ``/`` (entry-name separators); a region is ISO 3166-1 alpha-2."""
    if recipient is not None:
        if purpose not in RECIPIENT_PURPOSES:
            raise ValueError(f"recipient: only {' and '.join(RECIPIENT_PURPOSES)} are given per recipient, not {purpose!r}")
        if not recipient.strip() or "@" in recipient or "/" in recipient or len(recipient) > 200:
            raise ValueError("recipient: must be 1-200 characters without '@' or '/' (the recipient's name or id)")
    if region is not None:
        if recipient is None:
            raise ValueError("destination_region: needs a recipient (who receives the data there)")
        if not _REGION.match(region):
            raise ValueError(f"destination_region: {region!r:.20} is not an ISO 3166-1 alpha-2 code such as 'SG'")


def consent_allows(profile: Mapping[str, Any], purpose: str, channel: str | None = None,
                   recipient: str | None = None, region: str | None = None) -> bool:
    """Whether ``profile`` (a profile view, or any mapping with a ``consent`` map) allows
    ``purpose`` on ``channel`` (None: not tied to a channel), for ``recipient`` in
    ``region`` (sharing and transfer abroad only). ValueError for an unknown purpose,
    naming the valid ones, or a recipient that cannot be asked about."""
    if purpose not in consent_purposes():
        raise ValueError(f"consent purpose {purpose!r} is not one of {sorted(consent_purposes())}")
    check_recipient(purpose, recipient, region)
    consent = profile.get("consent") or {}
    channels = [None, channel] if channel else [None]
    general = [consent.get(entry_name(purpose, c)) for c in channels]
    if recipient is None:
        found = [granted for granted in general if granted is not None]
        return bool(found) and all(found)
    regions = [None, region] if region else [None]
    specific = [consent.get(entry_name(purpose, c, recipient, r)) for c in channels for r in regions]
    return not any(granted is False for granted in general + specific) and any(specific)


def consent_summary(profile: Mapping[str, Any], channels: Iterable[str] = ()) -> dict[str, dict[str, bool]]:
    """Purpose -> channel (``*`` for purpose-wide; ``@recipient[/region]`` for each
    recipient named in the map) -> allowed, for every purpose and for the channels named
    in the profile's consent map or in ``channels``."""
    entries = [parse_entry(name) for name in profile.get("consent") or {}]
    named = {channel for _, channel, _, _ in entries if channel} | set(channels)
    summary = {purpose: {"*": consent_allows(profile, purpose)} | {c: consent_allows(profile, purpose, c) for c in sorted(named)}
               for purpose in sorted(consent_purposes())}
    for purpose, _, recipient, region in entries:
        if recipient and purpose in summary:
            summary[purpose][entry_name("", None, recipient, region)] = consent_allows(profile, purpose, None, recipient, region)
    return summary


def consent_history(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every consent statement in ``records`` (decoded events), oldest first: when, from
    which source, what, to whom, and how it was given."""
    history = []
    for record in records:
        change = record.get("consent_change")
        base = {"at": record["occurred_at"], "event_id": record["event_id"], "source": record["source"]}
        stated = None
        if change:
            stated = entry_name(change["purpose"], change.get("channel"), change.get("recipient"), change.get("destination_region"))
            history.append(base | {"purpose": change["purpose"], "channel": change.get("channel"),
                                   "recipient": change.get("recipient"), "destination_region": change.get("destination_region"),
                                   "granted": change["granted"], "method": change.get("method"),
                                   "policy_version": change.get("policy_version")})
        for name, granted in sorted((record.get("consent") or {}).items()):
            if name != stated:
                purpose, channel, recipient, region = parse_entry(name)
                history.append(base | {"purpose": purpose, "channel": channel, "recipient": recipient,
                                       "destination_region": region, "granted": granted,
                                       "method": "event_context", "policy_version": None})
    return sorted(history, key=lambda h: (h["at"], h["event_id"]))
