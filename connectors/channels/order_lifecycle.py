"""The events of one order's life, shared by every order feed (webshop, marketplace).

A feed posts the whole order each time it changes; each milestone gets an event id
derived from (connector, order id, milestone), so the second post of an order that was
placed and is now paid adds only "Order Paid". The contract has ``order_placed`` and
``order_refunded``; paid, shipped and cancelled are ``track`` events named "Order Paid",
"Order Shipped" and "Order Cancelled" with the order id in ``properties``.
"""

from __future__ import annotations

from typing import Any

from connectors import records

MILESTONES = ("paid", "shipped", "cancelled")


def order_events(connector: str, channel: str, order: dict[str, Any], identities: dict[str, Any],
                 placed_at: int, milestones: dict[str, int | None], received_at: int,
                 refunds: list[tuple[str, int, dict[str, Any]]] = ()) -> list[dict[str, Any]]:
    """``order`` is the canonical Order payload; ``milestones`` maps paid/shipped/cancelled
    to when it happened (None: not yet); ``refunds`` are (refund id, at, Refund payload)."""
    common = {"received_at": received_at, "connector": connector, "channel": channel, "identities": identities}
    order_id = order["order_id"]
    events = [records.interaction("order_placed", event_id=records.batch_event_id(connector, order_id, "placed"),
                                  occurred_at=placed_at, payload=order, **common)]
    for milestone in MILESTONES:
        at = milestones.get(milestone)
        if at is not None:
            events.append(records.interaction(
                "track", event_id=records.batch_event_id(connector, order_id, milestone), occurred_at=at,
                name=f"Order {milestone.capitalize()}", properties={"order_id": order_id}, **common))
    for refund_id, at, refund in refunds:
        events.append(records.interaction("order_refunded", event_id=records.batch_event_id(connector, order_id, "refund", refund_id),
                                          occurred_at=at, payload=refund, **common))
    return events
