"""Dead-letter records: what was rejected, why, and — sealed — the original payload, as JSON.

A DLQ record's value is ``{"reason": code, "field": path, "problem": text, "source": ...,
"rejected_at": iso-8601}`` plus the original input in one of two forms, never in clear:

* ``"sealed"``: the original payload and the full problem text, AES-GCM sealed under the
  data key of the payload's routing identity, when the payload carries contract
  identities a subject can be derived from (``panorama.privacy``). A forget of that
  customer deletes the key, which shreds the DLQ copy too; ``cdp privacy export`` opens it.
* ``"redacted"``: the payload's shape only — keys kept, every string and number replaced
  by its type — when no subject can be derived (raw channel input, no identity).

``problem`` stays in clear only when ``field`` is a non-personal contract field (problems
quote the offending value). A ``suppressed`` rejection (the identity of a forgotten
customer) keeps nothing of the input at all. The reason code is also a header so
consumers can route on it without parsing.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from functools import cache
from typing import Any, Protocol

import orjson

from panorama.errors import ContractError
from schemas.contract import iter_fields, current_schema, pii_fields

WITHHELD = "withheld: the problem may quote personal data; see the sealed payload"
_INDEX = re.compile(r"\[\d+\]|\.\d+(?=\.|$)")


class PayloadSealer(Protocol):
    def seal_payload(self, payload: Any) -> str | None: ...


def _jsonable_payload(payload: Any) -> Any:
    if isinstance(payload, bytes | bytearray | memoryview):
        raw = bytes(payload)
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            return {"base64": base64.b64encode(raw).decode()}
    if hasattr(payload, "to_record"):
        return payload.to_record()
    return payload


@cache
def _clear_fields() -> frozenset[str]:
    """Contract paths whose values are not personal: a problem about them may be kept."""
    personal = [path for path, _ in pii_fields()]
    return frozenset(path for path, _ in iter_fields(current_schema())
                     if not path.startswith("identities")
                     and not any(path == p or path.startswith(p + ".") for p in personal))


def problem_is_clear(field: str) -> bool:
    return _INDEX.sub("", field) in _clear_fields()


def redacted(value: Any) -> Any:
    """The shape of ``value``: keys kept, scalars replaced by their type name."""
    if isinstance(value, dict):
        return {str(k): redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redacted(v) for v in value]
    if value is None or isinstance(value, bool):
        return value
    return f"<{type(value).__name__}>"


def dead_letter_record(payload: Any, error: ContractError, source: str | None = None,
                       sealer: PayloadSealer | None = None) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The value and headers of the DLQ record for ``payload`` rejected with ``error``."""
    body: dict[str, Any] = {
        "reason": error.code,
        "field": error.field,
        "problem": error.problem if problem_is_clear(error.field) else WITHHELD,
        "source": source,
        "rejected_at": datetime.now(UTC).isoformat(),
    }
    if error.code == "suppressed":
        body["problem"] = error.problem  # says nothing about the input
    else:
        original = _jsonable_payload(payload)
        sealed = None
        if sealer is not None:
            sealed = sealer.seal_payload({"payload": original, "problem": error.problem})
        if sealed is not None:
            body["sealed"] = sealed
        else:
            body["redacted"] = redacted(original)
    value = orjson.dumps(body, default=str, option=orjson.OPT_NON_STR_KEYS)
    return value, [("reason", error.code.encode()), ("field", error.field.encode())]


def read_dead_letter(value: bytes) -> dict:
    return orjson.loads(value)
