"""Identity normalisation shared by the whole platform.

Every component that compares, keys or stores an identity goes through these functions,
so ``Ana@Example.com `` and ``ana@example.com`` are one customer everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import phonenumbers

from panorama.errors import ContractError

# Strongest first: a login id beats contact points, which beat per-device ids.
_LEADING = ("user_id", "email", "phone")
_TRAILING = ("device_id", "anonymous_id")


def normalise_email(value: str) -> str:
    """Trimmed and lower-cased (providers treat the local part case-insensitively in practice)."""
    return value.strip().lower()


def normalise_phone(value: str, default_region: str | None = None) -> str:
    """E.164 (``+33612345678``). ``default_region`` (ISO-3166 alpha-2) is needed for
    numbers written without a country code; raises ContractError when unparsable."""
    return _e164(value, default_region)


@lru_cache(maxsize=65_536)
def _e164(value: str, default_region: str | None) -> str:
    """Parsing a number costs ~30 µs, and one customer's number is normalised again and
    again: as a connector cleans it, as the producer keys and seals its events, as the
    identity stage names its node. The result of a parse is cached, not guessed: an
    E.164-looking value is not always its own normal form (``+440201234567`` parses to
    ``+44201234567``), so the only shortcut is having parsed the same value before."""
    try:
        number = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException as exc:
        raise ContractError("identities.phone", f"cannot parse {value!r:.40} as a phone number: {exc}", "invalid_phone") from exc
    if not phonenumbers.is_possible_number(number):
        raise ContractError("identities.phone", f"{value!r:.40} is not a possible phone number", "invalid_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def forget_parsed_phones() -> None:
    """Drop every remembered parse. The key store calls it when a forget (or a consent
    grant) may have named one of them, so an erased number does not outlive its erasure
    in a running collector, worker or importer."""
    _e164.cache_clear()


def routing_identity(identities: Mapping[str, Any]) -> tuple[str, str]:
    """The strongest identity present, normalised, as (kind, value).

    Priority: user_id > email > phone > external ids (first key in sorted order, kind
    ``external:<key>``) > device_id > anonymous_id. The producer keys Kafka messages by it.
    """
    for kind in _LEADING:
        if identities.get(kind):
            return kind, normalise_identity(kind, identities[kind])
    external = identities.get("external_ids") or {}
    for key in sorted(external):
        if external[key]:
            return f"external:{key}", external[key]
    for kind in _TRAILING:
        if identities.get(kind):
            return kind, identities[kind]
    raise ContractError("identities", "no identity to route by (user_id, email, phone, external id, device_id or anonymous_id)", "missing_identity")


def normalise_identity(kind: str, value: str) -> str:
    """The one normal form of an identity value: emails and phones normalised, others as given."""
    if kind == "email":
        return normalise_email(value)
    if kind == "phone":
        return normalise_phone(value)
    return value
