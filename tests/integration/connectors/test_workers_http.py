"""`cdp serve --workers 2` as a real process tree: the workers run with the settings the
parent resolved (this test's own topics), every batch lands in Kafka, and the audit records
of the workers' reads reach the audit topic (the parent forwards them)."""

import base64
import pickle
import subprocess
import sys
import time

import httpx
import orjson
import pytest

from connectors.collector.write_keys import WriteKeyStore
from panorama.security.audit_search import read_audit
from panorama.security.keys import KeyStore
from panorama.stack.ephemeral import free_port
from tests.integration.connectors.readback import interactions

pytestmark = pytest.mark.integration

SERVE = ("import base64, pickle, sys; from connectors.collector.workers import serve; "
         "serve(pickle.loads(base64.b64decode(sys.argv[1])), workers=2, log_level='warning')")


def test_two_workers_share_the_socket_and_the_settings(settings):
    store = WriteKeyStore(settings)
    key = store.create("two-workers", "ingest")
    store.close()
    keys = KeyStore(settings)
    reader, _ = keys.create("two-workers-reader", "support")
    keys.close()
    mine = settings.model_copy(update={"api_host": "127.0.0.1", "api_port": free_port()})
    process = subprocess.Popen([sys.executable, "-c", SERVE, base64.b64encode(pickle.dumps(mine)).decode()])
    url = f"http://127.0.0.1:{mine.api_port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/health", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, "the workers did not start"
                time.sleep(0.2)
        for n in range(12):  # a fresh connection each, accepted by either worker
            batch = {"batch": [{"type": "track", "userId": f"u-{n}-{i}", "event": "Viewed"} for i in range(5)]}
            r = httpx.post(f"{url}/v1/batch", content=orjson.dumps(batch), auth=(key, ""), timeout=30,
                           headers={"Content-Type": "application/json"})
            assert (r.status_code, r.json()) == (200, {"success": True}), r.text
        for n in range(6):  # audited by whichever worker took it, forwarded by the parent
            r = httpx.get(f"{url}/v1/profiles/c-nobody-{n}", headers={"Authorization": f"Bearer {reader}"}, timeout=30)
            assert r.status_code == 404, r.text
        deadline = time.monotonic() + 30
        while len(audited := [e for e in read_audit(mine, timeout=2) if e["action"] == "profile.read"]) < 6:
            assert time.monotonic() < deadline, f"{len(audited)} of 6 reads audited on the topic"
    finally:
        process.terminate()
        process.wait(30)
    assert sorted(e["identities"]["user_id"] for e in interactions(mine)) == sorted(
        f"u-{n}-{i}" for n in range(12) for i in range(5))
    assert sorted(e["subject"] for e in audited) == [f"c-nobody-{n}" for n in range(6)]
