"""Support, calls, surveys, pipeline, loyalty and consent, from the providers' documented payloads."""

import base64
import hashlib
import hmac

import orjson
import pytest

from connectors.channels.calls import TwilioCallConnector
from connectors.channels.consent import ConsentConnector
from connectors.channels.loyalty import LoyaltyConnector
from connectors.channels.pipeline import HubSpotPipelineConnector
from connectors.channels.support import ZendeskTicketConnector
from connectors.channels.surveys import TypeformConnector
from panorama.errors import ContractError
from tests.unit.connectors.helpers import RECEIVED_AT, by_type, valid

ZENDESK = {"ticket": {"id": 35436, "status": "new", "priority": "high", "type": "incident", "subject": "Help, my printer is on fire!",
                      "requester_id": 20978392, "assignee_id": 235323, "created_at": "2009-07-20T22:55:29Z",
                      "updated_at": "2011-05-05T10:38:52Z", "requester": {"id": 20978392, "email": "Cust@Example.com"}}}


def test_zendesk_ticket_lifecycle_and_csat():
    opened = valid(ZendeskTicketConnector().to_events(ZENDESK, RECEIVED_AT))
    assert [e["type"] for e in opened] == ["ticket_opened"]
    assert opened[0]["ticket"]["category"] == "incident" and opened[0]["identities"]["email"] == "cust@example.com"
    solved = {"ticket": ZENDESK["ticket"] | {"status": "solved", "satisfaction_rating": {"id": 5, "score": "good", "comment": "Fast"}}}
    events = by_type(valid(ZendeskTicketConnector().to_events(solved, RECEIVED_AT)))
    assert set(events) == {"ticket_resolved", "survey_answered"}
    assert events["survey_answered"]["survey"] | {} == {"survey_id": "zendesk-csat:35436", "kind": "csat", "score": 1,
                                                        "max_score": 1, "comment": "Fast"}


TWILIO = {"CallSid": "CA1234567890ABCDE", "AccountSid": "AC123", "From": "+14158675310", "To": "+14155551212",
          "Direction": "inbound", "CallStatus": "completed", "CallDuration": "74", "Timestamp": "Mon, 10 Jun 2024 06:13:20 +0000"}


def test_twilio_final_status_is_a_call_log():
    [call] = valid(TwilioCallConnector().to_events(TWILIO, RECEIVED_AT))
    assert call["call"]["direction"] == "inbound" and call["call"]["duration_seconds"] == 74
    assert call["identities"]["phone"] == "+14158675310" and call["occurred_at"] == 1_718_000_000_000_000
    [outbound] = TwilioCallConnector().to_events(TWILIO | {"Direction": "outbound-api", "CallStatus": "no-answer"}, RECEIVED_AT)
    assert outbound["identities"]["phone"] == "+14155551212" and outbound["call"]["outcome"] == "no-answer"
    assert TwilioCallConnector().to_events(TWILIO | {"CallStatus": "ringing"}, RECEIVED_AT) == []


TYPEFORM = {"event_id": "01GR3NDT3Q", "event_type": "form_response", "form_response": {
    "form_id": "lT4Z3j", "token": "a3a12ec67a1365927098a606107fac15", "submitted_at": "2024-06-10T06:13:20Z",
    "hidden": {"user_id": "u-42"},
    "definition": {"fields": [{"id": "nps1", "type": "nps"}, {"id": "c1", "type": "long_text"}]},
    "answers": [{"type": "number", "number": 9, "field": {"id": "nps1", "type": "nps"}},
                {"type": "text", "text": "Great support", "field": {"id": "c1", "type": "long_text"}}]}}


def test_typeform_nps_with_comment():
    [event] = valid(TypeformConnector().to_events(TYPEFORM, RECEIVED_AT))
    assert event["survey"] | {} == {"survey_id": "lT4Z3j", "kind": "nps", "score": 9, "max_score": 10, "comment": "Great support"}


