"""Marketplace orders in the shapes Tmall/Taobao and JD expose to sellers.

Tmall/Taobao (the trade of ``taobao.trade.fullinfo.get`` / the TMC trade messages):
``tid``, ``status`` (WAIT_BUYER_PAY, WAIT_SELLER_SEND_GOODS, WAIT_BUYER_CONFIRM_GOODS,
TRADE_FINISHED, TRADE_CLOSED, TRADE_CLOSED_BY_TAOBAO), ``payment``, ``post_fee``,
``discount_fee`` (yuan, decimal strings), ``created``, ``pay_time``, ``consign_time``,
``end_time`` (``YYYY-MM-DD HH:MM:SS``, China time), ``buyer_open_uid``,
``receiver_mobile``, ``orders.order[]`` (``oid``, ``title``, ``num``, ``price``,
``outer_sku_id``, ``num_iid``).

JD (``jingdong.pop.order.search`` order info): ``orderId``, ``orderState``
(WAIT_SELLER_STOCK_OUT, WAIT_GOODS_RECEIVE_CONFIRM, FINISHED_L, TRADE_CANCELED),
``orderPayment``, ``freightPrice``, ``orderStartTime``, ``paymentConfirmTime``,
``open_id_buyer``, ``consigneeInfo.mobile``, ``itemInfoList[]`` (``skuId``, ``skuName``,
``itemTotal``, ``jdPrice``, ``outerSkuId``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from connectors import records
from connectors.base import Connector
from connectors.channels.order_lifecycle import order_events
from panorama.errors import ContractError

CHINA_TIME = "Asia/Shanghai"
_CLOSED = frozenset({"TRADE_CLOSED", "TRADE_CLOSED_BY_TAOBAO", "TRADE_CANCELED"})


class MarketplaceConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    platform: Literal["tmall", "jd"] = "tmall"
    currency: str = "CNY"


class MarketplaceOrderConnector(Connector):
    name = "marketplace"
    channel = "marketplace"
    description = "Tmall/Taobao and JD order feeds: placed, paid, shipped, cancelled"
    Config = MarketplaceConfig

    def split(self, raw: Any) -> list[Any]:
        return raw if isinstance(raw, list) else [raw]

    def to_events(self, raw: Any, received_at: int) -> list[dict[str, Any]]:
        if not isinstance(raw, dict):
            raise ContractError("<order>", "must be an object", "malformed")
        fields = _tmall(raw) if self.config.platform == "tmall" else _jd(raw)
        currency = self.config.currency
        at = lambda key: records.timestamp(raw[key], key, CHINA_TIME) if raw.get(key) else None  # noqa: E731
        items = []
        for i, (sku, product, name, quantity, price) in enumerate(fields["items"]):
            path = f"{fields['items_path']}[{i}]"
            if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
                quantity = int(quantity) if isinstance(quantity, str) and quantity.isdigit() and int(quantity) > 0 else None
                if quantity is None:
                    raise ContractError(f"{path}.quantity", "must be a positive integer", "invalid_field")
            items.append({"sku": records.text(sku), "product_id": records.text(product), "name": records.text(name),
                          "category": None, "quantity": quantity, "unit_price": records.money(price, currency, f"{path}.price")})
        order = {"order_id": fields["order_id"], "status": fields["status"],
                 "total": records.money(fields["total"], currency, fields["total_field"]),
                 "subtotal": None, "tax": None,
                 "shipping": records.money(fields["shipping"], currency, "shipping") if fields["shipping"] else None,
                 "discount": None, "coupon": None, "line_items": items, "shipping_address": None}
        identities = {"phone": records.phone(fields["mobile"], "mobile", "CN", strict=False),
                      "external_ids": {f"{self.config.platform}_open_uid": records.text(fields["buyer"])}}
        milestones = {"paid": at(fields["paid_key"]), "shipped": at(fields["shipped_key"]) if fields["shipped_key"] else None,
                      "cancelled": (at(fields["closed_key"]) or received_at) if fields["status"] in _CLOSED else None}
        return order_events(f"{self.name}:{self.config.platform}", self.channel, order, identities,
                            at(fields["created_key"]) or received_at, milestones, received_at)


def _tmall(raw: dict) -> dict[str, Any]:
    if not raw.get("tid"):
        raise ContractError("tid", "a Tmall/Taobao trade needs its tid", "malformed")
    orders = (raw.get("orders") or {}).get("order") or [] if isinstance(raw.get("orders"), dict) else []
    return {"order_id": str(raw["tid"]), "status": raw.get("status"), "total": raw.get("payment"), "total_field": "payment",
            "shipping": raw.get("post_fee"), "buyer": raw.get("buyer_open_uid"), "mobile": raw.get("receiver_mobile"),
            "created_key": "created", "paid_key": "pay_time", "shipped_key": "consign_time", "closed_key": "end_time",
            "items_path": "orders.order",
            "items": [(o.get("outer_sku_id"), o.get("num_iid"), o.get("title"), o.get("num"), o.get("price"))
                      for o in orders if isinstance(o, dict)]}


def _jd(raw: dict) -> dict[str, Any]:
    if not raw.get("orderId"):
        raise ContractError("orderId", "a JD order needs its orderId", "malformed")
    consignee = raw.get("consigneeInfo") if isinstance(raw.get("consigneeInfo"), dict) else {}
    return {"order_id": str(raw["orderId"]), "status": raw.get("orderState"), "total": raw.get("orderPayment"),
            "total_field": "orderPayment", "shipping": raw.get("freightPrice"), "buyer": raw.get("open_id_buyer"),
            "mobile": consignee.get("mobile"), "created_key": "orderStartTime", "paid_key": "paymentConfirmTime",
            "shipped_key": None, "closed_key": "orderEndTime", "items_path": "itemInfoList",
            "items": [(i.get("outerSkuId"), i.get("skuId"), i.get("skuName"), i.get("itemTotal"), i.get("jdPrice"))
                      for i in raw.get("itemInfoList") or [] if isinstance(i, dict)]}
