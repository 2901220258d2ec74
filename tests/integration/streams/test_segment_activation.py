"""Acting on segments on the real stack: `cdp segments` (a bad rule named, activation with
consent, audited), forgotten customers never activated and gone from membership, and the
/v1/segments API with its roles and audit records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import orjson
import pytest
from redis import Redis

from panorama.clock import now_us
from panorama.privacy.consent import consent_allows
from panorama.privacy.keystore import KeyStore
from panorama.privacy.redis_state import erase_customer
from panorama.security.audit_search import AuditQuery, parse_since, search_audit
from panorama.security.keys import KeyStore as ApiKeyStore
from panorama.settings import Settings
from streams.identity.nodes import NodeNamer
from streams.profiles.fold import fold
from streams.profiles.view import profile_view
from streams.segments.activation import activate
from streams.segments.store import SegmentStore
from streams.signals.due import owner
from streams.signals.rules import DAY_US
from streams.signals.sweep import SignalSweeper
from streams.store import ProfileStore
from tests.integration.connectors.server import running_api
from tests.integration.streams.population import (
    interleaved, population, wait_until_caught_up, wait_until_signals_settled, worker_thread,
)
from tests.integration.streams.test_profiles import produce

pytestmark = pytest.mark.integration

EVERYONE = {"field": "events", "op": ">=", "value": 1}


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"CDP_KAFKA_BOOTSTRAP": settings.kafka_address, "CDP_REDIS_URL": settings.redis_address,
                        "CDP_TOPIC_PREFIX": settings.topic_prefix,
                        "CDP_INTERACTIONS_PARTITIONS": str(settings.interactions_partitions)}
    return subprocess.run([sys.executable, "-m", "panorama.cli", "segments", *args], env=env, capture_output=True,
                          text=True, timeout=120)


@contextmanager
def _webhook(status: int) -> Iterator[tuple[str, list[dict]]]:
    """A real HTTP endpoint on a free port answering ``status``; yields (url, bodies received)."""
    bodies: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(status)
            self.end_headers()

        def log_message(self, *_args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/campaign?token=secret", bodies
    finally:
        server.shutdown()
        thread.join(10)


def _audited(settings: Settings, action: str) -> list[dict]:
    return search_audit(settings, AuditQuery(action=action, since=parse_since("1h"), workspace=settings.topic_prefix))


def _populated(settings: Settings, customers_n: int, seed: int) -> dict[str, list[dict]]:
    """A population folded by a real worker, every customer in segment ``everyone``."""
    customers = population(customers_n, seed=seed)
    produce(settings, interleaved(customers, seed=seed + 1))
    SegmentStore(Redis.from_url(settings.redis_address), settings.topic_prefix,
                 settings.interactions_partitions).save("everyone", EVERYONE, "", now_us())
    with worker_thread(settings, signal_debounce_s=0):
        wait_until_caught_up(settings)
        wait_until_signals_settled(settings, now_us())
    namer = NodeNamer(settings.routing_key_secret.get_secret_value().encode())
    return {namer.node("user_id", c.user_id): c.events for c in customers}


def test_activation_exports_only_consenting_members_and_never_a_forgotten_one(settings, tmp_path):
    truth = _populated(settings, 40, seed=41)
    refused = _cli(settings, "create", "bad", "--rule", '{"all": [{"field": "orders", "op": "~", "value": 1}]}')
    assert refused.returncode == 2 and "rule.all[0].op" in refused.stderr and "'~' is not one of" in refused.stderr
    out = tmp_path / "campaign.jsonl"
    done = _cli(settings, "activate", "everyone", "--purpose", "marketing", "--channel", "email", "--out", str(out),
                "--reason", "spring campaign")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    profiles = {c: profile_view(fold(events), c, now_us()) for c, events in truth.items()}
    allowed = {c for c, p in profiles.items() if consent_allows(p, "marketing", "email")}
    assert 0 < len(allowed) < len(truth), "the population should hold both kinds"
    assert {line["customer_id"] for line in lines} == allowed
    assert all(line["address"] == profiles[line["customer_id"]]["identities"]["email"] for line in lines)
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["exported"] == len(allowed) and report["skipped_no_consent"] == len(truth) - len(allowed)
    audit = [e for e in _audited(settings, "segment.activate") if e["subject"] == "everyone"]
    assert audit and audit[-1]["reason"] == "spring campaign" and audit[-1]["details"]["exported"] == len(allowed)

    with _webhook(200) as (url, bodies):
        sent = _cli(settings, "activate", "everyone", "--purpose", "marketing", "--channel", "email", "--webhook", url)
    assert sent.returncode == 0, sent.stderr
    assert sorted(m["customer_id"] for body in bodies for m in body["members"]) == sorted(allowed)
    with _webhook(500) as (url, bodies):
        failed = _cli(settings, "activate", "everyone", "--purpose", "marketing", "--webhook", url)
    assert failed.returncode == 2 and "answered 500" in failed.stderr and len(bodies) == 1
    audit = [e for e in _audited(settings, "segment.activate") if e["subject"] == "everyone"]
    assert [(e["outcome"], e["details"]["to"]) for e in audit[-2:]] == [("ok", "webhook:127.0.0.1"),
                                                                        ("failed", "webhook:127.0.0.1")]
    assert "secret" not in str(audit)

    redis = Redis.from_url(settings.redis_address)
    gone = sorted(allowed)[0]
    store = ProfileStore(redis, settings.topic_prefix)
    _, nodes = store.resolve(gone)
    KeyStore.from_settings(settings, redis).forget([n.rsplit(":", 1)[1] for n in nodes], now_us())
    lines = []
    report = activate(settings, redis, "everyone", "marketing", "email", now_us(), lines.append)
    assert gone not in {line["customer_id"] for line in lines} and report.skipped_gone == 1  # keys shredded, not yet erased
    kept = sorted(allowed)[1]
    sweeper = SignalSweeper(store, settings.topics.signals, settings.interactions_partitions)
    for customer in (gone, kept):  # due far in the future: stages move, so records would follow
        partition = owner(customer, settings.interactions_partitions)
        redis.zadd(store.keys.due(partition), {customer: 0})
        sweeper.sweep(partition, now_us() + 400 * DAY_US)
    queued = [orjson.loads(v)["record"]["customer_id"] for p in range(settings.interactions_partitions)
              for v in redis.hvals(store.keys.outbox(p))]
    assert kept in queued and gone not in queued, "nothing may be published about a forgotten customer"
    erase_customer(store, gone, nodes)
    segments = SegmentStore(redis, settings.topic_prefix, settings.interactions_partitions)
    assert gone not in segments.members("everyone", 1000) and segments.size("everyone") == len(truth) - 1
    assert redis.get(segments.keys.state(gone)) is None


def test_segments_api_roles_errors_and_audit(settings):
    truth = _populated(settings, 12, seed=43)
    store = ApiKeyStore(settings)
    keys = {role: store.create(f"{role}-1", role)[0] for role in ("marketing", "analyst", "support")}
    keys["marketing+pii"] = store.create("marketing-2", "marketing", grants=("pii",))[0]
    store.close()
    with running_api(settings) as url, httpx.Client(base_url=url, timeout=30) as client:
        def call(method: str, path: str, role: str, **kwargs) -> httpx.Response:
            return client.request(method, path, headers={"Authorization": f"Bearer {keys[role]}"}, **kwargs)

        bad = call("PUT", "/v1/segments/big", "marketing", json={"rule": {"field": "orders", "op": ">", "value": "2"}})
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "rule.value", bad.text
        extra = call("PUT", "/v1/segments/big", "marketing", json={"rule": EVERYONE, "owner": "me"})
        assert extra.status_code == 422 and extra.json()["error"]["field"] == "owner"
        assert call("PUT", "/v1/segments/big", "analyst", json={"rule": EVERYONE}).status_code == 403
        longest = {"all": [{"field": "events_by_type.email_opened", "op": ">=", "value": n} for n in range(100)]}
        assert call("PUT", "/v1/segments/long", "marketing", json={"rule": longest}).status_code == 201
        longest["all"].append(EVERYONE)
        too_long = call("PUT", "/v1/segments/long", "marketing", json={"rule": longest})
        assert too_long.status_code == 422 and too_long.json()["error"]["field"] == "rule.all[100]"
        assert call("DELETE", "/v1/segments/long", "marketing").status_code == 200
        created = call("PUT", "/v1/segments/big", "marketing", json={"rule": EVERYONE, "description": "all"})
        assert created.status_code == 201 and created.json()["marked_due"] > 0
        assert call("PUT", "/v1/segments/big", "marketing", json={"rule": EVERYONE}).status_code == 200
        listed = call("GET", "/v1/segments", "analyst")
        assert listed.status_code == 200 and {s["id"] for s in listed.json()} == {"everyone", "big"}
        assert call("GET", "/v1/segments", "support").status_code == 403
        assert call("GET", "/v1/segments/everyone/members", "analyst").status_code == 403
        members = call("GET", "/v1/segments/everyone/members", "marketing", params={"limit": 5})
        assert members.status_code == 200 and members.json()["size"] == len(truth)
        assert len(members.json()["members"]) == 5 and set(members.json()["members"]) <= set(truth)
        assert call("GET", "/v1/segments/nope/members", "marketing").status_code == 404
        masked = call("GET", "/v1/segments/everyone/members", "marketing", params={"limit": 3, "identities": True})
        unmasked = call("GET", "/v1/segments/everyone/members", "marketing+pii", params={"limit": 3, "identities": True})
        assert masked.status_code == unmasked.status_code == 200
        for hidden, shown in zip(masked.json()["members"], unmasked.json()["members"], strict=True):
            assert hidden["customer_id"] == shown["customer_id"]
            assert set(hidden["identities"]["email"]) == {"***"} and "@" in shown["identities"]["email"][0]
        assert call("DELETE", "/v1/segments/big", "marketing").status_code == 200
        assert call("GET", "/v1/segments/big", "analyst").status_code == 404
    deadline = time.monotonic() + 10
    while len(found := _audited(settings, "segment.*")) < 8 and time.monotonic() < deadline:
        time.sleep(0.2)
    found = [e for e in found if e["subject"] != "long"]
    assert [e["action"] for e in found] == ["segment.save", "segment.save"] + ["segment.members"] * 3 + ["segment.delete"]
    assert all(e["role"] == "marketing" for e in found)
    assert [e["details"]["masked"] for e in found if e["details"].get("identities")] == [True, False]
