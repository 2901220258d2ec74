"""Cleaning imported values on the way in: every function returns the clean value or
None for a blank, and raises ContractError naming the column for a value it cannot read.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

import pycountry

from connectors import records
from panorama.errors import ContractError
from schemas.models import to_micros

_TRUE = frozenset({"1", "true", "yes", "y", "t", "on", "x"})
_FALSE = frozenset({"0", "false", "no", "n", "f", "off", ""})


@lru_cache(maxsize=1024)
def country(value: str | None, field: str = "country") -> str | None:
    """ISO-3166 alpha-2 from an alpha-2 or alpha-3 code or an English name."""
    value = records.text(value)
    if value is None:
        return None
    try:
        return pycountry.countries.lookup(value).alpha_2
    except LookupError:
        raise ContractError(field, f"{value!r:.40} is not a country code or name", "invalid_country") from None


def moment(value: Any, field: str, timezone: str, date_format: str | None = None) -> int | None:
    """Epoch micros: ISO-8601 (an offset wins; a naive value is read in ``timezone``), or
    ``date_format`` (strptime) when the file uses another layout."""
    value = records.text(value)
    if value is None:
        return None
    if date_format is None:
        return records.timestamp(value, field, timezone)
    try:
        parsed = datetime.strptime(value, date_format)
    except ValueError:
        raise ContractError(field, f"{value!r:.40} does not match the date format {date_format!r}", "invalid_timestamp") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=records.zone(timezone, field))
    return to_micros(parsed)


def iso_date(value: Any, field: str, date_format: str | None = None) -> str | None:
    """``YYYY-MM-DD`` of a date column (birthdays: no time zone applies)."""
    value = records.text(value)
    if value is None:
        return None
    try:
        parsed = datetime.strptime(value, date_format) if date_format else datetime.fromisoformat(value)
    except ValueError:
        raise ContractError(field, f"{value!r:.40} is not a date", "invalid_field") from None
    return parsed.date().isoformat()


def flag(value: Any, field: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return None if text == "" else False
    raise ContractError(field, f"{value!r:.20} is not a yes/no value", "invalid_field")


def positive_int(value: Any, field: str, default: int | None = None) -> int | None:
    text = records.text(value)
    if text is None:
        return default
    try:
        number = int(text)
    except ValueError:
        raise ContractError(field, f"{text!r:.20} is not a whole number", "invalid_field") from None
    if number <= 0:
        raise ContractError(field, f"must be positive, got {number}", "invalid_field")
    return number
