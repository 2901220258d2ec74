"""Provider webhooks through the real server: JSON arrays, form posts and signed XML."""

import pytest

from connectors.channels.wechat import signature
from connectors.collector.write_keys import WriteKeyStore
from tests.integration.connectors.readback import dead_letters, interactions
from tests.unit.connectors.channels.test_email_and_forms import SENDGRID
from tests.unit.connectors.channels.test_service_channels import TWILIO

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