def test_typeform_rating_scale_comes_from_the_definition():
    form = orjson.loads(orjson.dumps(TYPEFORM))
    form["form_response"]["definition"]["fields"][0] = {"id": "nps1", "type": "rating", "properties": {"steps": 7}}
    form["form_response"]["answers"][0]["field"]["type"] = "rating"
    form["form_response"]["answers"][0]["number"] = 6
    [event] = valid(TypeformConnector().to_events(form, RECEIVED_AT))
    assert (event["survey"]["kind"], event["survey"]["max_score"]) == ("csat", 7)


def test_typeform_signature():
    body = orjson.dumps(TYPEFORM)
    connector = TypeformConnector({"secret": "s3cret"})
    good = "sha256=" + base64.b64encode(hmac.new(b"s3cret", body, hashlib.sha256).digest()).decode()
    connector.verify({}, {"typeform-signature": good}, body)
    with pytest.raises(ContractError) as raised:
        connector.verify({}, {"typeform-signature": good}, body + b" ")
    assert raised.value.code == "bad_signature"


HUBSPOT = [
    {"eventId": 1, "subscriptionId": 4, "portalId": 62515, "occurredAt": 1718000000000, "subscriptionType": "contact.creation",
     "attemptNumber": 0, "objectId": 123, "changeSource": "CRM"},
    {"eventId": 2, "subscriptionId": 5, "portalId": 62515, "occurredAt": 1718000000000, "subscriptionType": "deal.propertyChange",
     "attemptNumber": 0, "objectId": 987, "propertyName": "dealstage", "propertyValue": "closedwon", "changeSource": "CRM"},
    {"eventId": 3, "subscriptionId": 5, "portalId": 62515, "occurredAt": 1718000000000, "subscriptionType": "deal.propertyChange",
     "attemptNumber": 0, "objectId": 987, "propertyName": "amount", "propertyValue": "100"},
]


def test_hubspot_pipeline():
    connector = HubSpotPipelineConnector()
    events = [e for unit in connector.split(HUBSPOT) for e in valid(connector.to_events(unit, RECEIVED_AT))]
    assert [(e["type"], e["pipeline"]["stage"], e["pipeline"]["outcome"]) for e in events] == [
        ("lead_stage_changed", "new", None), ("opportunity_stage_changed", "closedwon", "won")]
    assert events[1]["identities"]["external_ids"] == {"hubspot_deal_id": "987"}


LOYALTY = {"transaction_id": "lt-9", "program_id": "stars", "member_id": "m-77", "email": "ana@example.com", "kind": "redeem",
           "points": 120, "balance_after": 560, "reason": "voucher", "occurred_at": "2024-06-10T08:00:00Z"}


def test_loyalty_and_consent():
    [points] = valid(LoyaltyConnector().to_events(LOYALTY, RECEIVED_AT))
    assert points["type"] == "loyalty_points_redeemed" and points["loyalty"]["balance_after"] == 560
    consent = {"id": "c-31", "email": "ana@example.com", "purpose": "marketing", "channel": "email", "granted": False,
               "method": "preference_centre", "policy_version": "2024-05", "occurred_at": "2024-06-10T08:00:00Z"}
    [change] = valid(ConsentConnector().to_events(consent, RECEIVED_AT))
    assert change["consent"] == {"marketing:email": False} and change["consent_change"]["granted"] is False


@pytest.mark.parametrize("connector, payload, field", [
    (LoyaltyConnector(), LOYALTY | {"points": -5}, "points"),
    (LoyaltyConnector(), LOYALTY | {"kind": "gift"}, "kind"),
    (ConsentConnector(), {"id": "c", "email": "a@b.c", "purpose": "spam", "granted": True}, "purpose"),
    (ZendeskTicketConnector(), {"ticket": {"status": "new"}}, "ticket.id"),
    (TwilioCallConnector(), TWILIO | {"CallDuration": "long"}, "CallDuration"),
    (TypeformConnector(), {"form_response": {"token": "t", "hidden": {}, "answers": []}}, "form_response.hidden"),
])
def test_bad_payloads_name_the_field(connector, payload, field):
    with pytest.raises(ContractError) as raised:
        connector.to_events(payload, RECEIVED_AT)
    assert raised.value.field == field
