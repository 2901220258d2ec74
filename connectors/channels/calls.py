"""Phone calls from Twilio's voice status callback (form-encoded): ``CallSid``, ``From``,
``To``, ``Direction`` (inbound, outbound-api, outbound-dial), ``CallStatus`` (queued,
ringing, in-progress, completed, busy, failed, no-answer, canceled), ``CallDuration``
(seconds) and ``Timestamp`` (RFC 2822).

Only a final status is a call log: the customer is the caller of an inbound call and the
callee of an outbound one. Intermediate statuses yield no event.
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from typing import Any

from connectors import records
from connectors.base import Connector
from panorama.errors import ContractError
from schemas.models import to_micros

_FINAL = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})


class TwilioCallConnector(Connector):
    name = "twilio"
    channel = "call_center"
    description = "Twilio voice status callbacks: call logs with direction, duration, outcome"
    input_format = "form"

    def to_events(self, raw: Any, received_at: int) -> list[dict[str, Any]]:
        if not isinstance(raw, dict) or not raw.get("CallSid"):
            raise ContractError("CallSid", "is required", "malformed")
        status = raw.get("CallStatus", "")
        if status not in _FINAL:
            return []
        inbound = raw.get("Direction", "inbound") == "inbound"
        customer = raw.get("From") if inbound else raw.get("To")
        duration = raw.get("CallDuration")
        if duration and not duration.isdigit():
            raise ContractError("CallDuration", f"must be whole seconds, got {duration!r:.20}", "invalid_field")
        return [records.interaction(
            "call_logged",
            event_id=records.batch_event_id(self.name, raw["CallSid"], status),
            occurred_at=_rfc2822(raw["Timestamp"]) if raw.get("Timestamp") else received_at,
            received_at=received_at, connector=self.name, channel=self.channel,
            identities={"phone": records.phone(customer, "From" if inbound else "To")},
            payload={"call_id": raw["CallSid"], "direction": "inbound" if inbound else "outbound",
                     "duration_seconds": int(duration) if duration else None, "outcome": status,
                     "agent_id": None, "queue": None, "notes": None},
        )]


def _rfc2822(value: str) -> int:
    try:
        return to_micros(parsedate_to_datetime(value))
    except (TypeError, ValueError):
        raise ContractError("Timestamp", f"{value!r:.40} is not an RFC 2822 date", "invalid_timestamp") from None
