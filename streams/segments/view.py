"""What segments see of a customer, and the pseudonymous profile record, both computed
from the merged partial and its signals in the sweep (no I/O).

The profile record (``<prefix>.profiles``, read by projections/records.py) carries no
identities and no trait the event contract tags ``pii`` (names, e-mail, phone, birthday,
address): what is left is pseudonymous, keyed by the customer id (a keyed hash).
"""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any

import orjson

from schemas.contract import pii_fields
from streams.profiles.fold import Partial, is_open_ticket
from streams.signals.rules import Signals


def last_purchase(partial: Partial) -> int | None:
    if partial.order_times:
        return partial.order_times[0]
    return None if partial.last_order is None else partial.last_order[0]


def segment_fields(partial: Partial, signals: Signals) -> dict[str, Any]:
    """The fields :mod:`streams.segments.rules` reads (see its docstring for the list)."""
    loyalty = partial.loyalty_balance[2] if partial.loyalty_balance else partial.loyalty_points
    return {
        "orders": partial.orders, "events": partial.events,
        "loyalty.balance": loyalty, "loyalty.points_total": partial.loyalty_points,
        "support.open_tickets": sum(1 for reg in partial.tickets.values() if is_open_ticket(reg[2])),
        "churn_risk.score": signals.score, "churn_risk.level": signals.level, "lifecycle.stage": signals.stage,
        "first_seen": partial.first_seen, "last_seen": partial.last_seen,
        "first_purchase": partial.first_order, "last_purchase": last_purchase(partial),
        "products": partial.products, "categories": partial.categories,
        "revenue_minor": partial.revenue, "events_by_type": partial.by_type, "events_by_channel": partial.by_channel,
        "traits": {name: reg[2] for name, reg in partial.traits.items()},
        "consent": {name: reg[2] for name, reg in partial.consent.items()},
    }


@cache
def personal_traits() -> frozenset[str]:
    """Trait names the event contract tags personal (``traits.<name>`` with ``pii``)."""
    return frozenset(path.split(".")[1] for path, _kind in pii_fields() if path.startswith("traits."))


def profile_content(customer_id: str, partial: Partial, signals: Signals) -> dict[str, Any]:
    """The profile record without ``id``, ``version`` and ``recorded_at``. Revenue is the
    customer's main currency (the largest amount; a customer paying in several currencies
    has the others in the event tables)."""
    currency, revenue = max(partial.revenue.items(), key=lambda kv: (kv[1], kv[0]), default=("", 0))
    personal = personal_traits()
    return {
        "customer_id": customer_id, "first_seen_at": partial.first_seen, "last_seen_at": partial.last_seen,
        "lifecycle_stage": signals.stage, "orders": partial.orders, "revenue_minor": revenue, "currency": currency,
        "traits": {name: reg[2] for name, reg in sorted(partial.traits.items()) if name not in personal},
        "deleted": False,
    }


def deleted_content(customer_id: str) -> dict[str, Any]:
    """The last profile record of a customer that no longer exists as such (merged into another)."""
    return {"customer_id": customer_id, "first_seen_at": None, "last_seen_at": None, "lifecycle_stage": "",
            "orders": 0, "revenue_minor": 0, "currency": "", "traits": {}, "deleted": True}


def fingerprint(content: dict[str, Any]) -> str:
    """A short digest of a profile record's content: a record is published when it moves."""
    return hashlib.blake2b(orjson.dumps(content, option=orjson.OPT_SORT_KEYS), digest_size=12).hexdigest()
