"""Segment messages as the HTTP Tracking API documentation shows them."""

import uuid

import orjson
import pytest

from connectors.collector.segment import SegmentConnector, message_event_id, random_uuid
from panorama.errors import ContractError
from tests.unit.connectors.helpers import RECEIVED_AT, valid

CONTEXT = {"ip": "24.5.68.47", "userAgent": "Mozilla/5.0", "locale": "en-US", "timezone": "Europe/Amsterdam",
           "page": {"url": "https://example.com/pricing", "referrer": "https://google.com/"},
           "campaign": {"name": "TPS Innovation Newsletter", "source": "Newsletter", "medium": "email"},
           "device": {"id": "B5372DB0-C21E-11E4-8DFC-AA07A5B093DB"},
           "externalIds": [{"id": "wx-openid-1", "type": "wechat_openid", "collection": "users"}]}


def one(message: dict) -> dict:
    [event] = valid(SegmentConnector({"source": "webshop"}).to_events(message, RECEIVED_AT))
    return event


def test_identify_maps_traits_and_identities():
    event = one({"type": "identify", "userId": "019mr8mf4r", "messageId": "m-1", "timestamp": "2012-12-02T00:30:08.276Z",
                 "traits": {"email": " Peter@Example.com", "firstName": "Peter", "phone": "+1 415 555 0100",
                            "address": {"street": "6th St", "city": "San Francisco", "state": "CA", "postalCode": "94103",
                                        "country": "US"}, "company": {"name": "Initech"}, "plan": "Enterprise"},
                 "context": CONTEXT})
    assert event["type"] == "identify"
    assert event["identities"] | {} == {"user_id": "019mr8mf4r", "anonymous_id": None, "email": "peter@example.com",
                                        "phone": "+14155550100", "device_id": "B5372DB0-C21E-11E4-8DFC-AA07A5B093DB",
                                        "external_ids": {"wechat_openid": "wx-openid-1"}}
    assert event["traits"]["first_name"] == "Peter" and event["traits"]["company"] == "Initech"
    assert event["traits"]["address"]["region"] == "CA"
    assert orjson.loads(event["properties"]) == {"plan": "Enterprise"}
    assert event["occurred_at"] == 1354408208276000
    assert event["context"]["campaign"]["name"] == "TPS Innovation Newsletter"
    assert event["context"]["page_url"] == "https://example.com/pricing"


def test_an_unreadable_phone_stays_in_properties_instead_of_losing_the_event():
    event = one({"type": "identify", "userId": "u1", "traits": {"phone": "call me"}})
    assert event["identities"]["phone"] is None and orjson.loads(event["properties"]) == {"phone": "call me"}


def test_track_is_a_custom_event_with_properties():
    event = one({"type": "track", "anonymousId": "507f191e810c19729de860ea", "event": "Item Purchased",
                 "properties": {"name": "Leap to Conclusions Mat", "revenue": 14.99}})
    assert (event["type"], event["name"]) == ("track", "Item Purchased")
    assert orjson.loads(event["properties"])["revenue"] == 14.99


def test_order_completed_follows_the_ecommerce_spec():
    event = one({"type": "track", "userId": "u1", "event": "Order Completed",
                 "properties": {"order_id": "50314b8e9bcf000000000000", "total": 27.50, "revenue": 25.00, "shipping": 3,
                                "tax": 2, "discount": 2.5, "coupon": "hasbros", "currency": "USD",
                                "products": [{"product_id": "507f1f77bcf86cd799439011", "sku": "45790-32", "name": "Monopoly",
                                              "price": 19, "quantity": 1, "category": "Games"}]}})
    assert event["type"] == "order_placed"
    assert event["order"]["total"] == {"amount_minor": 2750, "currency": "USD"}
    assert event["order"]["line_items"][0]["unit_price"] == {"amount_minor": 1900, "currency": "USD"}


