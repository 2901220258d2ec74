"""WeChat Official Account pushes, as in the platform's "receiving event pushes" documentation."""

import pytest

from connectors.channels.msg_crypt import msg_signature
from connectors.channels.wechat import WeChatConnector, signature
from panorama.errors import ContractError
from tests.unit.connectors.channels.test_msg_crypt import AES_KEY
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


def test_safe_mode_push_is_verified_and_decrypted():
    safe = WeChatConnector({"token": TOKEN, "encoding_aes_key": AES_KEY, "app_id": "wx5823bf96d3bd56c7"})
    plain = "<xml>" + "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in SUBSCRIBE.items()) + "</xml>"
    encrypted = safe._crypt.encrypt(plain)
    params = {"timestamp": "1718000000", "nonce": "8899", "signature": signature(TOKEN, "1718000000", "8899"),
              "encrypt_type": "aes", "msg_signature": msg_signature(TOKEN, "1718000000", "8899", encrypted)}
    body = f"<xml><ToUserName>gh_0123456789ab</ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>".encode()
    safe.verify(params, {}, body)
    assert safe.unwrap(params, body).decode() == plain
    with pytest.raises(ContractError) as raised:
        safe.verify(params | {"msg_signature": "0" * 40}, {}, body)
    assert (raised.value.field, raised.value.code) == ("msg_signature", "bad_signature")
    assert connector().unwrap({}, body) == body  # plaintext mode passes the body through
    with pytest.raises(ContractError) as raised:
        connector().verify(params, {}, body)  # encrypted push to a source without the key
    assert raised.value.code == "not_configured"


def test_safe_mode_needs_key_and_appid_together():
    assert not WeChatConnector.check({"token": TOKEN, "encoding_aes_key": AES_KEY}).ok
    assert not WeChatConnector.check({"token": TOKEN, "encoding_aes_key": "x" * 42 + "*", "app_id": "wx1"}).ok
