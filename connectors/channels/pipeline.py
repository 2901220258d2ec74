"""Sales pipeline from HubSpot webhooks: a JSON array of ``{"eventId", "subscriptionId",
"portalId", "occurredAt" (epoch ms), "subscriptionType", "objectId", "propertyName",
"propertyValue"}``.

``contact.creation`` → lead created (stage "new"); ``contact.propertyChange`` of
``lifecyclestage`` → lead stage changed; ``deal.creation`` → opportunity created;
``deal.propertyChange`` of ``dealstage`` → opportunity stage changed, ``closedwon`` /
``closedlost`` with the outcome. Changes of other properties yield no event. The HubSpot
object id is the identity (``hubspot_contact_id`` / ``hubspot_deal_id``).
"""

from __future__ import annotations

from typing import Any

from connectors import records
from connectors.base import Connector
from panorama.errors import ContractError

# subscriptionType -> (canonical type, object type, property holding the stage or None)
_SUBSCRIPTIONS = {
    "contact.creation": ("lead_stage_changed", "lead", None),
    "contact.propertyChange": ("lead_stage_changed", "lead", "lifecyclestage"),
    "deal.creation": ("opportunity_stage_changed", "opportunity", None),
    "deal.propertyChange": ("opportunity_stage_changed", "opportunity", "dealstage"),
}
_OUTCOMES = {"closedwon": "won", "closedlost": "lost"}


class HubSpotPipelineConnector(Connector):
    name = "hubspot"
    channel = "crm"
    description = "HubSpot webhooks: lead created, lifecycle stage, opportunity stage changed, won, lost"

    def split(self, raw: Any) -> list[Any]:
        if not isinstance(raw, list):
            raise ContractError("<body>", "must be the JSON array HubSpot posts", "malformed")
        return raw

    def to_events(self, raw: Any, received_at: int) -> list[dict[str, Any]]:
        if not isinstance(raw, dict) or raw.get("objectId") is None or raw.get("eventId") is None:
            raise ContractError("objectId", "a HubSpot event needs eventId and objectId", "malformed")
        kind = raw.get("subscriptionType")
        if kind not in _SUBSCRIPTIONS:
            raise ContractError("subscriptionType", f"{kind!r:.40} is not mapped by this connector", "unknown_type")
        type_, object_type, stage_property = _SUBSCRIPTIONS[kind]
        if stage_property is None:
            stage = "new" if object_type == "lead" else "created"
        elif raw.get("propertyName") == stage_property:
            stage = records.text(raw.get("propertyValue")) or "unknown"
        else:
            return []
        object_id = str(raw["objectId"])
        return [records.interaction(
            type_, event_id=records.batch_event_id(self.name, raw.get("portalId"), raw["eventId"]),
            occurred_at=records.timestamp(raw.get("occurredAt"), "occurredAt"),
            received_at=received_at, connector=self.name, channel=self.channel,
            identities={"external_ids": {f"hubspot_{'contact' if object_type == 'lead' else 'deal'}_id": object_id}},
            payload={"object_type": object_type, "object_id": object_id, "stage": stage, "previous_stage": None,
                     "amount": None, "owner_id": None, "outcome": _OUTCOMES.get(stage)},
        )]
