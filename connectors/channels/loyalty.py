"""Loyalty transactions, in Panorama's own JSON shape (loyalty platforms differ too much
to pick one; map yours with a few lines or the import's mapping file)::

    {"transaction_id": "lt-9", "program_id": "stars", "member_id": "m-77", "email": "ana@example.com",
     "kind": "earn" | "redeem", "points": 120, "balance_after": 560, "reason": "purchase",
     "order_id": "ord-10023", "occurred_at": "2024-06-10T08:00:00Z"}
"""

from __future__ import annotations

from typing import Any

from connectors import records
from connectors.base import Connector
from panorama.errors import ContractError

_TYPES = {"earn": "loyalty_points_earned", "redeem": "loyalty_points_redeemed"}


class LoyaltyConnector(Connector):
    name = "loyalty"
    channel = "loyalty"
    description = "loyalty programme transactions: points earned, redeemed"

    def to_events(self, raw: Any, received_at: int) -> list[dict[str, Any]]:
        if not isinstance(raw, dict) or not raw.get("transaction_id"):
            raise ContractError("transaction_id", "is required", "malformed")
        kind = raw.get("kind")
        if kind not in _TYPES:
            raise ContractError("kind", f"must be earn or redeem, got {kind!r:.20}", "unknown_type")
        points = raw.get("points")
        if isinstance(points, bool) or not isinstance(points, int) or points < 0:
            raise ContractError("points", f"must be a non-negative integer, got {points!r:.20}", "invalid_field")
        balance = raw.get("balance_after")
        if balance is not None and (isinstance(balance, bool) or not isinstance(balance, int)):
            raise ContractError("balance_after", f"must be an integer, got {balance!r:.20}", "invalid_field")
        identities = {"email": records.email(raw.get("email"), "email"),
                      "external_ids": {"loyalty_member_id": records.text(raw.get("member_id"))}}
        return [records.interaction(
            _TYPES[kind], event_id=records.batch_event_id(self.name, raw["transaction_id"]),
            occurred_at=records.timestamp(raw.get("occurred_at"), "occurred_at"),
            received_at=received_at, connector=self.name, channel=self.channel, identities=identities,
            payload={"program_id": records.text(raw.get("program_id")) or "default", "points": points,
                     "balance_after": balance, "reason": records.text(raw.get("reason")),
                     "order_id": records.text(raw.get("order_id"))},
        )]
