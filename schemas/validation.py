"""Semantic rules of the contract that Avro cannot express.

:func:`validate` takes a record in the codec's dict form (after or instead of the Avro
shape check) and raises :class:`ContractError` on the first broken rule. ``code`` is a
stable reason code: the producer puts it on dead-lettered events, dashboards count it.
It costs a few microseconds for a valid record; it is on the producer's hot path.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

import orjson

from panorama.errors import ContractError
from schemas.contract import CANONICAL_TYPES, OPTIONAL_PAYLOAD_TYPES, PAYLOAD_FIELDS, allowed_values, consent_purposes

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_ISO_DATE = re.compile(r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])")
_YEAR_2000_MICROS = 946_684_800_000_000
_MAX_FUTURE_MICROS = 24 * 3600 * 1_000_000
_IDENTITY_FIELDS = ("user_id", "anonymous_id", "email", "phone", "device_id")
# payload field -> ((name, dotted path, allowed values), ...) of its closed-set fields
_ALLOWED: dict[str, list[tuple[str, str, frozenset[str]]]] = {}
for _path, _values in allowed_values().items():
    _owner, _, _name = _path.partition(".")
    _ALLOWED.setdefault(_owner, []).append((_name, _path, _values))
_CONSENT_PURPOSES = consent_purposes()
# payload field -> dotted paths (relative to the payload) of every Money in it
_MONEY_FIELDS = {
    "order": ("total", "subtotal", "tax", "shipping", "discount"),
    "refund": ("amount",),
    "pipeline": ("amount",),
}


def validate(record: Mapping[str, Any]) -> None:
    """Raise ContractError(field, problem, code) if ``record`` breaks a contract rule."""
    _check_event_id(record.get("event_id"))
    payload_field = _check_type(record)
    _check_identities(record.get("identities") or {})
    _check_timestamp(record.get("occurred_at"))
    _check_properties(record.get("properties", "{}"))
    _check_consent(record.get("consent") or {})
    if payload_field and record.get(payload_field) is not None:
        _check_payload(payload_field, record[payload_field])


def _check_event_id(event_id: Any) -> None:
    if not isinstance(event_id, str) or not _UUID.fullmatch(event_id):
        raise ContractError("event_id", f"must be a UUID string, got {event_id!r:.60}", "invalid_uuid")


def _check_type(record: Mapping[str, Any]) -> str | None:
    """Check type, name and payload presence; return the type's payload field."""
    type_ = record.get("type")
    if type_ not in CANONICAL_TYPES:
        raise ContractError("type", f"{type_!r:.60} is not a canonical type; use 'track' with a name for custom events", "unknown_type")
    if type_ == "track" and not record.get("name"):
        raise ContractError("name", "a track event needs a non-empty name", "missing_name")
    payload_field = CANONICAL_TYPES[type_]
    if payload_field and record.get(payload_field) is None and type_ not in OPTIONAL_PAYLOAD_TYPES:
        raise ContractError(payload_field, f"is required for type {type_!r}", "missing_payload")
    for other in PAYLOAD_FIELDS:
        if other != payload_field and record.get(other) is not None:
            raise ContractError(other, f"must be null for type {type_!r}", "unexpected_payload")
    return payload_field


def _check_identities(identities: Mapping[str, Any]) -> None:
    if any(identities.get(f) for f in _IDENTITY_FIELDS) or any((identities.get("external_ids") or {}).values()):
        return
    raise ContractError("identities", "at least one identity (user_id, anonymous_id, email, phone, device_id or an external id) is required", "missing_identity")


def _check_timestamp(occurred_at: Any) -> None:
    if type(occurred_at) is not int:
        raise ContractError("occurred_at", f"must be epoch microseconds (int), got {type(occurred_at).__name__}", "invalid_timestamp")
    if occurred_at < _YEAR_2000_MICROS:
        raise ContractError("occurred_at", "is before 2000-01-01; is it in seconds or milliseconds instead of microseconds?", "invalid_timestamp")
    if occurred_at > time.time_ns() // 1000 + _MAX_FUTURE_MICROS:
        raise ContractError("occurred_at", "is more than 24 hours in the future", "invalid_timestamp")


def _check_properties(properties: Any) -> None:
    if properties == "{}":
        return
    try:
        parsed = orjson.loads(properties)
    except (orjson.JSONDecodeError, TypeError) as exc:
        raise ContractError("properties", f"must be a JSON object string: {exc}", "invalid_properties") from exc
    if not isinstance(parsed, dict):
        raise ContractError("properties", f"must be a JSON object, got {type(parsed).__name__}", "invalid_properties")


def _check_consent(consent: Mapping[str, Any]) -> None:
    for key in consent:
        if key.partition("@")[0].partition(":")[0] not in _CONSENT_PURPOSES:
            raise ContractError(f"consent.{key}", f"key must be a purpose ({', '.join(sorted(_CONSENT_PURPOSES))}) optionally "
                                "followed by :channel and @recipient[/region]", "invalid_consent")


def _check_payload(field: str, payload: Mapping[str, Any]) -> None:
    for name in _MONEY_FIELDS.get(field, ()):
        _check_money(f"{field}.{name}", payload.get(name))
    for index, item in enumerate(payload.get("line_items") or ()):
        _check_line_item(f"{field}.line_items[{index}]", item)
    for name, path, allowed in _ALLOWED.get(field, ()):
        value = payload.get(name)
        if value is not None and value not in allowed:
            raise ContractError(path, f"{value!r:.60} is not one of {sorted(allowed)}", "invalid_field")
    if field == "survey":
        _check_survey(payload)
    elif field == "traits" and payload.get("birthday") is not None and not _ISO_DATE.fullmatch(payload["birthday"]):
        raise ContractError("traits.birthday", "must be an ISO date YYYY-MM-DD", "invalid_field")


def _check_money(path: str, money: Mapping[str, Any] | None) -> None:
    if money is not None and not _CURRENCY.fullmatch(money.get("currency") or ""):
        raise ContractError(f"{path}.currency", f"must be an ISO-4217 code (3 uppercase letters), got {money.get('currency')!r:.20}", "invalid_money")


def _check_line_item(path: str, item: Mapping[str, Any]) -> None:
    quantity = item.get("quantity")
    if type(quantity) is not int or quantity <= 0:
        raise ContractError(f"{path}.quantity", f"must be a positive integer, got {quantity!r:.20}", "invalid_field")
    _check_money(f"{path}.unit_price", item.get("unit_price"))


def _check_survey(survey: Mapping[str, Any]) -> None:
    score, max_score = survey.get("score"), survey.get("max_score")
    if not isinstance(max_score, int) or max_score <= 0:
        raise ContractError("survey.max_score", f"must be a positive integer, got {max_score!r:.20}", "invalid_field")
    if not isinstance(score, int) or not 0 <= score <= max_score:
        raise ContractError("survey.score", f"must be within 0..{max_score}, got {score!r:.20}", "invalid_field")
