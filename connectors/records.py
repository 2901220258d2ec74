"""Building canonical records (the codec's dict form) from connector input.

Shared by every connector so each stays a short mapping: :func:`interaction` fills the
envelope, :func:`money` turns provider amounts into minor units, :func:`timestamp`
parses provider dates. Problems raise :class:`ContractError` naming the input field.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from panorama.errors import ContractError
from schemas.contract import CANONICAL_TYPES, PAYLOAD_FIELDS
from schemas.identities import normalise_email, normalise_phone
from schemas.models import deterministic_event_id, to_micros
from schemas.money import currency_exponent

_EMPTY_PAYLOADS = dict.fromkeys(PAYLOAD_FIELDS)
_PLAIN_AMOUNT = re.compile(r"(\d{1,15})(?:\.(\d{1,4}))?")
_IDENTITY_KEYS = ("user_id", "anonymous_id", "email", "phone", "device_id")
_CONTEXT_KEYS = ("ip", "user_agent", "locale", "timezone", "page_url", "referrer", "campaign")


def interaction(
    type_: str,
    *,
    event_id: str,
    occurred_at: int,
    received_at: int,
    connector: str,
    channel: str,
    identities: dict[str, Any],
    payload: dict[str, Any] | None = None,
    name: str | None = None,
    properties: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
    consent: dict[str, bool] | None = None,
) -> dict[str, Any]:
    """One record with every envelope field present; ``payload`` goes to the field
    ``CANONICAL_TYPES[type_]`` names. Identities given as None are simply absent."""
    record: dict[str, Any] = {
        "event_id": event_id,
        "type": type_,
        "name": name,
        "occurred_at": occurred_at,
        "received_at": received_at,
        "source": {"channel": channel, "connector": connector},
        "identities": {
            **{k: identities.get(k) for k in _IDENTITY_KEYS},
            "external_ids": {k: v for k, v in (identities.get("external_ids") or {}).items() if v},
        },
        "context": {k: (context or {}).get(k) for k in _CONTEXT_KEYS},
        "consent": consent or {},
        "properties": orjson.dumps(properties).decode() if properties else "{}",
        **_EMPTY_PAYLOADS,
    }
    payload_field = CANONICAL_TYPES.get(type_)
    if payload_field is not None:
        record[payload_field] = payload
    return record


def batch_event_id(connector: str, *natural_key: Any) -> str:
    """The deterministic id of an event from a batch or webhook source: replays of the
    same input give the same id, so downstream dedup makes them no-ops."""
    return deterministic_event_id(connector, "\x1f".join(str(part) for part in natural_key))


def money(amount: Any, currency: Any, field: str) -> dict[str, Any]:
    """``{"amount_minor", "currency"}`` from a provider amount ("19.90", 19.9, 1990 as
    str/number in major units). Floats go through their shortest repr, never binary
    arithmetic; more decimals than the currency allows is an error, not a rounding."""
    if not isinstance(currency, str) or len(currency.strip()) != 3 or not currency.strip().isalpha():
        raise ContractError(f"{field}.currency", f"must be an ISO-4217 code, got {currency!r:.20}", "invalid_money")
    code = currency.strip().upper()
    plain = _PLAIN_AMOUNT.fullmatch(amount) if isinstance(amount, str) else None
    if plain is not None and len(plain[2] or "") <= currency_exponent(code):  # fast path, no Decimal
        exponent = currency_exponent(code)
        return {"amount_minor": int(plain[1]) * 10**exponent + int((plain[2] or "").ljust(exponent, "0") or 0), "currency": code}
    if isinstance(amount, bool) or not isinstance(amount, str | int | float | Decimal):
        raise ContractError(field, f"must be a decimal amount, got {type(amount).__name__}", "invalid_money")
    try:
        value = Decimal(amount.strip() if isinstance(amount, str) else repr(amount) if isinstance(amount, float) else amount)
    except InvalidOperation:
        raise ContractError(field, f"{amount!r:.30} is not a decimal amount", "invalid_money") from None
    if not value.is_finite():
        raise ContractError(field, f"{amount!r:.30} is not a finite amount", "invalid_money")
    minor = value.scaleb(currency_exponent(code))
    if minor != minor.to_integral_value():
        raise ContractError(field, f"{amount} {code} has more decimals than {code} allows", "invalid_money")
    return {"amount_minor": int(minor), "currency": code}


def timestamp(value: Any, field: str, default_tz: str = "UTC") -> int:
    """Epoch micros from an ISO-8601 string (``Z`` or an offset; naive ones are read in
    ``default_tz``), a ``YYYY-MM-DD HH:MM:SS`` string, or epoch seconds / milliseconds."""
    if isinstance(value, bool):
        raise ContractError(field, "must be a date-time, got a boolean", "invalid_timestamp")
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 1e11 else value
        return int(round(seconds * 1_000_000))
    if not isinstance(value, str) or not value.strip():
        raise ContractError(field, f"must be an ISO-8601 date-time, got {value!r:.40}", "invalid_timestamp")
    text = value.strip()
    if text.isdigit():
        return timestamp(int(text), field, default_tz)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ContractError(field, f"{text!r:.40} is not an ISO-8601 date-time", "invalid_timestamp") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(default_tz, field))
    return to_micros(moment)


def zone(name: str, field: str = "timezone") -> ZoneInfo | Any:
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ContractError(field, f"{name!r:.40} is not an IANA time zone", "invalid_timestamp") from None


def email(value: Any, field: str) -> str | None:
    """A normalised email, None when blank; ContractError when it is plainly not one."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or "@" not in value:
        raise ContractError(field, f"{value!r:.40} is not an email address", "invalid_email")
    return normalise_email(value)


def phone(value: Any, field: str, default_region: str | None = None, strict: bool = True) -> str | None:
    """E.164, None when blank; when unparsable, ContractError naming ``field`` (or None
    with ``strict=False``, for providers whose phone is a side detail of an order)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return normalise_phone(str(value), default_region)
    except ContractError as e:
        if not strict:
            return None
        raise ContractError(field, e.problem, e.code) from e


def text(value: Any) -> str | None:
    """Trimmed string, None when absent or blank (numbers become their decimal text)."""
    if value is None:
        return None
    result = str(value).strip()
    return result or None
