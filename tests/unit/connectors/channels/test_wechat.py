"""WeChat Official Account pushes, as in the platform's "receiving event pushes" documentation."""

import pytest

from connectors.channels.wechat import WeChatConnector, signature
from panorama.errors import ContractError
from tests.unit.connectors.helpers import RECEIVED_AT, valid

TOKEN = "panorama-token"
SUBSCRIBE = {"ToUserName": "gh_0123456789ab", "FromUserName": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "CreateTime": "1718000000",
             "MsgType": "event", "Event": "subscribe", "EventKey": "qrscene_spring-poster"}


def connector() -> WeChatConnector:
    return WeChatConnector({"token": TOKEN})


def test_signature_of_token_timestamp_nonce():
    params = {"timestamp": "1718000000", "nonce": "8899", "signature": signature(TOKEN, "1718000000", "8899")}
    connector().verify(params, {}, b"")
    assert connector().handshake(params | {"echostr": "abc"}) == "abc"
    with pytest.raises(ContractError) as raised:
        connector().verify(params | {"nonce": "1"}, {}, b"")
    assert raised.value.code == "bad_signature"


def test_subscribe_via_qr_code_is_a_follow():
    [event] = valid(connector().to_events(SUBSCRIBE, RECEIVED_AT))
    assert event["type"] == "social_interaction" and event["social"]["interaction"] == "follow"
    assert event["identities"]["external_ids"] == {"wechat_openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}
    assert '"scene":"spring-poster"' in event["properties"] and event["occurred_at"] == 1_718_000_000_000_000


@pytest.mark.parametrize("push, name", [
    ({"Event": "CLICK", "EventKey": "V1001_TODAY_MUSIC"}, "WeChat Menu Clicked"),
    ({"Event": "VIEW", "EventKey": "https://shop.example.com/"}, "WeChat Menu Link Opened"),
    ({"Event": "SCAN", "EventKey": "123"}, "WeChat QR Code Scanned"),
    ({"Event": "unsubscribe", "EventKey": ""}, "WeChat Unfollowed"),
    ({"Event": "TEMPLATESENDJOBFINISH", "MsgID": "200163836", "Status": "failed:user block"}, "WeChat Template Message Status"),
])
def test_other_events_are_named_tracks(push, name):
    [event] = valid(connector().to_events(SUBSCRIBE | push, RECEIVED_AT))
    assert (event["type"], event["name"]) == ("track", name)


def test_text_message_is_a_direct_message_keyed_by_msgid():
    message = {"ToUserName": "gh_0123456789ab", "FromUserName": "oUpF8u", "CreateTime": "1718000000", "MsgType": "text",
               "Content": "你好", "MsgId": "1234567890123456"}
    [event] = valid(connector().to_events(message, RECEIVED_AT))
    assert event["social"]["interaction"] == "direct_message" and event["social"]["text"] == "你好"
    assert connector().to_events(message, RECEIVED_AT + 9)[0]["event_id"] == event["event_id"]


def test_unknown_event_is_named():
    with pytest.raises(ContractError) as raised:
        connector().to_events(SUBSCRIBE | {"Event": "LOCATION_SELECT"}, RECEIVED_AT)
    assert raised.value.field == "Event"
