"""What a reader sees: a customer's merged :class:`Partial` as a JSON-ready profile.

Derived figures (average order value, email rates, open tickets) are computed here, from
the sums, so they stay exact under merges. Money stays integer minor units: the average
order value is rounded half up to a whole minor unit per currency.
"""

from __future__ import annotations

from typing import Any

from streams.profiles.fold import Partial, Register, is_open_ticket
from streams.signals.rules import SignalRules, evaluate


def _value(register: Register | None) -> Any:
    return None if register is None else register[2]


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _identities(labels: set[str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for label in sorted(labels):
        kind, value = label.rsplit(":", 1) if label.startswith("external:") else label.split(":", 1)
        grouped.setdefault(kind, []).append(value)
    return grouped


def profile_view(partial: Partial, customer_id: str, now: int, rules: SignalRules = SignalRules()) -> dict[str, Any]:
    """The profile as of ``now`` (µs since the epoch: lifecycle stage and churn risk depend on it)."""
    by_type = partial.by_type
    sent, opened, clicked = (by_type.get(f"email_{k}", 0) for k in ("sent", "opened", "clicked"))
    last_order = partial.last_order
    return {
        "customer_id": customer_id,
        "identities": _identities(partial.identities),
        "first_seen": partial.first_seen,
        "last_seen": partial.last_seen,
        "events": partial.events,
        "events_by_type": dict(sorted(by_type.items())),
        "events_by_channel": dict(sorted(partial.by_channel.items())),
        "traits": {name: reg[2] for name, reg in sorted(partial.traits.items())},
        "orders": {
            "count": partial.orders,
            "revenue_minor": dict(sorted(partial.revenue.items())),
            "refunded_minor": dict(sorted(partial.refunded.items())),
            "average_order_value_minor": {
                currency: (2 * amount + partial.orders) // (2 * partial.orders)
                for currency, amount in sorted(partial.revenue.items())
            } if partial.orders else {},
            "last_purchase": None if last_order is None else {"at": last_order[0], **last_order[2]},
            "products": sorted(partial.products),
            "categories": sorted(partial.categories),
        },
        "email": {
            "sent": sent, "opened": opened, "clicked": clicked,
            "bounced": by_type.get("email_bounced", 0), "unsubscribed": by_type.get("email_unsubscribed", 0),
            "open_rate": _rate(opened, sent), "click_rate": _rate(clicked, sent),
        },
        "support": {
            "open_tickets": sorted(t for t, reg in partial.tickets.items() if is_open_ticket(reg[2])),
            "tickets": len(partial.tickets),
            "calls": by_type.get("call_logged", 0),
        },
        "satisfaction": {kind: {"at": reg[0], **reg[2]} for kind, reg in sorted(partial.surveys.items())},
        "loyalty": {
            "balance": _value(partial.loyalty_balance) if partial.loyalty_balance else partial.loyalty_points,
            "points_total": partial.loyalty_points,
        },
        "consent": {name: reg[2] for name, reg in sorted(partial.consent.items())},
        "lifecycle": {"as_of": now, **evaluate(partial, now, rules).as_dict()},
    }
