"""One valid, realistic record per canonical type, in the codec's dict form.

Used by the tests (round trips, validation) and by the benchmark. Every payload field is
exercised by at least one example and every PII field is filled.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from schemas.contract import CANONICAL_TYPES, PAYLOAD_FIELDS

_OCCURRED_AT = 1_718_000_000_123_456  # 2024-06-10T06:13:20.123456Z, epoch micros
_EXAMPLES_NAMESPACE = uuid.UUID("8a3c1d52-3f0e-5b8e-9a51-3f5d0c2b7e10")


def _money(amount_minor: int, currency: str = "EUR") -> dict[str, Any]:
    return {"amount_minor": amount_minor, "currency": currency}


_ADDRESS = {
    "line1": "12 rue de la Paix",
    "line2": "3e étage",
    "city": "Paris",
    "region": "Île-de-France",
    "postal_code": "75002",
    "country": "FR",
}
_LINE_ITEMS = [
    {"sku": "TSH-BLU-M", "product_id": "p-1001", "name": "Organic T-shirt", "category": "apparel",
     "quantity": 2, "unit_price": _money(2_490)},
    {"sku": "MUG-01", "product_id": "p-2002", "name": "Enamel mug", "category": "home",
     "quantity": 1, "unit_price": _money(1_200)},
]
_EMAIL = {"campaign_id": "cmp-2024-06", "message_id": "msg-7f3a", "list_id": "newsletter",
          "subject": "Ana, your summer picks", "link_url": None, "bounce_type": None}
_TICKET = {"ticket_id": "T-4411", "status": "open", "priority": "high", "category": "delivery",
           "subject": "Parcel never arrived at my flat", "assignee_id": "agent-7"}
_PIPELINE = {"object_type": "lead", "object_id": "lead-981", "stage": "qualified",
             "previous_stage": "new", "amount": None, "owner_id": "rep-3", "outcome": None}

# type -> (payload, name); payload is None for track.
_PAYLOADS: dict[str, tuple[dict[str, Any] | None, str | None]] = {
    "identify": ({"first_name": "Ana", "last_name": "Martins", "email": "ana.martins@example.com",
                  "phone": "+33612345678", "birthday": "1990-04-17", "gender": "female",
                  "address": _ADDRESS, "company": "Atelier Martins"}, None),
    "track": (None, "Wishlist Item Added"),
    "page": ({"url": "https://shop.example.com/summer?utm_source=newsletter", "path": "/summer",
              "title": "Summer collection", "referrer": "https://mail.example.com/",
              "search": "?utm_source=newsletter"}, "Summer collection"),
    "screen": ({"name": "Checkout"}, "Checkout"),
    "group": ({"group_id": "acct-551", "name": "Atelier Martins"}, None),
    "alias": ({"previous_id": "anon-5d2c9e"}, None),
    "order_placed": ({"order_id": "ord-10023", "status": "placed", "total": _money(6_870),
                      "subtotal": _money(6_180), "tax": _money(1_030), "shipping": _money(490),
                      "discount": _money(830), "coupon": "SUMMER10", "line_items": _LINE_ITEMS,
                      "shipping_address": _ADDRESS}, None),
    "order_refunded": ({"order_id": "ord-10023", "amount": _money(2_490),
                        "reason": "The shirt was too small", "line_items": _LINE_ITEMS[:1]}, None),
    "email_sent": (_EMAIL, None),
    "email_opened": (_EMAIL, None),
    "email_clicked": (dict(_EMAIL, link_url="https://shop.example.com/summer"), None),
    "email_bounced": (dict(_EMAIL, bounce_type="hard"), None),
    "email_unsubscribed": (_EMAIL, None),
    "call_logged": ({"call_id": "call-3312", "direction": "inbound", "duration_seconds": 312,
                     "outcome": "resolved", "agent_id": "agent-7", "queue": "billing",
                     "notes": "Customer asked for an invoice copy for order ord-10023"}, None),
    "social_interaction": ({"platform": "instagram", "interaction": "comment", "post_id": "ig-88812",
                            "handle": "@ana.martins", "text": "Love the new colours!",
                            "sentiment": "positive"}, None),
    "ticket_opened": (_TICKET, None),
    "ticket_updated": (dict(_TICKET, status="pending"), None),
    "ticket_resolved": (dict(_TICKET, status="solved"), None),
    "survey_answered": ({"survey_id": "nps-q2", "kind": "nps", "score": 9, "max_score": 10,
                         "comment": "Fast delivery, friendly support"}, None),
    "loyalty_points_earned": ({"program_id": "club", "points": 687, "balance_after": 2_150,
                               "reason": "purchase", "order_id": "ord-10023"}, None),
    "loyalty_points_redeemed": ({"program_id": "club", "points": -500, "balance_after": 1_650,
                                 "reason": "voucher", "order_id": None}, None),
    "lead_stage_changed": (_PIPELINE, None),
    "opportunity_stage_changed": (dict(_PIPELINE, object_type="opportunity", object_id="opp-77",
                                       stage="closed", previous_stage="negotiation",
                                       amount=_money(1_200_000, "JPY"), outcome="won"), None),
    "consent_changed": ({"purpose": "marketing", "channel": "email", "granted": True,
                         "method": "double_opt_in", "policy_version": "2024-05",
                         "recipient": None, "destination_region": None}, None),
}


def example_record(type_: str) -> dict[str, Any]:
    """A full record (every field present) of canonical ``type_``; a deep copy, so callers
    may mutate it."""
    payload, name = _PAYLOADS[type_]
    record: dict[str, Any] = {
        "event_id": str(uuid.uuid5(_EXAMPLES_NAMESPACE, type_)),
        "type": type_,
        "name": name,
        "occurred_at": _OCCURRED_AT,
        "received_at": _OCCURRED_AT + 180_000,
        "source": {"channel": "web", "connector": "http_collector"},
        "identities": {"user_id": "u-4821", "anonymous_id": "anon-5d2c9e",
                       "email": "ana.martins@example.com", "phone": "+33612345678",
                       "device_id": "dev-ios-77aa", "external_ids": {"wechat_openid": "oX3f9-ana"}},
        "context": {"ip": "203.0.113.42", "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5)",
                    "locale": "fr-FR", "timezone": "Europe/Paris",
                    "page_url": "https://shop.example.com/summer", "referrer": "https://mail.example.com/",
                    "campaign": {"source": "newsletter", "medium": "email", "name": "summer-2024",
                                 "term": None, "content": "hero-banner"}},
        "consent": {"analytics": True, "marketing": True, "marketing:sms": False},
        "properties": '{"wishlist_id":"wl-3","items":2}' if type_ == "track" else "{}",
    }
    record.update(dict.fromkeys(PAYLOAD_FIELDS))
    if payload is not None:
        record[CANONICAL_TYPES[type_]] = payload
    return copy.deepcopy(record)


def example_records() -> dict[str, dict[str, Any]]:
    """type -> a fresh example record, for every canonical type."""
    return {type_: example_record(type_) for type_ in CANONICAL_TYPES}