def test_order_refunded():
    event = one({"type": "track", "userId": "u1", "event": "Order Refunded",
                 "properties": {"order_id": "o-1", "total": 30, "currency": "EUR"}})
    assert event["type"] == "order_refunded" and event["refund"]["amount"]["amount_minor"] == 3000


def test_page_screen_group_alias():
    page = one({"type": "page", "userId": "u1", "name": "Pricing", "properties": {"url": "https://x.io/pricing", "path": "/pricing"}})
    assert page["page"]["path"] == "/pricing" and page["name"] == "Pricing"
    assert one({"type": "screen", "userId": "u1", "name": "Home"})["screen"] == {"name": "Home"}
    group = one({"type": "group", "userId": "u1", "groupId": "0e8c78ea9d97a7b8185e8632", "traits": {"name": "Initech", "plan": "x"}})
    assert group["group"] == {"group_id": "0e8c78ea9d97a7b8185e8632", "name": "Initech"}
    alias = one({"type": "alias", "userId": "507f191e81", "previousId": "39239-239239-239239-23923"})
    assert alias["alias"] == {"previous_id": "39239-239239-239239-23923"}


def test_clock_skew_is_corrected_with_sent_at():
    event = one({"type": "track", "userId": "u1", "event": "x", "originalTimestamp": "2024-06-10T06:00:00Z",
                 "sentAt": "2024-06-10T06:00:10Z"})
    assert event["occurred_at"] == 1_717_999_200_000_000 + (RECEIVED_AT - 1_717_999_210_000_000)


def test_message_id_is_the_idempotency_key():
    connector = SegmentConnector({"source": "webshop"})
    message = {"type": "track", "userId": "u1", "event": "x", "messageId": "ajs-1"}
    first = connector.to_events(message, RECEIVED_AT)[0]["event_id"]
    assert connector.to_events(message, RECEIVED_AT + 5)[0]["event_id"] == first
    assert SegmentConnector({"source": "app"}).to_events(message, RECEIVED_AT)[0]["event_id"] != first
    given = str(uuid.uuid4())
    assert connector.to_events(message | {"messageId": given}, RECEIVED_AT)[0]["event_id"] == given
    assert connector.to_events(message | {"messageId": given.upper()}, RECEIVED_AT)[0]["event_id"] == given
    braced = "{" + given[:34] + "}"  # 36 characters, not a canonical UUID: hashed like any other id
    assert message_event_id("webshop", braced) == message_event_id("webshop", braced) != braced.lower()


def test_random_ids_are_version_4_uuids():
    ids = {random_uuid() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(uuid.UUID(i).version == 4 and uuid.UUID(i).variant == uuid.RFC_4122 and str(uuid.UUID(i)) == i for i in ids)


@pytest.mark.parametrize("message, field, code", [
    ({"type": "track", "event": "x"}, "userId", "missing_identity"),
    ({"type": "track", "userId": "u1"}, "event", "missing_name"),
    ({"type": "track", "userId": {"id": 1}, "event": "x"}, "userId", "malformed"),
    ({"type": "track", "userId": "u1", "event": "x", "properties": [1]}, "properties", "malformed"),
    ({"type": "track", "userId": "u1", "event": "x", "timestamp": "soon"}, "timestamp", "invalid_timestamp"),
    ({"type": "group", "userId": "u1"}, "groupId", "missing_field"),
    ({"type": "alias", "anonymousId": "a", "previousId": "p"}, "userId", "missing_identity"),
    ({"type": "fly", "userId": "u1"}, "type", "unknown_type"),
    ({"type": "track", "userId": "u1", "event": "Order Completed", "properties": {"order_id": "o"}}, "properties.total", "missing_field"),
])
def test_bad_messages_name_field_and_reason(message, field, code):
    with pytest.raises(ContractError) as raised:
        SegmentConnector().to_events(message, RECEIVED_AT)
    assert (raised.value.field, raised.value.code) == (field, code)
