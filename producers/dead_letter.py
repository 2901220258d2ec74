"""Dead-letter records: what was rejected, why, and the original payload, as JSON.

A DLQ record's value is ``{"reason": code, "field": path, "problem": text,
"payload": original, "source": ..., "rejected_at": iso-8601}``; the reason code is also a
header so consumers can route on it without parsing.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import orjson

from panorama.errors import ContractError


def _jsonable_payload(payload: Any) -> Any:
    if isinstance(payload, bytes | bytearray | memoryview):
        raw = bytes(payload)
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            return {"base64": base64.b64encode(raw).decode()}
    return payload


def dead_letter_record(payload: Any, error: ContractError, source: str | None = None) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The value and headers of the DLQ record for ``payload`` rejected with ``error``."""
    body = {
        "reason": error.code,
        "field": error.field,
        "problem": error.problem,
        "source": source,
        "rejected_at": datetime.now(UTC).isoformat(),
        "payload": _jsonable_payload(payload),
    }
    value = orjson.dumps(body, default=str, option=orjson.OPT_NON_STR_KEYS)
    return value, [("reason", error.code.encode()), ("field", error.field.encode())]


def read_dead_letter(value: bytes) -> dict:
    return orjson.loads(value)
