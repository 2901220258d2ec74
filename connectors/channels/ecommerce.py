"""E-commerce orders from Shopify order webhooks (``orders/create``, ``orders/paid``,
``orders/fulfilled``, ``orders/cancelled``, ``orders/updated``): the body is the Order
resource of Shopify's Admin REST API (``id``, ``email``, ``phone``, ``created_at``,
``currency``, ``total_price`` as a decimal string, ``line_items``, ``customer``,
``financial_status``, ``fulfillment_status``, ``refunds`` with ``transactions``...).
Every topic posts the whole order, so one mapping serves them all (see order_lifecycle).
"""

from __future__ import annotations

from typing import Any

from connectors import records
from connectors.base import Connector
from connectors.channels.order_lifecycle import order_events
from panorama.errors import ContractError

_PAID = frozenset({"paid", "partially_refunded", "refunded"})


class ShopifyOrderConnector(Connector):
    name = "shopify"
    channel = "web"
    description = "Shopify order webhooks: placed, paid, shipped, cancelled, refunded, with line items"

    def to_events(self, raw: Any, received_at: int) -> list[dict[str, Any]]:
        if not isinstance(raw, dict) or raw.get("id") is None:
            raise ContractError("id", "a Shopify order needs its id", "malformed")
        currency = raw.get("currency") or "USD"
        customer = raw.get("customer") if isinstance(raw.get("customer"), dict) else {}
        identities = {
            "email": records.email(raw.get("email") or customer.get("email"), "email"),
            "phone": records.phone(raw.get("phone") or customer.get("phone"), "phone", strict=False),
            "external_ids": {"shopify_customer_id": records.text(customer.get("id"))},
        }
        order_id = str(raw["id"])
        items = [_line_item(item, currency, f"line_items[{i}]") for i, item in enumerate(raw.get("line_items") or [])]
        order = {
            "order_id": order_id, "status": records.text(raw.get("financial_status")) or "placed",
            "total": records.money(raw.get("total_price"), currency, "total_price"),
            "subtotal": _optional_money(raw, "subtotal_price", currency),
            "tax": _optional_money(raw, "total_tax", currency),
            "shipping": _shipping(raw, currency),
            "discount": _optional_money(raw, "total_discounts", currency),
            "coupon": next((records.text(d.get("code")) for d in raw.get("discount_codes") or [] if isinstance(d, dict)), None),
            "line_items": items,
            "shipping_address": _address(raw.get("shipping_address")),
        }
        at = lambda key: records.timestamp(raw[key], key) if raw.get(key) else None  # noqa: E731
        milestones = {
            "paid": (at("processed_at") or at("created_at")) if raw.get("financial_status") in _PAID else None,
            "shipped": (at("updated_at") or at("created_at")) if raw.get("fulfillment_status") == "fulfilled" else None,
            "cancelled": at("cancelled_at"),
        }
        refunds = [_refund(refund, order_id, currency, i) for i, refund in enumerate(raw.get("refunds") or [])]
        return order_events(self.name, self.channel, order, identities, at("created_at") or received_at,
                            milestones, received_at, refunds)


def _optional_money(raw: dict, key: str, currency: str) -> dict | None:
    return records.money(raw[key], currency, key) if raw.get(key) not in (None, "") else None


def _shipping(raw: dict, currency: str) -> dict | None:
    money = ((raw.get("total_shipping_price_set") or {}).get("shop_money") or {})
    return records.money(money["amount"], money.get("currency_code") or currency, "total_shipping_price_set") if money.get("amount") else None


def _line_item(item: Any, currency: str, path: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise ContractError(path, "must be an object", "malformed")
    quantity = item.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise ContractError(f"{path}.quantity", f"must be a positive integer, got {quantity!r:.20}", "invalid_field")
    return {"sku": records.text(item.get("sku")), "product_id": records.text(item.get("product_id")),
            "name": records.text(item.get("title") or item.get("name")), "category": records.text(item.get("product_type")),
            "quantity": quantity, "unit_price": records.money(item.get("price"), currency, f"{path}.price")}


def _address(address: Any) -> dict | None:
    if not isinstance(address, dict):
        return None
    return {"line1": records.text(address.get("address1")), "line2": records.text(address.get("address2")),
            "city": records.text(address.get("city")), "region": records.text(address.get("province")),
            "postal_code": records.text(address.get("zip")), "country": records.text(address.get("country_code"))}


def _refund(refund: Any, order_id: str, currency: str, index: int) -> tuple[str, int, dict]:
    path = f"refunds[{index}]"
    if not isinstance(refund, dict) or refund.get("id") is None:
        raise ContractError(path, "a refund needs its id", "malformed")
    minor = 0
    for t in refund.get("transactions") or []:
        if isinstance(t, dict) and t.get("kind") == "refund" and t.get("status", "success") == "success":
            minor += records.money(t.get("amount"), t.get("currency") or currency, f"{path}.transactions.amount")["amount_minor"]
    at = records.timestamp(refund.get("created_at"), f"{path}.created_at")
    payload = {"order_id": order_id, "amount": {"amount_minor": minor, "currency": currency.upper()},
               "reason": records.text(refund.get("note")), "line_items": []}
    return str(refund["id"]), at, payload
