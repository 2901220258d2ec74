"""The Segment-compatible API through a real HTTP server into the real Kafka."""

import gzip

import orjson
import pytest

from connectors.collector.write_keys import WriteKeyStore
from tests.integration.connectors.readback import dead_letters, interactions

pytestmark = pytest.mark.integration


def test_every_segment_call_lands_in_kafka(collector, settings):
    calls = {
        "identify": {"userId": "u-1", "traits": {"email": "Ana@Example.com", "firstName": "Ana"}},
        "track": {"userId": "u-1", "event": "Signed Up", "properties": {"plan": "pro"}},
        "page": {"anonymousId": "a-1", "name": "Home", "properties": {"url": "https://x.io/", "path": "/"}},
        "screen": {"userId": "u-1", "name": "Checkout"},
        "group": {"userId": "u-1", "groupId": "acct-1", "traits": {"name": "Initech"}},
        "alias": {"userId": "u-1", "previousId": "a-1"},
    }
    for kind, body in calls.items():
        r = collector.post(f"/v1/{kind}", json=body)
        assert (r.status_code, r.json()) == (200, {"success": True}), (kind, r.text)
    events = interactions(settings)
    assert sorted(e["type"] for e in events) == sorted(calls)
    identify = next(e for e in events if e["type"] == "identify")
    assert identify["identities"]["email"] == "ana@example.com" and identify["source"] == {"channel": "web", "connector": "segment"}


def test_batch_with_bad_items_accepts_the_rest_and_dead_letters_the_bad(collector, settings):
    batch = [
        {"type": "track", "userId": "u-1", "event": "Viewed", "messageId": "m-1"},
        {"type": "track", "event": "No Identity"},
        {"type": "track", "userId": "u-2", "event": "Late", "timestamp": "2999-01-01T00:00:00Z"},
        "not an object",
        {"type": "identify", "anonymousId": "a-9", "traits": {"email": "b@example.com"}},
    ]
    body = gzip.compress(orjson.dumps({"batch": batch, "context": {"ip": "1.2.3.4"}}))
    r = collector.post("/v1/batch", content=body, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    listed = {item["index"]: item for item in r.json()["dead_lettered"]}
    assert set(listed) == {1, 2, 3}
    assert listed[1]["code"] == "missing_identity" and listed[2]["field"] == "occurred_at"
    events = interactions(settings)
    assert {e["type"] for e in events} == {"track", "identify"} and len(events) == 2
    assert all(e["context"]["ip"] == "1.2.3.4" for e in events)
    dlq = dead_letters(settings)
    assert sorted(d["reason"] for d in dlq) == ["invalid_timestamp", "malformed", "missing_identity"]
    assert all(d["source"] == "webshop" and d["problem"] for d in dlq)


@pytest.mark.parametrize("path, body, status, code", [
    ("/v1/track", b'{"userId": ', 400, "invalid_json"),
    ("/v1/track", b"[1, 2]", 400, "malformed"),
    ("/v1/track", orjson.dumps({"event": "x"}), 400, "missing_identity"),
    ("/v1/track", orjson.dumps({"userId": "u", "event": "x", "properties": {"blob": "x" * 33_000}}), 400, "body_too_large"),
    ("/v1/batch", orjson.dumps({"batch": [{"type": "track", "userId": "u", "event": "x"}] * 2501}), 400, "batch_too_large"),
    ("/v1/batch", orjson.dumps({"batch": [{"type": "track", "userId": "u", "event": "x" * 30_000}] * 18}), 400, "body_too_large"),
    ("/v1/batch", orjson.dumps({"batch": {"type": "track"}}), 400, "malformed"),
])
def test_bad_requests_get_a_4xx_naming_the_problem(collector, settings, path, body, status, code):
    r = collector.post(path, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == status and r.json()["error"]["code"] == code, r.text
    assert r.json()["success"] is False and r.json()["error"]["problem"]


def test_gzip_bomb_is_refused(collector):
    bomb = gzip.compress(b" " * 20_000_000)
    r = collector.post("/v1/batch", content=bomb, headers={"Content-Encoding": "gzip"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "body_too_large"


def test_write_key_by_basic_auth_or_body_field(collector, write_key):
    anonymous = collector.post("/v1/track", json={"userId": "u", "event": "x"}, auth=None)
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith("Basic")
    wrong = collector.post("/v1/track", json={"userId": "u", "event": "x"}, auth=("pk_ingest_wrong", ""))
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_write_key"
    in_body = collector.post("/v1/batch", json={"writeKey": write_key, "batch": [{"type": "track", "userId": "u", "event": "x"}]}, auth=None)
    assert in_body.status_code == 200


def test_rate_limit_answers_429_with_retry_after(collector, settings):
    store = WriteKeyStore(settings)
    slow_key = store.create("slow-source", rate_limit=50)
    store.close()
    batch = {"batch": [{"type": "track", "userId": "u", "event": "x"}] * 40}
    assert collector.post("/v1/batch", json=batch, auth=(slow_key, "")).status_code == 200
    r = collector.post("/v1/batch", json=batch, auth=(slow_key, ""))
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert r.json()["error"]["code"] == "rate_limited"
