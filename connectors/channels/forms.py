"""Web and landing-page form submissions.

Body (JSON, the shape most form builders can post, field names configurable)::

    {"form_id": "newsletter-footer", "submission_id": "s-81", "submitted_at": "2024-06-10T08:00:00+02:00",
     "page_url": "https://shop.example.com/", "anonymous_id": "a-12",
     "fields": {"email": " Ana@Example.com", "phone": "06 12 34 56 78", "first_name": "Ana", "size": "M"},
     "consent": {"marketing": true}}

Gives an ``identify`` (email/phone identities and traits), a ``track`` "Form Submitted"
with the remaining fields, and one ``consent_changed`` per purpose ticked or unticked.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from connectors import records
from connectors.base import Connector
from panorama.errors import ContractError


class FormConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    email_field: str = "email"
    phone_field: str = "phone"
    first_name_field: str = "first_name"
    last_name_field: str = "last_name"
    default_phone_region: str | None = None


class FormConnector(Connector):
    name = "forms"
    channel = "web"
    description = "web and landing-page form submissions (identify + Form Submitted + consent)"
    Config = FormConfig

    def to_events(self, raw: Any, received_at: int) -> list[dict[str, Any]]:
        c: FormConfig = self.config
        if not isinstance(raw, dict) or not isinstance(raw.get("fields"), dict):
            raise ContractError("fields", "a form submission needs a `fields` object", "malformed")
        fields = dict(raw["fields"])
        submission = records.text(raw.get("submission_id"))
        if submission is None:
            raise ContractError("submission_id", "is required (it makes re-delivery idempotent)", "missing_field")
        identities = {
            "email": records.email(fields.pop(c.email_field, None), f"fields.{c.email_field}"),
            "phone": records.phone(fields.pop(c.phone_field, None), f"fields.{c.phone_field}", c.default_phone_region),
            "anonymous_id": records.text(raw.get("anonymous_id")),
        }
        if not any(identities.values()):
            raise ContractError("fields", f"needs {c.email_field}, {c.phone_field} or an anonymous_id", "missing_identity")
        consent = raw.get("consent") or {}
        if not isinstance(consent, dict) or not all(isinstance(v, bool) for v in consent.values()):
            raise ContractError("consent", "must map purposes to true/false", "invalid_consent")
        common = {
            "occurred_at": records.timestamp(raw.get("submitted_at"), "submitted_at") if raw.get("submitted_at") else received_at,
            "received_at": received_at, "connector": self.name, "channel": self.channel, "identities": identities,
            "context": {"page_url": records.text(raw.get("page_url"))},
        }
        traits = {"first_name": records.text(fields.pop(c.first_name_field, None)),
                  "last_name": records.text(fields.pop(c.last_name_field, None)),
                  "email": identities["email"], "phone": identities["phone"],
                  "birthday": None, "gender": None, "address": None, "company": None}
        form_id = records.text(raw.get("form_id")) or "form"
        events = [
            records.interaction("identify", event_id=records.batch_event_id(self.name, submission, "identify"),
                                payload=traits, **common),
            records.interaction("track", event_id=records.batch_event_id(self.name, submission, "submitted"),
                                name="Form Submitted", properties={"form_id": form_id, **fields}, **common),
        ]
        for purpose, granted in sorted(consent.items()):
            events.append(records.interaction(
                "consent_changed", event_id=records.batch_event_id(self.name, submission, "consent", purpose),
                payload={"purpose": purpose, "channel": None, "granted": granted, "method": "web_form",
                         "policy_version": records.text(raw.get("policy_version"))},
                consent={purpose: granted}, **common))
        return events
