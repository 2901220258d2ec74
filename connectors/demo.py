"""A demo population: customers who browse anonymously, sign up, use the mobile app (a
device id linked at login), buy with seasonality, earn and redeem loyalty points,
receive email campaigns (opens, clicks that land on the site with UTM context,
unsubscribes that withdraw consent), call support, answer surveys — and some who churn.
Deterministic for a seed (event ids included) within one UTC day, so a second run of
`cdp demo` produces the same events again rather than new customers.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from schemas.contract import CANONICAL_TYPES, PAYLOAD_FIELDS

DAY_US = 86_400_000_000
HISTORY_DAYS = 365
FIRST_NAMES = ["Ana", "Li", "Wei", "Sofia", "Jonas", "Amara", "Mateo", "Yuki", "Priya", "Omar", "Elena", "Chen"]
LAST_NAMES = ["Martins", "Wang", "Zhang", "Rossi", "Berg", "Okafor", "Garcia", "Sato", "Patel", "Haddad", "Novak", "Liu"]
CATALOGUE = [
    ("TSH-01", "Organic T-shirt", "apparel", 2490), ("JKT-02", "Rain jacket", "apparel", 8900),
    ("MUG-01", "Enamel mug", "home", 1200), ("LMP-03", "Desk lamp", "home", 4500),
    ("BOT-04", "Water bottle", "outdoor", 1900), ("TNT-05", "Two-person tent", "outdoor", 18900),
]
CAMPAIGNS = [f"cmp-{m:02d}" for m in range(1, 13)]
_CONTEXT = {"ip": None, "user_agent": None, "locale": None, "timezone": None, "page_url": None, "referrer": None, "campaign": None}


def _blank(type_: str, occurred_at: int, channel: str, identities: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    record: dict[str, Any] = {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "type": type_, "name": None, "occurred_at": occurred_at, "received_at": occurred_at + rng.randint(50_000, 900_000),
        "source": {"channel": channel, "connector": "demo"},
        "identities": {"user_id": None, "anonymous_id": None, "email": None, "phone": None, "device_id": None,
                       "external_ids": {}} | identities,
        "context": dict(_CONTEXT),
        "consent": {}, "properties": "{}",
    }
    record.update(dict.fromkeys(PAYLOAD_FIELDS))
    return record


def _event(type_: str, at: int, channel: str, identities: dict, rng: random.Random, payload: dict | None = None, **extra) -> dict:
    record = _blank(type_, at, channel, identities, rng) | extra
    if payload is not None:
        record[CANONICAL_TYPES[type_]] = payload
    return record


def _money(amount_minor: int) -> dict:
    return {"amount_minor": amount_minor, "currency": "EUR"}


def _order(order_id: str, rng: random.Random) -> dict:
    items = [
        {"sku": sku, "product_id": sku.lower(), "name": name, "category": cat, "quantity": rng.randint(1, 3),
         "unit_price": _money(price)}
        for sku, name, cat, price in rng.sample(CATALOGUE, rng.randint(1, 3))
    ]
    subtotal = sum(i["quantity"] * i["unit_price"]["amount_minor"] for i in items)
    shipping = 0 if subtotal > 5000 else 490
    return {"order_id": order_id, "status": "placed", "total": _money(subtotal + shipping), "subtotal": _money(subtotal),
            "tax": _money(subtotal // 6), "shipping": _money(shipping), "discount": None, "coupon": None,
            "line_items": items, "shipping_address": None}


def _seasonal_day(rng: random.Random, first: int) -> int:
    """A day index in [first, HISTORY_DAYS) with more weight near November/December."""
    while True:
        day = rng.randint(first, HISTORY_DAYS - 1)
        if rng.random() < 0.6 + 0.4 * math.cos(2 * math.pi * (day - 330) / 365):
            return day


def customer_events(n: int, start_us: int, rng: random.Random) -> Iterator[dict]:
    """Every event of customer number ``n``, in no particular order."""
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    user = {"user_id": f"u-{n:06d}"}
    email = f"{first}.{last}.{n}@example.com".lower()
    phone = f"+4915{n:08d}"
    anon = {"anonymous_id": f"anon-{uuid.UUID(int=rng.getrandbits(128)).hex[:12]}"}
    signup_day = rng.randint(0, HISTORY_DAYS - 30)
    churned = rng.random() < 0.2
    active_until = rng.randint(signup_day + 10, HISTORY_DAYS - 1) if churned else HISTORY_DAYS - 1
    at = lambda day: start_us + day * DAY_US + rng.randint(0, DAY_US - 1)  # noqa: E731

    for _ in range(rng.randint(1, 4)):  # anonymous browsing before sign-up
        yield _event("page", at(max(0, signup_day - rng.randint(0, 5))), "web", anon, rng,
                     {"url": "https://shop.example.com/", "path": "/", "title": "Home", "referrer": None, "search": None},
                     name="Home")
    yield _event("identify", at(signup_day), "web", user | anon | {"email": email, "phone": phone}, rng,
                 {"first_name": first, "last_name": last, "email": email, "phone": phone, "birthday": None,
                  "gender": None, "address": None, "company": None}, consent={"marketing": rng.random() < 0.7, "analytics": True})
    if rng.random() < 0.4:  # a mobile app user: the device is linked to the account at login
        device = {"device_id": f"dev-{n:06d}"}
        yield _event("identify", at(signup_day + 1), "mobile", user | device, rng, None)
        for _ in range(rng.randint(1, 6)):
            yield _event("screen", at(rng.randint(signup_day + 1, active_until)), "mobile", user | device, rng,
                         {"name": "Product"}, name="Product")
    points = 0
    for k in range(rng.choice([0, 1, 1, 2, 3, 5, 8])):
        day = _seasonal_day(rng, signup_day)
        if day <= active_until:
            order = _order(f"ord-{n}-{k}", rng)
            yield _event("order_placed", at(day), "web", user, rng, order)
            earned = order["total"]["amount_minor"] // 100
            points += earned
            yield _event("loyalty_points_earned", at(day), "loyalty", user, rng,
                         {"program_id": "stars", "points": earned, "balance_after": points, "reason": "purchase", "order_id": order["order_id"]})
    if points > 100 and rng.random() < 0.3:
        yield _event("loyalty_points_redeemed", at(active_until), "loyalty", user, rng,
                     {"program_id": "stars", "points": 100, "balance_after": points - 100, "reason": "voucher", "order_id": None})
    for campaign in rng.sample(CAMPAIGNS, 4):
        day = rng.randint(signup_day, HISTORY_DAYS - 1)
        mail = {"campaign_id": campaign, "message_id": f"m-{n}-{campaign}", "list_id": "newsletter",
                "subject": "New this month", "link_url": None, "bounce_type": None}
        yield _event("email_sent", at(day), "email", {"email": email}, rng, mail)
        if day <= active_until and rng.random() < 0.4:
            yield _event("email_opened", at(day), "email", {"email": email}, rng, mail)
            if rng.random() < 0.3:
                clicked = at(day)
                yield _event("email_clicked", clicked, "email", {"email": email}, rng, mail | {"link_url": "https://shop.example.com/new"})
                yield _event("page", clicked + 2_000_000, "web", user, rng,
                             {"url": f"https://shop.example.com/new?utm_campaign={campaign}", "path": "/new", "title": "New in",
                              "referrer": None, "search": f"?utm_campaign={campaign}"}, name="New in",
                             context=_CONTEXT | {"campaign": {"source": "newsletter", "medium": "email", "name": campaign,
                                                              "term": None, "content": None}})
            elif rng.random() < 0.05:
                yield _event("email_unsubscribed", at(day), "email", {"email": email}, rng, mail)
                yield _event("consent_changed", at(day), "email", {"email": email}, rng,
                             {"purpose": "marketing", "channel": "email", "granted": False, "method": "unsubscribe_link",
                              "policy_version": None}, consent={"marketing:email": False})
    if rng.random() < 0.25:
        day = rng.randint(signup_day, active_until)
        ticket = {"ticket_id": f"T-{n}", "status": "open", "priority": "normal", "category": "delivery",
                  "subject": "Where is my parcel?", "assignee_id": "agent-1"}
        yield _event("ticket_opened", at(day), "support", {"email": email}, rng, ticket)
        if rng.random() < 0.8:
            yield _event("ticket_resolved", at(min(day + 2, HISTORY_DAYS - 1)), "support", {"email": email}, rng, ticket | {"status": "solved"})
        yield _event("call_logged", at(day), "call_center", {"phone": phone}, rng,
                     {"call_id": f"c-{n}", "direction": "inbound", "duration_seconds": rng.randint(30, 900),
                      "outcome": "resolved", "agent_id": "agent-1", "queue": "support", "notes": None})
    if rng.random() < 0.3:
        yield _event("survey_answered", at(rng.randint(signup_day, active_until)), "survey", user, rng,
                     {"survey_id": "nps-2026", "kind": "nps", "score": rng.randint(0, 10), "max_score": 10, "comment": None})


def generate_population(customers: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    """Yield the events of ``customers`` simulated customers over the last year."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start_us = int(today.timestamp()) * 1_000_000 - HISTORY_DAYS * DAY_US
    rng = random.Random(seed)
    for n in range(customers):
        yield from customer_events(n, start_us, rng)
