"""The interaction envelope as frozen pydantic models, mirroring ``v<N>.avsc``.

The models are for code that builds or reads events by hand (connectors, tests); the hot
path works on the codec's dicts. :meth:`Interaction.to_record` and
:meth:`Interaction.from_record` are the one explicit bridge: datetimes <-> epoch
microseconds, ``properties`` dict <-> JSON string.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta, timezone
from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import Field

from schemas.contract import CANONICAL_TYPES
from schemas.payloads import (
    Alias,
    Call,
    ConsentChange,
    EmailEngagement,
    Frozen,
    Group,
    Loyalty,
    Order,
    Page,
    PipelineStageChange,
    Refund,
    Screen,
    SocialInteraction,
    SurveyResponse,
    Ticket,
    Traits,
)

# Fixed forever: changing it would change every batch event id and break re-import dedup.
PANORAMA_NAMESPACE = uuid.UUID("6f1c2b4e-9d7a-5c3e-8b21-70a9e4d5c613")
_NAMESPACE_BYTES = PANORAMA_NAMESPACE.bytes
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def deterministic_event_id(source: str, natural_key: str) -> str:
    """uuid5 of (source, natural key): re-importing the same row yields the same event id.

    RFC 4122's name-based SHA-1 UUID computed directly: the same id as
    ``uuid.uuid5(PANORAMA_NAMESPACE, name)`` at about a third of its cost (the
    ``uuid.UUID`` object is never built), which counts on the bulk import's per-row path."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + f"{source}\x1f{natural_key}".encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def to_micros(moment: datetime) -> int:
    """Epoch microseconds of an aware datetime (naive datetimes are refused, not guessed)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: attach a timezone (UTC) before encoding")
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


class Source(Frozen):
    channel: str
    connector: str


class Identities(Frozen):
    user_id: str | None = None
    anonymous_id: str | None = None
    email: str | None = None
    phone: str | None = None
    device_id: str | None = None
    external_ids: dict[str, str] = Field(default_factory=dict)


class Campaign(Frozen):
    source: str | None = None
    medium: str | None = None
    name: str | None = None
    term: str | None = None
    content: str | None = None


class Context(Frozen):
    ip: str | None = None
    user_agent: str | None = None
    locale: str | None = None
    timezone: str | None = None
    page_url: str | None = None
    referrer: str | None = None
    campaign: Campaign | None = None


class Interaction(Frozen):
    """One interaction. Build with :meth:`new`; encode ``to_record()`` with the codec."""

    event_id: str
    type: str
    name: str | None = None
    occurred_at: datetime
    received_at: datetime
    source: Source
    identities: Identities
    context: Context = Context()
    consent: dict[str, bool] = Field(default_factory=dict)
    properties: dict[str, Any] = Field(default_factory=dict)
    traits: Traits | None = None
    page: Page | None = None
    screen: Screen | None = None
    group: Group | None = None
    alias: Alias | None = None
    order: Order | None = None
    refund: Refund | None = None
    email: EmailEngagement | None = None
    call: Call | None = None
    social: SocialInteraction | None = None
    ticket: Ticket | None = None
    survey: SurveyResponse | None = None
    loyalty: Loyalty | None = None
    pipeline: PipelineStageChange | None = None
    consent_change: ConsentChange | None = None

    @classmethod
    def new(cls, *, type: str, identities: Identities, source: Source, **fields: Any) -> Interaction:  # noqa: A002
        """A fresh event: random event_id, occurred_at/received_at = now unless given.

        ``fields`` are any other envelope fields, e.g. ``order=Order(...)`` or
        ``name="Signed Up", properties={...}``. Batch sources pass
        ``event_id=deterministic_event_id(...)``.
        """
        if type not in CANONICAL_TYPES:
            raise ValueError(f"{type!r} is not a canonical type; use type='track' and name=...")
        now = datetime.now(timezone.utc)
        fields.setdefault("event_id", str(uuid.uuid4()))
        fields.setdefault("occurred_at", now)
        fields.setdefault("received_at", now)
        return cls(type=type, identities=identities, source=source, **fields)

    def to_record(self) -> dict[str, Any]:
        """The codec's dict: timestamps in epoch micros, properties as a JSON string."""
        record = self.model_dump()
        record["occurred_at"] = to_micros(self.occurred_at)
        record["received_at"] = to_micros(self.received_at)
        record["properties"] = orjson.dumps(self.properties).decode()
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Interaction:
        """Inverse of :meth:`to_record` (accepts what ``InteractionCodec.decode`` returns)."""
        fields = dict(record)
        fields["occurred_at"] = from_micros(record["occurred_at"])
        fields["received_at"] = from_micros(record["received_at"])
        fields["properties"] = orjson.loads(record.get("properties", "{}"))
        return cls.model_validate(fields)
