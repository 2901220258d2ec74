"""Meta webhooks (Pages feed and mention, Messenger, Instagram comments and messaging),
payloads as in Meta's webhook reference examples."""

import hashlib
import hmac

import orjson
import pytest

from connectors.channels.social import MetaSocialConnector
from panorama.errors import ContractError
from tests.unit.connectors.helpers import RECEIVED_AT, valid

PAGE = {"object": "page", "entry": [{"id": "1142469655832956", "time": 1478440417, "changes": [
    {"field": "feed", "value": {"from": {"id": "1186329501459477", "name": "Ana Example"}, "item": "comment",
                                "post_id": "1142469655832956_1164870100259578", "comment_id": "1164870100259578_1164926523587269",
                                "verb": "add", "created_time": 1478440417, "message": "Love the new collection"}},
    {"field": "feed", "value": {"item": "like", "verb": "add", "user_id": 1186329501459477}},
    {"field": "feed", "value": {"item": "reaction", "verb": "add", "reaction_type": "love", "post_id": "1142469655832956_1",
                                "from": {"id": "1186329501459477"}, "created_time": 1478440417}},
    {"field": "mention", "value": {"post_id": "44444444_444444444", "sender_name": "Ana Example", "sender_id": "44444444",
                                   "item": "post", "verb": "add"}},
], "messaging": [
    {"sender": {"id": "2712344455667788"}, "recipient": {"id": "1142469655832956"}, "timestamp": 1478440418000,
     "message": {"mid": "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P",
                 "text": "Is the store open on Sunday?"}},
    {"sender": {"id": "1142469655832956"}, "recipient": {"id": "2712344455667788"}, "timestamp": 1478440419000,
     "message": {"mid": "m_echo", "text": "Yes, 10-18", "is_echo": True}},
]}]}
INSTAGRAM = {"object": "instagram", "entry": [{"id": "17841405822304914", "time": 1520383571, "changes": [
    {"field": "comments", "value": {"from": {"id": "232323232", "username": "test"}, "media": {"id": "123123123",
                                    "media_product_type": "FEED"}, "id": "17865799348089039", "text": "This is an example."}},
    {"field": "mentions", "value": {"media_id": "17918195224117851", "comment_id": "17894227972186120"}},
]}]}


def connector(**config) -> MetaSocialConnector:
    return MetaSocialConnector({"verify_token": "meta-verify"} | config)


def mapped(body: dict) -> list[dict]:
    return valid([e for unit in connector().split(body) for e in connector().to_events(unit, RECEIVED_AT)])


def test_page_comment_like_mention_and_message():
    events = mapped(PAGE)
    assert [e["social"]["interaction"] for e in events] == ["comment", "follow", "mention", "direct_message"]
    comment, follow, mention, message = events
    assert comment["social"]["text"] == "Love the new collection" and comment["social"]["platform"] == "facebook"
    assert comment["identities"]["external_ids"] == {"facebook_user_id": "1186329501459477"}
    assert follow["identities"]["external_ids"] == {"facebook_user_id": "1186329501459477"}
    assert mention["social"]["post_id"] == "44444444_444444444"
    assert message["identities"]["external_ids"] == {"facebook_psid": "2712344455667788"}
    assert message["occurred_at"] == 1_478_440_418_000_000


def test_instagram_comment_and_unkeyable_mention():
    [comment] = mapped(INSTAGRAM)
    assert comment["social"] | {} == {"platform": "instagram", "interaction": "comment", "post_id": "123123123",
                                      "handle": "test", "text": "This is an example.", "sentiment": None}
    assert comment["identities"]["external_ids"] == {"instagram_user_id": "232323232"}


def test_retry_keeps_ids():
    assert [e["event_id"] for e in mapped(PAGE)] == [e["event_id"] for e in mapped(PAGE)]
    assert len({e["event_id"] for e in mapped(PAGE)}) == 4


def test_url_check_needs_the_verify_token():
    params = {"hub.mode": "subscribe", "hub.verify_token": "meta-verify", "hub.challenge": "1158201444"}
    assert connector().handshake(params) == "1158201444"
    with pytest.raises(ContractError) as raised:
        connector().handshake(params | {"hub.verify_token": "guess"})
    assert raised.value.code == "bad_signature"


def test_body_signature_with_app_secret():
    body = orjson.dumps(PAGE)
    good = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    connector(app_secret="s3cret").verify({}, {"x-hub-signature-256": good}, body)
    for headers in ({}, {"x-hub-signature-256": good[:-1] + "0"}):
        with pytest.raises(ContractError) as raised:
            connector(app_secret="s3cret").verify({}, headers, body)
        assert raised.value.field == "X-Hub-Signature-256"


@pytest.mark.parametrize("body, field", [
    ({"object": "user", "entry": []}, "object"),
    ({"object": "page", "entry": ["x"]}, "entry"),
    ({"object": "page", "entry": [{"id": "1", "time": 1, "changes": [{"field": "feed", "value": {
        "item": "comment", "verb": "add", "comment_id": "c1"}}]}]}, "from.id"),
    ({"object": "page", "entry": [{"id": "1", "time": 1, "changes": [{"field": "feed"}]}]}, "changes"),
    ({"object": "page", "entry": [{"id": "1", "time": 1, "changes": 5}]}, "entry.changes"),
    ({"object": "instagram", "entry": [{"id": "1", "time": 1, "messaging": {"sender": {}}}]}, "entry.messaging"),
])
def test_malformed_bodies_are_named(body, field):
    with pytest.raises(ContractError) as raised:
        [connector().to_events(unit, RECEIVED_AT) for unit in connector().split(body)]
    assert raised.value.field == field
