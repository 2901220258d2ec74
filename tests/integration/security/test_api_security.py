"""The HTTP API against the OWASP API Security Top 10, on a real uvicorn server, Kafka,
Redis and profile worker: broken authentication (API2), broken object-level (API1) and
function-level (API5) authorisation, mass assignment (API3/6), unrestricted resource
consumption (API4), and an audit record for every read of personal data.

Two workspaces, ``a`` (the server's own prefix) and ``b``, each hold a customer built from
real events by the real worker; keys of ``a`` must never reach ``b``'s customer.
"""

from __future__ import annotations

import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime

import httpx
import orjson
import pytest
from redis import Redis

from connectors.collector.write_keys import WriteKeyStore
from panorama.api import create_app
from panorama.security.audit_search import AuditQuery, search_audit
from panorama.security.keys import KeyStore
from panorama.settings import Settings
from panorama.stack.topics import ensure_topics
from streams.profiles.read import ProfileReader
from tests.integration.connectors.server import running_api
from tests.integration.kafka_reader import read_topic
from tests.integration.streams.population import wait_until_caught_up, worker_thread

pytestmark = pytest.mark.integration

ANA = {"userId": "u-ana", "anonymousId": "anon-ana", "traits": {"firstName": "Anabel", "lastName": "Vidal"}}
BO = {"userId": "u-bo", "anonymousId": "anon-bo", "traits": {"firstName": "Bo"}}


@pytest.fixture(scope="module")
def world(stack: Settings):
    """Server of workspace a; one customer in a (Ana) and one in b (Bo), keys by role."""
    a = stack.model_copy(update={"topic_prefix": f"a{uuid.uuid4().hex[:8]}"})
    b = a.model_copy(update={"topic_prefix": a.topic_prefix + "b"})
    with ExitStack() as stack_:
        for workspace, person in ((a, ANA), (b, BO)):
            ensure_topics(workspace)
            store = WriteKeyStore(workspace)
            write_key = store.create("webshop")
            store.close()
            with running_api(workspace) as url:
                posted = httpx.post(url + "/v1/identify", json=person, auth=(write_key, ""), timeout=30)
                assert posted.status_code == 200, posted.text
            with worker_thread(workspace):
                wait_until_caught_up(workspace)
        url = stack_.enter_context(running_api(a))
        store = KeyStore(a)
        keys = {role: store.create(f"{role}-1", role)[0] for role in ("admin", "marketing", "analyst", "support", "auditor")}
        keys["marketing+pii"] = store.create("marketing-2", "marketing", grants=("pii",))[0]
        keys["support@b"] = store.create("support-b", "support", workspace=b.topic_prefix)[0]
        keys["ingest"] = store.create("webshop-2", "ingest")[0]
        store.close()
        client = stack_.enter_context(httpx.Client(base_url=url, timeout=30))
        yield {"a": a, "b": b, "client": client, "keys": keys}


def call(world, method: str, path: str, key: str | None = None, **kwargs) -> httpx.Response:
    headers = kwargs.pop("headers", {}) | ({"Authorization": f"Bearer {world['keys'].get(key, key)}"} if key else {})
    return world["client"].request(method, path, headers=headers, **kwargs)


def customer_id(world, key: str, identity: str) -> str:
    answer = call(world, "GET", "/v1/profiles", key, params={"identity": identity})
    assert answer.status_code == 200, answer.text
    return answer.json()["customer_id"]


def audit_trail(world, query: AuditQuery, at_least: int, within: float = 10.0) -> list[dict]:
    """``search_audit`` once it finds ``at_least`` records: the API's records reach the topic
    through the Redis outbox, a moment after the answer."""
    deadline = time.monotonic() + within
    while len(found := search_audit(world["a"], query)) < at_least and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def every_route(world) -> list[tuple[str, str]]:
    spec = create_app(world["a"]).openapi()
    return [(method.upper(), path.replace("{connector}", "wechat").replace("{customer_id}", "user_id:x")
             .replace("{key_id}", "k_00"))
            for path, item in spec["paths"].items() if path != "/health" for method in item]


def test_no_key_is_refused_on_every_route(world):
    routes = every_route(world)
    assert len(routes) > 15
    for method, path in routes:
        answer = call(world, method, path, content=b'{"batch": []}' if method != "GET" else None)
        assert answer.status_code == 401, (method, path, answer.status_code, answer.text)
        assert answer.json()["error"]["code"] in {"missing_key", "missing_write_key"}


