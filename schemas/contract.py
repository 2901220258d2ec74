"""The interaction contract as data: schema versions, canonical types, PII tags.

The ``.avsc`` files under ``schemas/avro/interaction/`` are the source of truth; this module
only reads them. Custom attributes (``pii``, ``allowed``) are read from the raw JSON,
because Avro libraries are free to drop attributes they do not know.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any, Iterator

from fastavro.schema import to_parsing_canonical_form

from schemas.avro_names import named_types, resolve
from schemas.fingerprint import crc64_avro

SCHEMA_DIR = ("avro", "interaction")
_VERSION_FILE = re.compile(r"v(\d+)\.avsc")

# type -> the payload field it carries (None: no payload field).
CANONICAL_TYPES: dict[str, str | None] = {
    "identify": "traits",
    "track": None,
    "page": "page",
    "screen": "screen",
    "group": "group",
    "alias": "alias",
    "order_placed": "order",
    "order_refunded": "refund",
    "email_sent": "email",
    "email_opened": "email",
    "email_clicked": "email",
    "email_bounced": "email",
    "email_unsubscribed": "email",
    "call_logged": "call",
    "social_interaction": "social",
    "ticket_opened": "ticket",
    "ticket_updated": "ticket",
    "ticket_resolved": "ticket",
    "survey_answered": "survey",
    "loyalty_points_earned": "loyalty",
    "loyalty_points_redeemed": "loyalty",
    "lead_stage_changed": "pipeline",
    "opportunity_stage_changed": "pipeline",
    "consent_changed": "consent_change",
}
# Types whose payload field may be left null (an identify may only link identities).
OPTIONAL_PAYLOAD_TYPES = frozenset({"identify"})
PAYLOAD_FIELDS: tuple[str, ...] = tuple(dict.fromkeys(f for f in CANONICAL_TYPES.values() if f))


@dataclass(frozen=True)
class SchemaVersion:
    """One ``v<N>.avsc`` file: its raw JSON, Parsing Canonical Form and fingerprint."""

    version: int
    schema: dict[str, Any]

    @property
    def canonical_form(self) -> str:
        return to_parsing_canonical_form(self.schema)

    @property
    def fingerprint(self) -> bytes:
        """CRC-64-AVRO of the canonical form, little-endian, as in the single-object header."""
        return crc64_avro(self.canonical_form.encode()).to_bytes(8, "little")


@cache
def schema_versions() -> tuple[SchemaVersion, ...]:
    """Every packaged version of the Interaction schema, oldest first."""
    folder = files("schemas").joinpath(*SCHEMA_DIR)
    found = []
    for entry in folder.iterdir():
        match = _VERSION_FILE.fullmatch(entry.name)
        if match:
            found.append(SchemaVersion(int(match[1]), json.loads(entry.read_text("utf-8"))))
    if not found:
        raise RuntimeError(f"no v<N>.avsc under {folder}: the schemas package is broken")
    return tuple(sorted(found, key=lambda v: v.version))


def current_schema() -> dict[str, Any]:
    """The highest version: what producers write and consumers read into."""
    return schema_versions()[-1].schema


def iter_fields(schema: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (dotted path, field) for every field of every record reachable from ``schema``.

    References by name (``Money``, ``Address``) are expanded, so every path is reported.
    Array items and map values add no path segment (``order.line_items.quantity``).
    """
    yield from _walk(schema, prefix, named_types(schema))


def _walk(schema: Any, prefix: str, names: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    schema = resolve(schema, names)
    if isinstance(schema, list):
        for branch in schema:
            yield from _walk(branch, prefix, names)
    elif isinstance(schema, dict) and schema["type"] == "record":
        for field in schema["fields"]:
            path = f"{prefix}{field['name']}"
            yield path, field
            yield from _walk(field["type"], f"{path}.", names)
    elif isinstance(schema, dict):
        yield from _walk(schema.get("items") or schema.get("values"), prefix, names)


def pii_fields(schema: dict[str, Any] | None = None) -> list[tuple[str, str]]:
    """(dotted path, pii kind) of every field tagged ``"pii"``; a tagged record is personal
    as a whole (``traits.address``)."""
    return [(path, f["pii"]) for path, f in iter_fields(schema or current_schema()) if "pii" in f]


def allowed_values(schema: dict[str, Any] | None = None) -> dict[str, frozenset[str]]:
    """Dotted path -> the closed set of values a string field may take (``"allowed"``)."""
    return {
        path: frozenset(field["allowed"])
        for path, field in iter_fields(schema or current_schema())
        if "allowed" in field
    }


def consent_purposes() -> frozenset[str]:
    """The purposes consent is given for; the keys of ``consent`` start with one."""
    return allowed_values()["consent_change.purpose"]
