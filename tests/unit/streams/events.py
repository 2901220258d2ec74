"""Generated canonical events over a small world of identities, so histories collide on
customers, traits, tickets and timestamps.

Each event is built from (event id, seed) by :func:`make_event`: hypothesis draws two
numbers per event instead of a dozen nested choices, which keeps 10,000+ examples fast.
"""

from __future__ import annotations

import random
import uuid

from hypothesis import strategies as st

EVENT_IDS = [str(uuid.UUID(int=i + 1)) for i in range(64)]
TYPES = ["page", "email_sent", "email_opened", "identify", "order_placed", "order_refunded", "ticket_opened",
         "survey_answered", "loyalty_points_earned", "consent_changed"]


def _money(rng: random.Random) -> dict:
    return {"amount_minor": rng.randint(0, 50_000), "currency": rng.choice(["EUR", "JPY"])}


def _payload(type_: str, rng: random.Random) -> dict:
    pick = rng.choice
    if type_ == "identify":
        return {"traits": {"first_name": pick([None, "Ana", "Li", "Wei"]), "company": pick([None, "Acme", "Globex"])}}
    if type_ == "order_placed":
        items = [{"sku": pick("ABC"), "product_id": pick([None, "p-a", "p-b"]), "category": pick([None, "home", "outdoor"])}
                 for _ in range(rng.randint(0, 2))]
        return {"order": {"order_id": pick(["o-1", "o-2"]), "total": _money(rng), "line_items": items}}
    if type_ == "order_refunded":
        return {"refund": {"amount": _money(rng)}}
    if type_ == "ticket_opened":
        return {"ticket": {"ticket_id": pick(["T-1", "T-2"]), "status": pick(["open", "pending", "solved"])}}
    if type_ == "survey_answered":
        return {"survey": {"survey_id": "s", "kind": pick(["nps", "csat"]), "score": rng.randint(0, 10), "max_score": 10}}
    if type_ == "loyalty_points_earned":
        return {"loyalty": {"points": rng.randint(-500, 500), "balance_after": pick([None, rng.randint(0, 5000)])}}
    if type_ == "consent_changed":
        return {"consent_change": {"purpose": pick(["marketing", "analytics"]), "channel": pick([None, "email"]),
                                   "granted": pick([True, False])}}
    return {}


def make_event(event_id: str, seed: int) -> dict:
    rng = random.Random(seed)
    type_ = rng.choice(TYPES)
    identities = {"user_id": rng.choice([None, "u-1", "u-2"]), "email": rng.choice([None, "ana@example.com"]),
                  "anonymous_id": rng.choice(["anon-1", "anon-2", "anon-3"])}
    return {
        "event_id": event_id, "type": type_,
        "occurred_at": rng.randint(0, 5),  # few distinct instants: ties are broken by event_id
        "source": {"channel": rng.choice(["web", "email", "store"])},
        "identities": identities,
        "consent": rng.choice([{}, {"marketing": True}, {"marketing": False}]),
    } | _payload(type_, rng)


def histories(max_size: int = 12) -> st.SearchStrategy[list[dict]]:
    """Events with distinct ids (a real log: one id, one event)."""
    return st.lists(st.tuples(st.sampled_from(EVENT_IDS), st.integers(0, 2**32)), unique_by=lambda t: t[0],
                    max_size=max_size).map(lambda pairs: [make_event(i, seed) for i, seed in pairs])
