"""Shared assertions of the connector unit tests."""

from __future__ import annotations

from typing import Any

from schemas.validation import validate

RECEIVED_AT = 1_718_000_000_000_000  # 2024-06-10T06:13:20Z


def valid(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every event satisfies the contract; returns them for further checks."""
    for event in events:
        validate(event)
    return events


def by_type(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {(e["name"] if e["type"] == "track" else e["type"]): e for e in events}
