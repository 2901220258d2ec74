import copy

import pytest

from connectors.channels.ecommerce import ShopifyOrderConnector
from connectors.channels.marketplace import MarketplaceOrderConnector
from panorama.errors import ContractError
from tests.unit.connectors.helpers import RECEIVED_AT, by_type, valid

# Abridged from the Order resource of Shopify's Admin REST API.
SHOPIFY = {
    "id": 450789469, "name": "#1001", "email": "bob.norman@mail.example.com", "phone": "+557734881234",
    "created_at": "2008-01-10T11:00:00-05:00", "processed_at": "2008-01-10T11:00:00-05:00",
    "updated_at": "2008-01-12T09:00:00-05:00", "currency": "USD", "total_price": "409.94", "subtotal_price": "398.00",
    "total_tax": "11.94", "total_discounts": "0.00", "financial_status": "partially_refunded", "fulfillment_status": "fulfilled",
    "discount_codes": [{"code": "TENOFF", "amount": "10.00", "type": "fixed_amount"}],
    "total_shipping_price_set": {"shop_money": {"amount": "0.00", "currency_code": "USD"}},
    "customer": {"id": 207119551, "email": "bob.norman@mail.example.com", "first_name": "Bob"},
    "line_items": [{"id": 466157049, "sku": "IPOD2008GREEN", "product_id": 632910392, "title": "IPod Nano - 8gb",
                    "quantity": 1, "price": "199.00"},
                   {"id": 518995019, "sku": "IPOD2008RED", "product_id": 632910392, "title": "IPod Nano - 8gb",
                    "quantity": 1, "price": "199.00"}],
    "shipping_address": {"address1": "Chestnut Street 92", "city": "Louisville", "province": "Kentucky", "zip": "40202",
                         "country_code": "US"},
    "refunds": [{"id": 509562969, "created_at": "2008-01-11T10:00:00-05:00", "note": "it broke during shipping",
                 "transactions": [{"id": 179259969, "amount": "209.00", "kind": "refund", "status": "success", "currency": "USD"}]}],
    "cancelled_at": None,
}


def test_shopify_order_gives_its_milestones():
    events = by_type(valid(ShopifyOrderConnector().to_events(SHOPIFY, RECEIVED_AT)))
    assert set(events) == {"order_placed", "Order Paid", "Order Shipped", "order_refunded"}
    order = events["order_placed"]["order"]
    assert order["total"] == {"amount_minor": 40994, "currency": "USD"}
    assert [i["quantity"] for i in order["line_items"]] == [1, 1] and order["coupon"] == "TENOFF"
    assert order["shipping_address"]["country"] == "US"
    assert events["order_refunded"]["refund"]["amount"]["amount_minor"] == 20900
    assert events["order_placed"]["identities"]["external_ids"] == {"shopify_customer_id": "207119551"}


def test_a_later_webhook_of_the_same_order_repeats_ids():
    first = ShopifyOrderConnector().to_events({**SHOPIFY, "financial_status": "pending", "fulfillment_status": None,
                                               "refunds": []}, RECEIVED_AT)
    later = ShopifyOrderConnector().to_events(SHOPIFY, RECEIVED_AT + 1)
    assert {e["event_id"] for e in first} < {e["event_id"] for e in later}


def test_shopify_bad_line_item_is_named():
    bad = copy.deepcopy(SHOPIFY)
    bad["line_items"][1]["quantity"] = 0
    with pytest.raises(ContractError) as raised:
        ShopifyOrderConnector().to_events(bad, RECEIVED_AT)
    assert raised.value.field == "line_items[1].quantity"


# Field names of the Taobao/Tmall trade (taobao.trade.fullinfo.get).
TMALL = {"tid": 2231958349, "status": "WAIT_BUYER_CONFIRM_GOODS", "payment": "298.00", "post_fee": "0.00",
         "created": "2024-06-10 14:13:20", "pay_time": "2024-06-10 14:15:02", "consign_time": "2024-06-11 09:00:00",
         "buyer_open_uid": "AAGd0oS1AAFkYmY1YjE5MmQ5N2RhNmE", "receiver_mobile": "13812345678",
         "orders": {"order": [{"oid": 2231958349, "title": "保温杯 500ml", "num": 2, "price": "149.00",
                               "outer_sku_id": "CUP-500", "num_iid": 5937462}]}}
# Field names of JD's POP order (jingdong.pop.order.search).
JD = {"orderId": "301234567890", "orderState": "TRADE_CANCELED", "orderPayment": "59.90", "freightPrice": "6.00",
      "orderStartTime": "2024-06-10 20:01:00", "paymentConfirmTime": "2024-06-10 20:02:00", "orderEndTime": "2024-06-11 08:00:00",
      "open_id_buyer": "jd-open-1", "consigneeInfo": {"mobile": "13912345678"},
      "itemInfoList": [{"skuId": "100012043978", "skuName": "无线鼠标", "itemTotal": "1", "jdPrice": "53.90", "outerSkuId": "MS-1"}]}


def test_tmall_trade():
    events = by_type(valid(MarketplaceOrderConnector({"platform": "tmall"}).to_events(TMALL, RECEIVED_AT)))
    assert set(events) == {"order_placed", "Order Paid", "Order Shipped"}
    placed = events["order_placed"]
    assert placed["order"]["total"] == {"amount_minor": 29800, "currency": "CNY"}
    assert placed["occurred_at"] == 1_718_000_000_000_000  # 14:13:20 China time = 06:13:20 UTC
    assert placed["identities"]["phone"] == "+8613812345678"
    assert placed["order"]["line_items"][0]["quantity"] == 2


def test_jd_cancelled_order():
    events = by_type(valid(MarketplaceOrderConnector({"platform": "jd"}).to_events(JD, RECEIVED_AT)))
    assert set(events) == {"order_placed", "Order Paid", "Order Cancelled"}
    assert events["order_placed"]["identities"]["external_ids"] == {"jd_open_uid": "jd-open-1"}


def test_marketplace_missing_money_is_named():
    with pytest.raises(ContractError) as raised:
        MarketplaceOrderConnector().to_events({k: v for k, v in TMALL.items() if k != "payment"}, RECEIVED_AT)
    assert raised.value.field == "payment"
