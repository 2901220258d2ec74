"""Consent changes from a consent-management platform or preference centre, in
Panorama's own JSON shape::

    {"id": "c-31", "user_id": "u-1", "email": "ana@example.com", "purpose": "marketing",
     "channel": "email", "granted": false, "method": "preference_centre",
     "policy_version": "2024-05", "occurred_at": "2024-06-10T08:00:00Z"}

``purpose`` is one of the contract's purposes (marketing, analytics, profiling,
third_party_sharing, cross_border_transfer); the last two may name a ``recipient`` (who
receives the data) and, abroad, a ``destination_region`` (ISO 3166-1 alpha-2), as PIPL's
separate consent asks. The event also carries the resulting ``consent`` map entry
(``purpose[:channel][@recipient[/region]]`` → granted, see ``panorama.privacy.consent``).
"""

from __future__ import annotations

from typing import Any

from connectors import records
from connectors.base import Connector
from panorama.errors import ContractError
from panorama.privacy.consent import check_recipient, entry_name
from schemas.contract import consent_purposes


class ConsentConnector(Connector):
    name = "consent"
    channel = "web"
    description = "consent given or withdrawn, per purpose and channel"

    def to_events(self, raw: Any, received_at: int) -> list[dict[str, Any]]:
        if not isinstance(raw, dict) or not raw.get("id"):
            raise ContractError("id", "is required (it makes re-delivery idempotent)", "malformed")
        purpose = raw.get("purpose")
        if purpose not in consent_purposes():
            raise ContractError("purpose", f"must be one of {sorted(consent_purposes())}, got {purpose!r:.30}", "invalid_consent")
        if not isinstance(raw.get("granted"), bool):
            raise ContractError("granted", "must be true or false", "invalid_consent")
        channel = records.text(raw.get("channel"))
        recipient, region = records.text(raw.get("recipient")), records.text(raw.get("destination_region"))
        try:
            check_recipient(purpose, recipient, region)
        except ValueError as e:
            field, _, problem = str(e).partition(": ")
            raise ContractError(field, problem, "invalid_consent") from None
        identities = {"user_id": records.text(raw.get("user_id")), "email": records.email(raw.get("email"), "email"),
                      "phone": records.phone(raw.get("phone"), "phone")}
        return [records.interaction(
            "consent_changed", event_id=records.batch_event_id(self.name, raw["id"]),
            occurred_at=records.timestamp(raw.get("occurred_at"), "occurred_at"),
            received_at=received_at, connector=self.name, channel=self.channel, identities=identities,
            payload={"purpose": purpose, "channel": channel, "granted": raw["granted"],
                     "method": records.text(raw.get("method")), "policy_version": records.text(raw.get("policy_version")),
                     "recipient": recipient, "destination_region": region},
            consent={entry_name(purpose, channel, recipient, region): raw["granted"]},
        )]
