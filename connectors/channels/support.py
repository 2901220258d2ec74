"""Support tickets from Zendesk: a webhook whose body is ``{"ticket": <Ticket>}`` (or the
ticket itself), the Ticket object of Zendesk's Tickets API: ``id``, ``status`` (new, open,
pending, hold, solved, closed), ``priority``, ``type``, ``subject``, ``requester_id``,
``assignee_id``, ``created_at``, ``updated_at``, ``satisfaction_rating`` ({score: good /
bad / offered / unoffered, comment}). A ``requester`` object ({id, email}) is read when
the webhook template adds it.

A new ticket gives ``ticket_opened``; a solved or closed one ``ticket_resolved``; any
other state ``ticket_updated`` (one per ``updated_at``). A good/bad rating gives a CSAT
``survey_answered`` (score 1 or 0 out of 1).
"""

from __future__ import annotations

from typing import Any

from connectors import records
from connectors.base import Connector
from panorama.errors import ContractError

_RESOLVED = frozenset({"solved", "closed"})
_RATED = {"good": 1, "bad": 0}


class ZendeskTicketConnector(Connector):
    name = "zendesk"
    channel = "support"
    description = "Zendesk tickets: opened, updated, resolved, CSAT"

    def to_events(self, raw: Any, received_at: int) -> list[dict[str, Any]]:
        ticket = raw.get("ticket", raw) if isinstance(raw, dict) else None
        if not isinstance(ticket, dict) or ticket.get("id") is None:
            raise ContractError("ticket.id", "a Zendesk ticket needs its id", "malformed")
        status = (records.text(ticket.get("status")) or "").lower()
        if not status:
            raise ContractError("ticket.status", "is required", "missing_field")
        requester = ticket.get("requester") if isinstance(ticket.get("requester"), dict) else {}
        identities = {"email": records.email(requester.get("email"), "ticket.requester.email"),
                      "external_ids": {"zendesk_user_id": records.text(ticket.get("requester_id") or requester.get("id"))}}
        ticket_id = str(ticket["id"])
        updated = records.timestamp(ticket.get("updated_at") or ticket.get("created_at"), "ticket.updated_at")
        if status == "new":
            type_, key, at = "ticket_opened", "opened", records.timestamp(ticket.get("created_at"), "ticket.created_at")
        elif status in _RESOLVED:
            type_, key, at = "ticket_resolved", f"resolved:{updated}", updated
        else:
            type_, key, at = "ticket_updated", f"updated:{updated}", updated
        common = {"received_at": received_at, "connector": self.name, "channel": self.channel, "identities": identities}
        payload = {"ticket_id": ticket_id, "status": status, "priority": records.text(ticket.get("priority")),
                   "category": records.text(ticket.get("type")), "subject": records.text(ticket.get("subject")),
                   "assignee_id": records.text(ticket.get("assignee_id"))}
        events = [records.interaction(type_, event_id=records.batch_event_id(self.name, ticket_id, key),
                                      occurred_at=at, payload=payload, **common)]
        rating = ticket.get("satisfaction_rating") if isinstance(ticket.get("satisfaction_rating"), dict) else {}
        if rating.get("score") in _RATED:
            events.append(records.interaction(
                "survey_answered", event_id=records.batch_event_id(self.name, ticket_id, "csat", rating.get("id") or rating["score"]),
                occurred_at=updated, payload={"survey_id": f"zendesk-csat:{ticket_id}", "kind": "csat",
                                              "score": _RATED[rating["score"]], "max_score": 1,
                                              "comment": records.text(rating.get("comment"))}, **common))
        return events