@pytest.mark.parametrize(("key", "problem"), [
    ("pk_support_not-a-real-key", "unknown_key"), ("ingest", "write_key_not_accepted")])
def test_unknown_and_write_keys_are_not_credentials_for_reading(world, key, problem):
    answer = call(world, "GET", "/v1/profiles", key, params={"identity": "user_id:u-ana"})
    assert answer.status_code == 401 and answer.json()["error"]["code"] == problem
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_and_rotated_keys_stop_working(world):
    store = KeyStore(world["a"])
    revoked, record = store.create("leaver", "support")
    store.revoke(record.key_id)
    old, other = store.create("rotating", "support")
    new, _ = store.rotate(other.key_id)
    store.close()
    assert call(world, "GET", "/v1/keys/me", revoked).json()["error"]["code"] == "revoked_key"
    assert call(world, "GET", "/v1/keys/me", old).json()["error"]["code"] == "unknown_key"
    assert call(world, "GET", "/v1/keys/me", new).json()["key_id"] == other.key_id


@pytest.mark.parametrize(("key", "method", "path"), [
    ("analyst", "GET", "/v1/profiles?identity=user_id:u-ana"),
    ("auditor", "GET", "/v1/profiles/user_id:x"),
    ("support", "GET", "/v1/keys"),
    ("marketing", "POST", "/v1/keys"),
    ("admin", "GET", "/v1/audit"),
    ("support", "GET", "/v1/audit"),
    ("marketing", "GET", "/metrics"),
])
def test_wrong_role_is_forbidden(world, key, method, path):
    answer = call(world, method, path, key, json={"name": "x", "role": "admin"} if method == "POST" else None)
    assert answer.status_code == 403, answer.text
    assert answer.json()["error"]["code"] == "wrong_role"


def test_forbidden_attempts_are_audited_with_the_route_template(world):
    analyst = call(world, "GET", "/v1/keys/me", "analyst").json()["key_id"]
    query = AuditQuery(actor=f"key:{analyst}", action="access.denied")
    seen = {record["audit_id"] for record in search_audit(world["a"], query)}
    assert call(world, "GET", "/v1/profiles/user_id:someone@example.com", "analyst").status_code == 403
    # earlier tests' denials may still be on their way through the outbox: look for this one
    template = "GET /v1/profiles/{customer_id}"
    deadline, new = time.monotonic() + 10, []
    while not any(r["details"].get("route") == template for r in new) and time.monotonic() < deadline:
        time.sleep(0.05)
        new = [r for r in search_audit(world["a"], query) if r["audit_id"] not in seen]
    assert [r["outcome"] for r in new if r["details"].get("route") == template] == ["denied"], \
        [r["details"].get("route") for r in new]


def test_another_workspaces_customer_is_not_found(world):
    bo = customer_id(world, "support@b", "user_id:u-bo")
    for key in ("support", "admin", "marketing+pii"):
        assert call(world, "GET", f"/v1/profiles/{bo}", key).status_code == 404
        assert call(world, "GET", f"/v1/profiles/{bo}/identity", key).status_code == 404
        assert call(world, "GET", "/v1/profiles", key, params={"identity": "user_id:u-bo"}).status_code == 404
    ana = customer_id(world, "support", "user_id:u-ana")
    assert call(world, "GET", f"/v1/profiles/{ana}", "support@b").status_code == 404


def test_marketing_sees_personal_fields_masked_unless_granted(world):
    ana = customer_id(world, "support", "user_id:u-ana")
    plain = call(world, "GET", f"/v1/profiles/{ana}", "support").json()
    masked = call(world, "GET", f"/v1/profiles/{ana}", "marketing").json()
    granted = call(world, "GET", f"/v1/profiles/{ana}", "marketing+pii").json()
    assert plain["identities"]["user_id"] == ["u-ana"] and plain["traits"]
    assert (granted["identities"], granted["traits"]) == (plain["identities"], plain["traits"])
    assert masked["identities"]["user_id"] == ["***"] and masked["traits"] == dict.fromkeys(plain["traits"], "***")
    assert "u-ana" not in str(masked) and "Vidal" not in str(masked)
    assert masked["events"] == plain["events"] and masked["customer_id"] == ana
    explained = call(world, "GET", f"/v1/profiles/{ana}/identity", "marketing").json()
    assert "user_id:***" in explained["identities"] and "ana" not in str(explained)


