"""Provider webhooks through the real server: JSON arrays, form posts and signed XML."""

import hashlib
import hmac

import orjson
import pytest

from connectors.channels.calls import twilio_signature
from connectors.channels.msg_crypt import msg_signature
from connectors.channels.wechat import signature
from connectors.collector.write_keys import WriteKeyStore
from tests.integration.connectors.readback import dead_letters, interactions
from tests.unit.connectors.channels.test_email_and_forms import SENDGRID
from tests.unit.connectors.channels.test_msg_crypt import AES_KEY, CORP_ID, TOKEN, crypt, flip
from tests.unit.connectors.channels.test_service_channels import TWILIO
from tests.unit.connectors.channels.test_social import PAGE
from tests.unit.connectors.channels.test_wecom import ADD, ADD_XML, encrypted_push

pytestmark = pytest.mark.integration


def test_sendgrid_events_with_one_bad_item(collector, settings):
    r = collector.post("/v1/webhooks/sendgrid", json=SENDGRID + [{"event": "open", "timestamp": 1513299569}])
    assert r.status_code == 200, r.text
    assert [(i["index"], i["field"]) for i in r.json()["dead_lettered"]] == [(len(SENDGRID), "email")]
    assert len(interactions(settings)) == len(SENDGRID) and len(dead_letters(settings)) == 1


def test_twilio_form_post(collector, settings):
    r = collector.post("/v1/webhooks/twilio", data=TWILIO)
    assert r.status_code == 200, r.text
    [call] = interactions(settings)
    assert call["call"]["duration_seconds"] == 74


def test_wechat_url_check_and_signed_push(collector, settings):
    store = WriteKeyStore(settings)
    key = store.create("wechat-oa", connector_config={"wechat": {"token": "tok"}})
    store.close()
    signed = {"writeKey": key, "timestamp": "1718000000", "nonce": "42", "signature": signature("tok", "1718000000", "42")}
    check = collector.get("/v1/webhooks/wechat", params=signed | {"echostr": "hello"}, auth=None)
    assert (check.status_code, check.text) == (200, "hello")
    xml = ("<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[oUpF8u]]></FromUserName>"
           "<CreateTime>1718000000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[CLICK]]></Event>"
           "<EventKey><![CDATA[V1001]]></EventKey></xml>")
    pushed = collector.post("/v1/webhooks/wechat", params=signed, content=xml, auth=None)
    assert pushed.status_code == 200, pushed.text
    forged = collector.post("/v1/webhooks/wechat", params=signed | {"nonce": "43"}, content=xml, auth=None)
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "bad_signature"
    entity = collector.post("/v1/webhooks/wechat", params=signed, content='<!DOCTYPE x [<!ENTITY a "b">]><xml/>', auth=None)
    assert entity.status_code == 400
    [event] = interactions(settings)
    assert event["name"] == "WeChat Menu Clicked"


def test_unknown_or_unconfigured_connector(collector):
    assert collector.post("/v1/webhooks/nope", json={}).status_code == 404
    assert collector.post("/v1/webhooks/customers", json={}).status_code == 404
    unconfigured = collector.post("/v1/webhooks/wechat", content="<xml/>")
    assert unconfigured.status_code == 403 and unconfigured.json()["error"]["field"] == "token"


def test_wecom_encrypted_url_check_and_callback(collector, settings):
    store = WriteKeyStore(settings)
    key = store.create("wecom-crm", connector_config={"wecom": {"token": TOKEN, "encoding_aes_key": AES_KEY, "corp_id": CORP_ID}})
    store.close()
    echostr = crypt().encrypt("1616140317555161061")
    check = {"writeKey": key, "timestamp": "1409659589", "nonce": "263014780", "echostr": echostr,
             "msg_signature": msg_signature(TOKEN, "1409659589", "263014780", echostr)}
    answer = collector.get("/v1/webhooks/wecom", params=check, auth=None)
    assert (answer.status_code, answer.text) == (200, "1616140317555161061")
    params, body = encrypted_push(ADD_XML)
    pushed = collector.post("/v1/webhooks/wecom", params=params | {"writeKey": key}, content=body, auth=None)
    assert pushed.status_code == 200, pushed.text
    forged = collector.post("/v1/webhooks/wecom", params=params | {"writeKey": key, "nonce": "1"}, content=body, auth=None)
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "bad_signature"
    # a ciphertext altered by someone holding the token: signed, but it does not open
    encrypted = body.decode().split("CDATA[")[2].split("]]")[0]
    tampered = flip(encrypted, -17)
    resigned = params | {"writeKey": key, "msg_signature": msg_signature(TOKEN, params["timestamp"], params["nonce"], tampered)}
    refused = collector.post("/v1/webhooks/wecom", params=resigned, content=body.replace(encrypted.encode(), tampered.encode()),
                             auth=None)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "bad_ciphertext"
    [event] = interactions(settings)
    assert event["social"]["interaction"] == "follow"
    assert event["identities"]["external_ids"] == {"wecom_external_userid": ADD["ExternalUserID"]}


def test_twilio_signature_checked_on_the_request_url(collector, settings):
    store = WriteKeyStore(settings)
    key = store.create("call-center", connector_config={"twilio": {"auth_token": "twilio-token"}})
    store.close()
    url = str(collector.base_url.join(f"/v1/webhooks/twilio?writeKey={key}"))
    good = twilio_signature("twilio-token", url, list(TWILIO.items()))
    signed = collector.post(url, data=TWILIO, headers={"X-Twilio-Signature": good}, auth=None)
    assert signed.status_code == 200, signed.text
    for headers in ({}, {"X-Twilio-Signature": good[:-2] + "x="}):
        refused = collector.post(url, data=TWILIO | {"CallDuration": "75"}, headers=headers, auth=None)
        assert refused.status_code == 401 and refused.json()["error"]["field"] == "X-Twilio-Signature"
    [call] = interactions(settings)
    assert call["call"]["duration_seconds"] == 74


def test_meta_handshake_signature_and_malformed_body(collector, settings):
    store = WriteKeyStore(settings)
    key = store.create("meta-page", connector_config={"meta": {"verify_token": "vt", "app_secret": "s3cret"}})
    store.close()
    check = {"writeKey": key, "hub.mode": "subscribe", "hub.verify_token": "vt", "hub.challenge": "1158201444"}
    answer = collector.get("/v1/webhooks/meta", params=check, auth=None)
    assert (answer.status_code, answer.text) == (200, "1158201444")
    assert collector.get("/v1/webhooks/meta", params=check | {"hub.verify_token": "x"}, auth=None).status_code == 401
    body = orjson.dumps(PAGE)
    signed = {"X-Hub-Signature-256": "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest(),
              "Content-Type": "application/json"}
    posted = collector.post("/v1/webhooks/meta", params={"writeKey": key}, content=body, headers=signed, auth=None)
    assert posted.status_code == 200, posted.text
    unsigned = collector.post("/v1/webhooks/meta", params={"writeKey": key}, content=body, auth=None)
    assert unsigned.status_code == 401 and unsigned.json()["error"]["field"] == "X-Hub-Signature-256"
    array = b"[1, 2]"
    wrong_shape = collector.post("/v1/webhooks/meta", params={"writeKey": key}, content=array, auth=None, headers={
        "X-Hub-Signature-256": "sha256=" + hmac.new(b"s3cret", array, hashlib.sha256).hexdigest()})
    assert wrong_shape.status_code == 400 and wrong_shape.json()["error"]["field"] == "object"
    assert sorted(e["social"]["interaction"] for e in interactions(settings)) == [
        "comment", "direct_message", "follow", "mention"]
