"""WeCom external-contact callbacks, payloads as in the "客户联系 · 变更回调" documentation."""

import pytest

from connectors.channels.wecom import WeComExternalContactConnector
from panorama.errors import ConnectorConfigError, ContractError
from tests.unit.connectors.channels.test_msg_crypt import AES_KEY, CORP_ID, TOKEN, crypt
from connectors.channels.msg_crypt import msg_signature
from tests.unit.connectors.helpers import RECEIVED_AT, valid

ADD = {"ToUserName": CORP_ID, "FromUserName": "sys", "CreateTime": "1403610513", "MsgType": "event",
       "Event": "change_external_contact", "ChangeType": "add_external_contact", "UserID": "zhangsan",
       "ExternalUserID": "woAJ2GCAAAXtWyujaWJHDDGi0mACAAAA", "State": "teststate", "WelcomeCode": "WELCOMECODE"}
ADD_XML = "<xml>" + "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in ADD.items()) + "</xml>"


def connector() -> WeComExternalContactConnector:
    return WeComExternalContactConnector({"token": TOKEN, "encoding_aes_key": AES_KEY, "corp_id": CORP_ID})


def encrypted_push(xml: str, nonce: str = "1372623149") -> tuple[dict[str, str], bytes]:
    """The query and body WeCom posts for ``xml``."""
    encrypted = crypt().encrypt(xml)
    params = {"msg_signature": msg_signature(TOKEN, "1409659813", nonce, encrypted), "timestamp": "1409659813", "nonce": nonce}
    return params, f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><AgentID>218</AgentID><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>".encode()


def test_encrypted_push_verifies_and_opens():
    params, body = encrypted_push(ADD_XML)
    connector().verify(params, {}, body)
    assert connector().unwrap(params, body).decode() == ADD_XML


def test_url_check_answers_the_decrypted_echostr():
    echostr = crypt().encrypt("1616140317555161061")
    params = {"msg_signature": msg_signature(TOKEN, "1409659589", "263014780", echostr), "timestamp": "1409659589",
              "nonce": "263014780", "echostr": echostr}
    connector().verify(params, {}, b"")
    assert connector().handshake(params) == "1616140317555161061"
    with pytest.raises(ContractError) as raised:
        connector().verify(params | {"timestamp": "1409659590"}, {}, b"")
    assert raised.value.code == "bad_signature"


def test_add_contact_is_a_follow_without_the_welcome_code():
    [event] = valid(connector().to_events(ADD, RECEIVED_AT))
    assert event["type"] == "social_interaction" and event["social"] == {
        "platform": "wecom", "interaction": "follow", "post_id": None, "handle": None, "text": None, "sentiment": None}
    assert event["identities"]["external_ids"] == {"wecom_external_userid": "woAJ2GCAAAXtWyujaWJHDDGi0mACAAAA"}
    assert '"employee_id":"zhangsan"' in event["properties"] and "WELCOMECODE" not in event["properties"]
    assert event["occurred_at"] == 1_403_610_513_000_000


@pytest.mark.parametrize("change, extra, name", [
    ("add_half_external_contact", {"State": "poster"}, "WeCom Contact Added Pending"),
    ("edit_external_contact", {}, "WeCom Contact Edited"),
    ("del_external_contact", {"Source": "DELETE_BY_TRANSFER"}, "WeCom Contact Removed by Employee"),
    ("del_follow_user", {}, "WeCom Employee Removed by Contact"),
    ("transfer_fail", {"FailReason": "customer_refused"}, "WeCom Contact Transfer Failed"),
])
def test_other_changes_are_named_tracks(change, extra, name):
    push = {k: v for k, v in ADD.items() if k not in ("State", "WelcomeCode")} | {"ChangeType": change} | extra
    [event] = valid(connector().to_events(push, RECEIVED_AT))
    assert (event["type"], event["name"]) == ("track", name)
    for value in extra.values():
        assert value in event["properties"]


def test_retry_keeps_the_id_and_changes_differ():
    first = connector().to_events(ADD, RECEIVED_AT)[0]["event_id"]
    assert connector().to_events(ADD, RECEIVED_AT + 5)[0]["event_id"] == first
    assert connector().to_events(ADD | {"ChangeType": "edit_external_contact"}, RECEIVED_AT)[0]["event_id"] != first


@pytest.mark.parametrize("push, field", [
    (ADD | {"Event": "change_external_chat", "ChatId": "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA"}, "Event"),
    (ADD | {"ChangeType": "add_contact_way"}, "ChangeType"),
    ({k: v for k, v in ADD.items() if k != "ExternalUserID"}, "ExternalUserID"),
])
def test_unmappable_callbacks_are_named(push, field):
    with pytest.raises(ContractError) as raised:
        connector().to_events(push, RECEIVED_AT)
    assert raised.value.field == field


@pytest.mark.parametrize("config, field", [
    ({"token": TOKEN, "encoding_aes_key": "too-short", "corp_id": CORP_ID}, "encoding_aes_key"),
    ({"token": TOKEN, "encoding_aes_key": AES_KEY}, "corp_id"),
])
def test_bad_settings_are_named(config, field):
    assert not WeComExternalContactConnector.check(config).ok
    with pytest.raises(ConnectorConfigError) as raised:
        WeComExternalContactConnector(config)
    assert raised.value.field == field
