"""JSON Schemas of the collector's request and response bodies, for the OpenAPI spec.

The handlers parse bodies themselves (bounded reads, gzip, per-item errors), so FastAPI
cannot infer these; they are written once here from the Segment HTTP API spec.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

_ID = {"anyOf": [{"type": "string"}, {"type": "integer"}]}
_TIME = {"type": "string", "format": "date-time"}
_COMMON: dict[str, Any] = {
    "userId": _ID, "anonymousId": _ID, "messageId": {"type": "string"},
    "timestamp": _TIME, "originalTimestamp": _TIME, "sentAt": _TIME,
    "context": {"type": "object"}, "integrations": {"type": "object"},
    "writeKey": {"type": "string", "description": "alternative to HTTP Basic auth"},
}
_EXTRA: dict[str, dict[str, Any]] = {
    "identify": {"traits": {"type": "object"}},
    "track": {"event": {"type": "string"}, "properties": {"type": "object"}},
    "page": {"name": {"type": "string"}, "properties": {"type": "object"}},
    "screen": {"name": {"type": "string"}, "properties": {"type": "object"}},
    "group": {"groupId": _ID, "traits": {"type": "object"}},
    "alias": {"previousId": _ID},
}
_REQUIRED = {"track": ["event"], "group": ["groupId"], "alias": ["previousId", "userId"]}


def message_schema(kind: str) -> dict[str, Any]:
    """One Segment message of type ``kind``; ``userId`` or ``anonymousId`` is required."""
    return {
        "type": "object",
        "properties": _COMMON | _EXTRA[kind],
        "required": _REQUIRED.get(kind, []),
        "anyOf": [{"required": ["userId"]}, {"required": ["anonymousId"]}],
        "description": f"Segment `{kind}` message, at most 32 KB",
    }


def batch_schema() -> dict[str, Any]:
    items = [message_schema(kind) | {"properties": message_schema(kind)["properties"] | {"type": {"const": kind}},
                                     "required": message_schema(kind)["required"] + ["type"]} for kind in _EXTRA]
    return {
        "type": "object",
        "required": ["batch"],
        "properties": {
            "batch": {"type": "array", "maxItems": 2500, "items": {"oneOf": items}},
            "context": {"type": "object"}, "integrations": {"type": "object"},
            "writeKey": {"type": "string"},
        },
        "description": "At most 500 KB and 2,500 messages; each message at most 32 KB",
    }


def request_body(schema: dict[str, Any], media_type: str = "application/json") -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {media_type: {"schema": schema}}}}


class ItemProblem(BaseModel):
    index: int
    code: str
    field: str
    problem: str


class Accepted(BaseModel):
    """Every event is durable in Kafka: accepted into the log, or dead-lettered with the
    reason listed in ``dead_lettered`` (batches and multi-event webhooks only)."""

    success: bool = True
    dead_lettered: list[ItemProblem] | None = None


class Problem(BaseModel):
    code: str
    field: str
    problem: str
    items: list[ItemProblem] | None = None


class Refused(BaseModel):
    success: bool = False
    error: Problem


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": Refused, "description": "malformed, oversize or invalid input; the error names the problem"},
    401: {"model": Refused, "description": "missing or unknown write key, or a bad provider signature"},
    404: {"model": Refused, "description": "unknown connector"},
    415: {"model": Refused, "description": "unsupported Content-Encoding"},
    429: {"model": Refused, "description": "the source exceeded its rate limit; retry after `Retry-After` seconds"},
    503: {"model": Refused, "description": "Kafka did not acknowledge in time; nothing is guaranteed stored, retry"},
}

# The same errors for a route whose success is plain text: FastAPI would document a
# `model` response under the route's media type, but errors are always JSON.
JSON_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": spec["description"],
             "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Refused"}}}}
    for status, spec in ERROR_RESPONSES.items()
}
