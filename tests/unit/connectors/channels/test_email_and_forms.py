import orjson
import pytest

from connectors.channels.email_engagement import SendGridConnector
from connectors.channels.forms import FormConnector
from panorama.errors import ContractError
from tests.unit.connectors.helpers import RECEIVED_AT, by_type, valid

# Shapes from SendGrid's Event Webhook reference.
SENDGRID = [
    {"email": "example@test.com", "timestamp": 1513299569, "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
     "event": "processed", "category": "cat facts", "sg_event_id": "rbtnWrG1DVDGGGFHFyun0A==",
     "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.000000000", "campaign_id": "summer"},
    {"email": "example@test.com", "timestamp": 1513299570, "event": "delivered", "response": "250 OK",
     "sg_event_id": "d-1", "sg_message_id": "14c5d75ce93"},
    {"email": "example@test.com", "timestamp": 1513299571, "event": "open", "useragent": "Mozilla/4.0", "ip": "255.255.255.255",
     "sg_event_id": "o-1", "sg_message_id": "14c5d75ce93"},
    {"email": "example@test.com", "timestamp": 1513299572, "event": "click", "url": "http://www.sendgrid.com/",
     "sg_event_id": "c-1", "sg_message_id": "14c5d75ce93"},
    {"email": "example@test.com", "timestamp": 1513299573, "event": "bounce", "type": "bounce", "status": "5.0.0",
     "reason": "500 unknown recipient", "sg_event_id": "b-1", "sg_message_id": "14c5d75ce93"},
    {"email": "example@test.com", "timestamp": 1513299574, "event": "spamreport", "sg_event_id": "s-1", "sg_message_id": "14c5d75ce93"},
    {"email": "example@test.com", "timestamp": 1513299575, "event": "group_unsubscribe", "asm_group_id": 10,
     "sg_event_id": "u-1", "sg_message_id": "14c5d75ce93"},
]


def sendgrid_events():
    connector = SendGridConnector()
    return [e for unit in connector.split(SENDGRID) for e in valid(connector.to_events(unit, RECEIVED_AT))]


def test_sendgrid_covers_the_seven_engagement_kinds():
    events = by_type(sendgrid_events())
    assert set(events) == {"email_sent", "Email Delivered", "email_opened", "email_clicked", "email_bounced",
                           "Email Complained", "email_unsubscribed"}
    assert events["email_sent"]["email"]["campaign_id"] == "summer"
    assert events["email_clicked"]["email"]["link_url"] == "http://www.sendgrid.com/"
    assert events["email_bounced"]["email"]["bounce_type"] == "hard"
    assert events["email_opened"]["context"]["user_agent"] == "Mozilla/4.0"
    assert events["email_unsubscribed"]["email"]["list_id"] == "10"
    assert orjson.loads(events["Email Delivered"]["properties"])["message_id"] == "14c5d75ce93"
    assert events["email_sent"]["occurred_at"] == 1513299569_000_000


def test_sendgrid_redelivery_keeps_ids_and_deferred_is_no_event():
    assert [e["event_id"] for e in sendgrid_events()] == [e["event_id"] for e in sendgrid_events()]
    assert SendGridConnector().to_events({"event": "deferred", "email": "a@b.c", "timestamp": 1}, RECEIVED_AT) == []


@pytest.mark.parametrize("event, field", [({"event": "open", "timestamp": 1513299569}, "email"),
                                          ({"event": "teleported", "email": "a@b.c"}, "event")])
def test_sendgrid_bad_events_name_the_field(event, field):
    with pytest.raises(ContractError) as raised:
        SendGridConnector().to_events(event, RECEIVED_AT)
    assert raised.value.field == field


FORM = {"form_id": "newsletter-footer", "submission_id": "s-81", "submitted_at": "2024-06-10T08:00:00+02:00",
        "page_url": "https://shop.example.com/", "anonymous_id": "a-12",
        "fields": {"email": " Ana@Example.com", "phone": "06 12 34 56 78", "first_name": "Ana", "size": "M"},
        "consent": {"marketing": True}}


def test_form_gives_identify_submission_and_consent():
    events = by_type(valid(FormConnector({"default_phone_region": "FR"}).to_events(FORM, RECEIVED_AT)))
    assert set(events) == {"identify", "Form Submitted", "consent_changed"}
    assert events["identify"]["identities"]["phone"] == "+33612345678"
    assert events["identify"]["traits"]["first_name"] == "Ana"
    assert orjson.loads(events["Form Submitted"]["properties"]) == {"form_id": "newsletter-footer", "size": "M"}
    assert events["consent_changed"]["consent_change"]["granted"] is True
    assert events["consent_changed"]["context"]["page_url"] == "https://shop.example.com/"


def test_form_without_identity_or_id_is_refused():
    with pytest.raises(ContractError) as raised:
        FormConnector().to_events({"submission_id": "s", "fields": {"size": "M"}}, RECEIVED_AT)
    assert raised.value.code == "missing_identity"
    with pytest.raises(ContractError) as raised:
        FormConnector().to_events({"fields": {"email": "a@b.c"}}, RECEIVED_AT)
    assert raised.value.field == "submission_id"