def test_every_read_is_audited_with_actor_purpose_and_outcome(world):
    started = datetime.now(UTC)
    ana = customer_id(world, "support", "anonymous_id:anon-ana")
    me = call(world, "GET", "/v1/keys/me", "support").json()
    assert call(world, "GET", f"/v1/profiles/{ana}", "support", headers={"X-Purpose": "ticket 4711"}).status_code == 200
    assert call(world, "GET", f"/v1/profiles/{ana}/identity", "support").status_code == 200
    assert call(world, "GET", "/v1/profiles", "support", params={"identity": "email:nobody@example.com"}).status_code == 404
    bad = call(world, "GET", f"/v1/profiles/{ana}", "support", headers={"X-Purpose": "asked by ana.lopez@example.com"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "X-Purpose"
    trail = audit_trail(world, AuditQuery(actor=f"key:{me['key_id']}", since=started, limit=10), 4)
    assert [(e["action"], e["outcome"]) for e in trail][-4:] == [
        ("profile.read", "ok"), ("profile.read", "ok"), ("profile.identity", "ok"), ("profile.read", "not_found")]
    assert trail[-3]["subject"] == ana and trail[-3]["reason"] == "ticket 4711" and trail[-3]["role"] == "support"
    assert trail[-1]["subject"].startswith("email:") and "nobody" not in str(trail)
    assert "u-ana" not in str(trail) and "anon-ana" not in str(trail)
    found = call(world, "GET", "/v1/audit", "auditor", params={"action": "profile.*", "subject": ana})
    assert found.status_code == 200 and len(found.json()) >= 3
    assert all(e["details"]["workspace"] == world["a"].topic_prefix for e in found.json())


def test_every_read_appears_once_on_the_audit_topic(world):
    ana = customer_id(world, "support", "user_id:u-ana")
    reason = f"ticket {uuid.uuid4().hex[:8]}"
    for _ in range(30):
        assert call(world, "GET", f"/v1/profiles/{ana}", "support", headers={"X-Purpose": reason}).status_code == 200
    deadline, copies = time.monotonic() + 10, []
    while len(copies) < 30 and time.monotonic() < deadline:
        records = (orjson.loads(m.value()) for m in read_topic(world["a"], world["a"].topics.audit))
        copies = [r for r in records if r["reason"] == reason]
    assert len(copies) == len({r["audit_id"] for r in copies}) == 30
    assert {(r["action"], r["subject"], r["outcome"]) for r in copies} == {("profile.read", ana, "ok")}


def test_the_audited_read_answers_what_the_plain_reader_reads(world):
    ana = customer_id(world, "support", "user_id:u-ana")
    redis = Redis.from_url(world["a"].redis_address)
    plain = ProfileReader(redis, world["a"]).read("user_id:u-ana")
    redis.close()
    audited = call(world, "GET", f"/v1/profiles/{ana}", "support").json()
    assert plain["lifecycle"].pop("as_of") <= audited["lifecycle"].pop("as_of")
    assert audited == plain and plain["traits"]  # partials' dedup memories left out, the profile whole


def test_a_read_redis_cannot_audit_answers_503_without_the_profile(world):
    ana = customer_id(world, "support", "user_id:u-ana")  # the key is cached from here on
    redis = Redis.from_url(world["a"].redis_address)
    redis.execute_command("CLIENT", "PAUSE", 2000, "WRITE")  # reads go on; the audit record cannot be written
    try:
        refused = call(world, "GET", f"/v1/profiles/{ana}", "support")
    finally:
        redis.execute_command("CLIENT", "UNPAUSE")
        redis.close()
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
    assert refused.json()["error"]["code"] == "profile_store_unavailable" and "Anabel" not in refused.text
    assert call(world, "GET", f"/v1/profiles/{ana}", "support").status_code == 200


def test_recent_events_when_the_reader_offers_them(world):
    ana = customer_id(world, "support", "user_id:u-ana")
    answer = call(world, "GET", f"/v1/profiles/{ana}/events", "support")
    assert answer.status_code == 200, answer.text
    assert [e["type"] for e in answer.json()["events"]] == ["identify"]
    assert call(world, "GET", f"/v1/profiles/{ana}/events", "analyst").status_code == 403


@pytest.mark.parametrize("body", [
    {"name": "sneaky", "role": "support", "workspace": "other"},
    {"name": "sneaky", "role": "support", "key_id": "k_1"},
    {"name": "sneaky", "role": "support", "revoked_at": None},
    {"name": "sneaky", "role": "ingest"},
    {"name": "sneaky", "role": "root"},
])
def test_mass_assignment_on_create_is_refused(world, body):
    answer = call(world, "POST", "/v1/keys", "admin", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] in {"workspace", "key_id", "revoked_at", "role"}


def test_created_keys_stay_in_the_admins_workspace_and_role_cannot_be_raised(world):
    created = call(world, "POST", "/v1/keys", "admin", json={"name": "new desk", "role": "support"})
    assert created.status_code == 201, created.text
    record = created.json()
    assert record["workspace"] == world["a"].topic_prefix and record["role"] == "support"
    raised = call(world, "PATCH", f"/v1/keys/{record['key_id']}", "admin", json={"role": "admin"})
    assert raised.status_code == 422 and raised.json()["error"]["field"] == "role"
    assert call(world, "GET", "/v1/keys/me", record["key"]).json()["role"] == "support"
    renamed = call(world, "PATCH", f"/v1/keys/{record['key_id']}", "admin", json={"name": "desk 2"})
    assert renamed.json()["name"] == "desk 2" and "key" not in renamed.json()
    b_key = KeyStore(world["a"]).create("b-admin", "admin", workspace=world["b"].topic_prefix)[1]
    assert call(world, "DELETE", f"/v1/keys/{b_key.key_id}", "admin").status_code == 404
    listed = call(world, "GET", "/v1/keys", "admin").json()
    assert all(k["workspace"] == world["a"].topic_prefix for k in listed) and all("key" not in k for k in listed)
    assert call(world, "DELETE", f"/v1/keys/{record['key_id']}", "admin").json()["revoked_at"]
    trail = search_audit(world["a"], AuditQuery(subject=record["key_id"]))
    assert [e["action"] for e in trail] == ["key.create", "key.update", "key.revoke"]


def test_oversize_bodies_are_refused(world):
    huge = b'{"name": "' + b"x" * 100_000 + b'", "role": "support"}'
    answer = call(world, "POST", "/v1/keys", "admin", content=huge, headers={"Content-Type": "application/json"})
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "body_too_large"


def test_floods_are_limited_per_key_and_key_guessing_per_address(world):
    store = KeyStore(world["a"])
    slow, _ = store.create("slow", "support", rate_limit=5)
    store.close()
    answers = [call(world, "GET", "/v1/keys/me", slow) for _ in range(20)]
    limited = [a for a in answers if a.status_code == 429]
    assert limited and answers[0].status_code == 200
    assert int(limited[0].headers["Retry-After"]) >= 1 and limited[0].json()["error"]["code"] == "rate_limited"
    guesses = [call(world, "GET", "/v1/keys/me", f"pk_admin_guess{n}").status_code for n in range(20)]
    assert 429 in guesses and guesses[0] == 401


def test_invalid_parameters_are_named_in_the_platforms_error_shape(world):
    answer = call(world, "GET", "/v1/audit", "auditor", params={"limit": 0})
    assert answer.status_code == 422
    assert answer.json()["error"] | {"problem": ""} == {"code": "invalid_field", "field": "limit", "problem": ""}


def test_the_fast_profile_read_answers_as_the_fastapi_routes_do(world):
    ana = customer_id(world, "marketing", "user_id:u-ana")
    for role in ("support", "marketing"):  # the fast path (by id) beside the FastAPI route (by identity)
        by_id = call(world, "GET", f"/v1/profiles/{ana}", role)
        by_identity = call(world, "GET", "/v1/profiles", role, params={"identity": "user_id:u-ana"})
        assert by_id.status_code == by_identity.status_code == 200
        assert by_id.headers["content-type"] == by_identity.headers["content-type"] == "application/json"
        fast, routed = by_id.json(), by_identity.json()
        assert fast["lifecycle"].pop("as_of") <= routed["lifecycle"].pop("as_of")  # read first, then
        assert fast == routed
    too_long = call(world, "GET", f"/v1/profiles/{ana}", "support", headers={"X-Purpose": "p" * 201})
    assert too_long.status_code == 422 and too_long.json()["error"]["field"] == "X-Purpose"
    assert call(world, "GET", "/v1/profiles/" + "c" * 201, "support").json()["error"]["field"] == "customer_id"
    basic = call(world, "GET", f"/v1/profiles/{ana}", headers={"Authorization": f"Basic {world['keys']['support']}"})
    assert basic.status_code == 401 and basic.headers["WWW-Authenticate"] == 'Bearer realm="panorama"'
