"""Phone calls from Twilio's voice status callback (form-encoded): ``CallSid``, ``From``,
``To``, ``Direction`` (inbound, outbound-api, outbound-dial), ``CallStatus`` (queued,
ringing, in-progress, completed, busy, failed, no-answer, canceled), ``CallDuration``
(seconds) and ``Timestamp`` (RFC 2822).

Only a final status is a call log: the customer is the caller of an inbound call and the
callee of an outbound one. Intermediate statuses yield no event.

With ``auth_token`` set, every request must carry Twilio's ``X-Twilio-Signature``: the
base64 HMAC-SHA1, keyed by the account's auth token, of the full URL Twilio requested
(query string included) followed by each POST parameter's name and value, sorted by name.
Behind a proxy that rewrites the scheme or host, set ``public_url`` to the scheme and host
Twilio posts to (``https://cdp.example.com``); the path and query are the request's own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, SecretStr

from connectors import records
from connectors.base import Connector
from panorama.errors import ContractError
from schemas.models import to_micros

_FINAL = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})


class TwilioConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    auth_token: SecretStr | None = None  # when set, X-Twilio-Signature is required
    public_url: str | None = None  # scheme://host Twilio posts to, when a proxy rewrites them


def twilio_signature(auth_token: str, url: str, form: list[tuple[str, str]]) -> str:
    data = url + "".join(name + value for name, value in sorted(form))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


class TwilioCallConnector(Connector):
    name = "twilio"
    channel = "call_center"
    description = "Twilio voice status callbacks (signed): call logs with direction, duration, outcome"
    input_format = "form"
    Config = TwilioConfig

    def verify(self, params: Mapping[str, str], headers: Mapping[str, str], body: bytes, url: str = "") -> None:
        if self.config.auth_token is None:
            return
        sent = headers.get("x-twilio-signature")
        if not sent:
            raise ContractError("X-Twilio-Signature", "is required: this source checks Twilio signatures", "bad_signature")
        try:
            form = parse_qsl(body.decode(), keep_blank_values=True)
        except UnicodeDecodeError:
            raise ContractError("<body>", "is not UTF-8", "malformed") from None
        token = self.config.auth_token.get_secret_value()
        if not any(hmac.compare_digest(twilio_signature(token, candidate, form), sent) for candidate in self._urls(url)):
            raise ContractError("X-Twilio-Signature", "does not match the auth token, URL and parameters", "bad_signature")

    def _urls(self, url: str) -> list[str]:
        """The URL as Twilio may have signed it: behind ``public_url``, with and without the
        scheme's default port (Twilio's own validators accept both)."""
        parts = urlsplit(url)
        if self.config.public_url:
            public = urlsplit(self.config.public_url)
            parts = parts._replace(scheme=public.scheme, netloc=public.netloc)
        default_port = {"https": 443, "http": 80}.get(parts.scheme)
        if parts.port not in (None, default_port):
            return [urlunsplit(parts)]
        host = parts.hostname or ""
        return [urlunsplit(parts._replace(netloc=host)), urlunsplit(parts._replace(netloc=f"{host}:{default_port}"))]

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
