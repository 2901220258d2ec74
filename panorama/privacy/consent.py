"""Consent per purpose and channel, as activation, exports and destinations must check it.

The contract carries consent two ways (``schemas/avro/interaction``): every event's
``consent`` map (``purpose`` or ``purpose:channel`` -> granted, as known when it happened)
and ``consent_changed`` events (``consent_change {purpose, channel, granted, method,
policy_version}``, with the event's ``source`` and ``occurred_at`` as who and when). The
purposes are the contract's closed list: marketing, analytics, profiling,
third_party_sharing and cross_border_transfer — the last two separate, as PIPL (arts. 23,
38-39) asks. A live profile keeps the latest value of each map entry.

Rule of :func:`consent_allows` (opt-in, conservative): a purpose is allowed on a channel
when an entry for it (``purpose:channel`` or the purpose-wide ``purpose``) grants it and no
applicable entry withdraws it. A withdrawal always wins, so "no marketing" stops e-mail
marketing even if e-mail was granted before. Activation calls it before every send; a
destination before every sync; a transfer abroad or to a third party needs its own purpose.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from schemas.contract import consent_purposes


def consent_allows(profile: Mapping[str, Any], purpose: str, channel: str | None = None) -> bool:
    """Whether ``profile`` (a profile view, or any mapping with a ``consent`` map) allows
    ``purpose`` on ``channel`` (None: not tied to a channel). ValueError for an unknown
    purpose, naming the valid ones."""
    if purpose not in consent_purposes():
        raise ValueError(f"consent purpose {purpose!r} is not one of {sorted(consent_purposes())}")
    consent = profile.get("consent") or {}
    entries = [consent.get(purpose)] + ([consent.get(f"{purpose}:{channel}")] if channel else [])
    found = [granted for granted in entries if granted is not None]
    return bool(found) and all(found)


def consent_summary(profile: Mapping[str, Any], channels: Iterable[str] = ()) -> dict[str, dict[str, bool]]:
    """Purpose -> channel (``*`` for purpose-wide) -> allowed, for every purpose and for
    the channels named in the profile's consent map or in ``channels``."""
    consent = profile.get("consent") or {}
    named = {name.split(":", 1)[1] for name in consent if ":" in name} | set(channels)
    return {purpose: {"*": consent_allows(profile, purpose)} | {c: consent_allows(profile, purpose, c) for c in sorted(named)}
            for purpose in sorted(consent_purposes())}


def consent_history(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every consent statement in ``records`` (decoded events), oldest first: when, from
    which source, what, and how it was given."""
    history = []
    for record in records:
        change = record.get("consent_change")
        base = {"at": record["occurred_at"], "event_id": record["event_id"], "source": record["source"]}
        if change:
            history.append(base | {"purpose": change["purpose"], "channel": change.get("channel"),
                                   "granted": change["granted"], "method": change.get("method"),
                                   "policy_version": change.get("policy_version")})
        for name, granted in sorted((record.get("consent") or {}).items()):
            purpose, _, channel = name.partition(":")
            if not change or (purpose, channel or None) != (change["purpose"], change.get("channel")):
                history.append(base | {"purpose": purpose, "channel": channel or None, "granted": granted,
                                       "method": "event_context", "policy_version": None})
    return sorted(history, key=lambda h: (h["at"], h["event_id"]))
