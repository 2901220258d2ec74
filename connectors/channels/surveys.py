"""Survey answers from Typeform webhooks: ``{"event_id", "event_type": "form_response",
"form_response": {"form_id", "token", "submitted_at", "hidden": {...}, "definition":
{"fields": [...]}, "answers": [{"type": "number", "number": 9, "field": {"id", "type":
"nps" | "opinion_scale" | "rating"}}, {"type": "text", "text": ...}, {"type": "email",
"email": ...}]}}``.

The first scored answer is the score: ``nps`` out of 10, ``opinion_scale`` / ``rating``
out of the field's ``steps`` (CSAT); the first text answer is the comment. The respondent
is a hidden ``user_id`` / ``email`` field or an email answer. With a ``secret`` set, the
``Typeform-Signature`` header (``sha256=`` + base64 HMAC-SHA256 of the body) is checked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr

from connectors import records
from connectors.base import Connector
from panorama.errors import ContractError

_SCORED = {"nps": "nps", "opinion_scale": "csat", "rating": "csat"}


class TypeformConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    secret: SecretStr | None = None


class TypeformConnector(Connector):
    name = "typeform"
    channel = "survey"
    description = "Typeform responses: NPS, CSAT, free text"
    Config = TypeformConfig

    def verify(self, params: Mapping[str, str], headers: Mapping[str, str], body: bytes) -> None:
        if self.config.secret is None:
            return
        digest = hmac.new(self.config.secret.get_secret_value().encode(), body, hashlib.sha256).digest()
        expected = "sha256=" + base64.b64encode(digest).decode()
        if not hmac.compare_digest(expected, headers.get("typeform-signature", "")):
            raise ContractError("Typeform-Signature", "does not match the body and the configured secret", "bad_signature")

    def to_events(self, raw: Any, received_at: int) -> list[dict[str, Any]]:
        response = raw.get("form_response") if isinstance(raw, dict) else None
        if not isinstance(response, dict) or not response.get("token"):
            raise ContractError("form_response", "a Typeform webhook needs form_response with its token", "malformed")
        answers = [a for a in response.get("answers") or [] if isinstance(a, dict)]
        hidden = response.get("hidden") if isinstance(response.get("hidden"), dict) else {}
        email = hidden.get("email") or next((a.get("email") for a in answers if a.get("type") == "email"), None)
        identities = {"user_id": records.text(hidden.get("user_id")), "email": records.email(email, "hidden.email")}
        if not any(identities.values()):
            raise ContractError("form_response.hidden", "needs a user_id or email (hidden field or email answer)", "missing_identity")
        scored = next((a for a in answers if (a.get("field") or {}).get("type") in _SCORED and a.get("type") == "number"), None)
        if scored is None:
            raise ContractError("form_response.answers", "no nps, opinion_scale or rating answer", "missing_payload")
        field_type = scored["field"]["type"]
        score = scored.get("number")
        if isinstance(score, bool) or not isinstance(score, int):
            raise ContractError("form_response.answers.number", f"must be an integer, got {score!r:.20}", "invalid_field")
        comment = next((a.get("text") for a in answers if a.get("type") == "text"), None)
        return [records.interaction(
            "survey_answered",
            event_id=records.batch_event_id(self.name, response["token"]),
            occurred_at=records.timestamp(response.get("submitted_at"), "form_response.submitted_at"),
            received_at=received_at, connector=self.name, channel=self.channel, identities=identities,
            payload={"survey_id": records.text(response.get("form_id")) or "typeform", "kind": _SCORED[field_type],
                     "score": score, "max_score": 10 if field_type == "nps" else _steps(response, scored["field"].get("id")),
                     "comment": records.text(comment)},
        )]


def _steps(response: dict, field_id: Any) -> int:
    """The top of a rating / opinion-scale field's scale, from the form definition: a
    rating of ``steps`` stars tops at ``steps``; an opinion scale starts at 0 unless
    ``start_at_one``. Without a definition, 5."""
    for field in (response.get("definition") or {}).get("fields") or []:
        if isinstance(field, dict) and field.get("id") == field_id:
            properties = field.get("properties") or {}
            steps = properties.get("steps")
            if isinstance(steps, int) and steps > 1:
                zero_based = field.get("type") == "opinion_scale" and not properties.get("start_at_one")
                return steps - 1 if zero_based else steps
    return 5
