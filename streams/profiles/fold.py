"""The profile fold: ``apply(partial, event)`` and ``merge(a, b)``, no I/O.

A :class:`Partial` is a mergeable aggregate of a set of events: sums, min/max, sets and
last-write-wins registers ordered by ``(occurred_at, event_id)``. That choice is what makes
the result independent of delivery order, of late events and of how events were split
between partials (per identity, per partition): folding a set of events in any order, or
folding two disjoint halves and merging them, gives the same partial.

Idempotency by ``event_id`` is exact within a bounded memory: each partial remembers the
ids of at least its ``DEDUP_MEMORY`` most recent events (largest ``(occurred_at,
event_id)``; trimmed in bulk at twice that). A duplicate older than all of them would be
counted again; Kafka redelivery never reaches
this point (the worker skips offsets it has stored), so only producer-side duplicates
more than ``DEDUP_MEMORY`` events of one identity apart are exposed to that bound.

``apply`` updates the partial in place and returns it (a copy per event would cost more
than the fold itself); it is otherwise a pure function of its inputs.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from panorama.privacy.consent import entry_name

DEDUP_MEMORY = 256
ORDER_TIMES = 24  # the newest order timestamps kept: a customer's purchase rhythm, bounded
Key = tuple[int, str]  # (occurred_at, event_id): the total order of last-write-wins registers
Register = tuple[int, str, Any]  # (occurred_at, event_id, value)

_IDENTITY_FIELDS = ("user_id", "anonymous_id", "email", "phone", "device_id")
_RESOLVED_TICKET = frozenset({"solved", "resolved", "closed"})


@dataclass
class Partial:
    """The aggregate of one set of events. Field meanings are in :mod:`streams.profiles.view`."""

    events: int = 0
    first_seen: int | None = None
    last_seen: int | None = None
    by_type: dict[str, int] = field(default_factory=dict)
    by_channel: dict[str, int] = field(default_factory=dict)
    identities: set[str] = field(default_factory=set)
    traits: dict[str, Register] = field(default_factory=dict)
    orders: int = 0
    revenue: dict[str, int] = field(default_factory=dict)  # currency -> minor units
    refunded: dict[str, int] = field(default_factory=dict)
    last_order: Register | None = None
    first_order: int | None = None
    order_times: list[int] = field(default_factory=list)  # newest ORDER_TIMES order instants, descending
    products: set[str] = field(default_factory=set)
    categories: set[str] = field(default_factory=set)
    tickets: dict[str, Register] = field(default_factory=dict)  # ticket_id -> status register
    surveys: dict[str, Register] = field(default_factory=dict)  # kind (nps, csat...) -> answer
    loyalty_points: int = 0
    loyalty_balance: Register | None = None
    consent: dict[str, Register] = field(default_factory=dict)  # purpose[:channel] -> granted
    recent: dict[str, int] = field(default_factory=dict)  # event_id -> occurred_at (dedup memory)


def _later(current: Register | None, candidate: Register) -> Register:
    """The last-write-wins choice between two registers."""
    if current is None or (candidate[0], candidate[1]) > (current[0], current[1]):
        return candidate
    return current


def _set_register(registers: dict[str, Register], name: str, candidate: Register) -> None:
    registers[name] = _later(registers.get(name), candidate)


def _add(counts: dict[str, int], name: str, amount: int = 1) -> None:
    counts[name] = counts.get(name, 0) + amount


def _remember(partial: Partial, event_id: str, occurred_at: int) -> bool:
    """Record ``event_id`` in the dedup memory; False when it was already applied."""
    recent = partial.recent
    if event_id in recent:
        return False
    recent[event_id] = occurred_at
    if len(recent) > 2 * DEDUP_MEMORY:  # amortised: trim in bulk, never below DEDUP_MEMORY
        partial.recent = _newest(recent)
    return True


def _newest(recent: dict[str, int]) -> dict[str, int]:
    """The ``DEDUP_MEMORY`` entries with the largest ``(occurred_at, event_id)``."""
    return dict(heapq.nlargest(DEDUP_MEMORY, recent.items(), key=lambda item: (item[1], item[0])))


def identity_labels(identities: Mapping[str, Any]) -> list[str]:
    """``kind:value`` for every identity an event carries (values as the producer
    validated them; normalisation for linking happens in :mod:`streams.identity.nodes`)."""
    labels = [f"{kind}:{identities[kind]}" for kind in _IDENTITY_FIELDS if identities.get(kind)]
    labels.extend(f"external:{k}:{v}" for k, v in sorted((identities.get("external_ids") or {}).items()) if v)
    return labels


def apply(partial: Partial, event: Mapping[str, Any]) -> Partial:
    """Fold one canonical event (a record dict) into ``partial``; a no-op for an event id
    already in the dedup memory."""
    at, event_id = event["occurred_at"], event["event_id"]
    if not _remember(partial, event_id, at):
        return partial
    partial.events += 1
    partial.first_seen = at if partial.first_seen is None else min(partial.first_seen, at)
    partial.last_seen = at if partial.last_seen is None else max(partial.last_seen, at)
    type_ = event["type"]
    _add(partial.by_type, type_)
    _add(partial.by_channel, event["source"]["channel"])
    partial.identities.update(identity_labels(event["identities"]))
    for name, granted in (event.get("consent") or {}).items():
        _set_register(partial.consent, name, (at, event_id, granted))
    handler = _HANDLERS.get(type_)
    if handler is not None:
        handler(partial, event, at, event_id)
    return partial


def _identify(partial: Partial, event: Mapping[str, Any], at: int, event_id: str) -> None:
    for name, value in (event.get("traits") or {}).items():
        if value is not None:
            _set_register(partial.traits, name, (at, event_id, value))


def _order_placed(partial: Partial, event: Mapping[str, Any], at: int, event_id: str) -> None:
    order = event["order"]
    total = order["total"]
    partial.orders += 1
    _add(partial.revenue, total["currency"], total["amount_minor"])
    partial.last_order = _later(partial.last_order, (at, event_id, {"order_id": order["order_id"], "total": total}))
    partial.first_order = at if partial.first_order is None else min(partial.first_order, at)
    partial.order_times = _newest_times(partial.order_times, [at])
    for item in order.get("line_items") or ():
        partial.products.add(item.get("product_id") or item["sku"])
        if item.get("category"):
            partial.categories.add(item["category"])


def _order_refunded(partial: Partial, event: Mapping[str, Any], at: int, event_id: str) -> None:
    amount = event["refund"]["amount"]
    _add(partial.refunded, amount["currency"], amount["amount_minor"])


def _ticket(partial: Partial, event: Mapping[str, Any], at: int, event_id: str) -> None:
    ticket = event["ticket"]
    _set_register(partial.tickets, ticket["ticket_id"], (at, event_id, ticket["status"]))


def _survey(partial: Partial, event: Mapping[str, Any], at: int, event_id: str) -> None:
    survey = event["survey"]
    answer = {"score": survey["score"], "max_score": survey["max_score"], "survey_id": survey["survey_id"]}
    _set_register(partial.surveys, survey["kind"], (at, event_id, answer))


def _loyalty(partial: Partial, event: Mapping[str, Any], at: int, event_id: str) -> None:
    loyalty = event["loyalty"]
    partial.loyalty_points += loyalty["points"]
    if loyalty.get("balance_after") is not None:
        partial.loyalty_balance = _later(partial.loyalty_balance, (at, event_id, loyalty["balance_after"]))


def _consent_changed(partial: Partial, event: Mapping[str, Any], at: int, event_id: str) -> None:
    change = event["consent_change"]
    name = entry_name(change["purpose"], change.get("channel"), change.get("recipient"), change.get("destination_region"))
    _set_register(partial.consent, name, (at, event_id, change["granted"]))


_HANDLERS = {
    "identify": _identify,
    "order_placed": _order_placed,
    "order_refunded": _order_refunded,
    "ticket_opened": _ticket,
    "ticket_updated": _ticket,
    "ticket_resolved": _ticket,
    "survey_answered": _survey,
    "loyalty_points_earned": _loyalty,
    "loyalty_points_redeemed": _loyalty,
    "consent_changed": _consent_changed,
}


def is_open_ticket(status: str) -> bool:
    return status not in _RESOLVED_TICKET


def _sum_maps(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    out = dict(a)
    for name, amount in b.items():
        out[name] = out.get(name, 0) + amount
    return out


def _lww_maps(a: dict[str, Register], b: dict[str, Register]) -> dict[str, Register]:
    out = dict(a)
    for name, register in b.items():
        out[name] = _later(out.get(name), register)
    return out


def _newest_times(a: list[int], b: list[int]) -> list[int]:
    """The ``ORDER_TIMES`` largest of two multisets of instants: the same whatever the split
    or order of the events they came from."""
    return sorted(a + b, reverse=True)[:ORDER_TIMES]


def _optional(fn, a, b):
    if a is None:
        return b
    return a if b is None else fn(a, b)


def merge(a: Partial, b: Partial) -> Partial:
    """The partial of the union of two disjoint event sets (commutative and associative).

    Counts add up, so merging a partial with itself counts its events twice: the store
    keeps each event in exactly one partial (its routing identity on its partition).
    """
    return Partial(
        events=a.events + b.events,
        first_seen=_optional(min, a.first_seen, b.first_seen),
        last_seen=_optional(max, a.last_seen, b.last_seen),
        by_type=_sum_maps(a.by_type, b.by_type),
        by_channel=_sum_maps(a.by_channel, b.by_channel),
        identities=a.identities | b.identities,
        traits=_lww_maps(a.traits, b.traits),
        orders=a.orders + b.orders,
        revenue=_sum_maps(a.revenue, b.revenue),
        refunded=_sum_maps(a.refunded, b.refunded),
        last_order=_optional(_later, a.last_order, b.last_order),
        first_order=_optional(min, a.first_order, b.first_order),
        order_times=_newest_times(a.order_times, b.order_times),
        products=a.products | b.products,
        categories=a.categories | b.categories,
        tickets=_lww_maps(a.tickets, b.tickets),
        surveys=_lww_maps(a.surveys, b.surveys),
        loyalty_points=a.loyalty_points + b.loyalty_points,
        loyalty_balance=_optional(_later, a.loyalty_balance, b.loyalty_balance),
        consent=_lww_maps(a.consent, b.consent),
        recent=_newest(a.recent | b.recent),
    )


def fold(events, partial: Partial | None = None) -> Partial:
    """Apply every event of an iterable, in its order, to ``partial`` (a new one by default)."""
    partial = partial if partial is not None else Partial()
    for event in events:
        apply(partial, event)
    return partial
