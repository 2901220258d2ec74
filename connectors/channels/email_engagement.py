"""Email engagement from the SendGrid Event Webhook (a JSON array of events).

Payload shape from SendGrid's public "Event Webhook Reference": each event has ``email``,
``timestamp`` (epoch seconds), ``event``, ``sg_event_id``, ``sg_message_id`` and, per
kind, ``url`` (click), ``type`` (bounce/blocked), ``reason``, ``asm_group_id``; custom
arguments (we read ``campaign_id`` and ``list_id``) and ``marketing_campaign_id`` sit at
the top level.

The contract has no ``email_delivered`` / ``email_complained`` type yet, so those two
arrive as ``track`` events named "Email Delivered" / "Email Complained" carrying the
engagement fields in ``properties``. ``deferred`` is a transient retry state, not an
interaction: it yields no event (the later delivered/bounce does).
"""

from __future__ import annotations

from typing import Any

from connectors import records
from connectors.base import Connector
from panorama.errors import ContractError

# SendGrid event -> (canonical type, track name or None)
_EVENTS: dict[str, tuple[str, str | None]] = {
    "processed": ("email_sent", None),
    "delivered": ("track", "Email Delivered"),
    "open": ("email_opened", None),
    "click": ("email_clicked", None),
    "bounce": ("email_bounced", None),
    "spamreport": ("track", "Email Complained"),
    "unsubscribe": ("email_unsubscribed", None),
    "group_unsubscribe": ("email_unsubscribed", None),
    "dropped": ("track", "Email Dropped"),
}
_IGNORED = frozenset({"deferred"})


class SendGridConnector(Connector):
    name = "sendgrid"
    channel = "email"
    description = "SendGrid Event Webhook: sent, delivered, opened, clicked, bounced, complained, unsubscribed"

    def split(self, raw: Any) -> list[Any]:
        if not isinstance(raw, list):
            raise_malformed("<body>", "must be the JSON array SendGrid posts")
        return raw

    def to_events(self, raw: Any, received_at: int) -> list[dict[str, Any]]:
        if not isinstance(raw, dict):
            raise_malformed("<event>", "must be an object")
        kind = raw.get("event")
        if not isinstance(kind, str):
            raise ContractError("event", f"must be the name of a SendGrid event, got {type(kind).__name__}", "invalid_field")
        if kind in _IGNORED:
            return []
        if kind not in _EVENTS:
            raise ContractError("event", f"{kind!r:.30} is not a SendGrid event this connector maps", "unknown_type")
        type_, track_name = _EVENTS[kind]
        email = records.email(raw.get("email"), "email")
        if email is None:
            raise ContractError("email", "is required", "missing_identity")
        engagement = {
            "campaign_id": records.text(raw.get("campaign_id") or raw.get("marketing_campaign_id")),
            "message_id": records.text(raw.get("sg_message_id")),
            "list_id": records.text(raw.get("list_id") or raw.get("asm_group_id")),
            "subject": None,
            "link_url": records.text(raw.get("url")) if kind == "click" else None,
            "bounce_type": ("soft" if raw.get("type") == "blocked" else "hard") if kind == "bounce" else None,
        }
        natural_key = raw.get("sg_event_id") or f"{raw.get('sg_message_id')}:{kind}:{raw.get('timestamp')}"
        return [records.interaction(
            type_,
            event_id=records.batch_event_id(self.name, natural_key),
            occurred_at=records.timestamp(raw.get("timestamp"), "timestamp"),
            received_at=received_at,
            connector=self.name,
            channel=self.channel,
            identities={"email": email},
            payload=engagement,
            name=track_name,
            properties={k: v for k, v in engagement.items() if v} if type_ == "track" else None,
            context={"ip": records.text(raw.get("ip")), "user_agent": records.text(raw.get("useragent"))},
        )]


def raise_malformed(field: str, problem: str) -> None:
    raise ContractError(field, problem, "malformed")
