"""The collector's privacy edges on the real Kafka and Redis: a key store that stops
answering while sealing, and write keys of other workspaces."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
from redis import Redis

from connectors.collector.delivery import Item
from connectors.collector.errors import BadRequest
from connectors.collector.routes import Collector
from connectors.collector.segment import SegmentConnector
from panorama.clock import now_us
from panorama.security.keys import ApiKey, KeyStore
from panorama.stack.topics import ensure_topics
from tests.integration.connectors.readback import interactions
from tests.integration.connectors.server import running_api

pytestmark = pytest.mark.integration


def _record(user_id: str) -> dict:
    message = {"type": "track", "userId": user_id, "event": "Viewed", "properties": {"email": "x@example.com"}}
    [record] = SegmentConnector({"source": "webshop"}).to_events(message, now_us())
    return record


def test_a_silent_key_store_is_a_503_with_retry_after_and_the_loop_keeps_serving(settings):
    silent = socket.socket()  # accepts connections (kernel backlog), never answers a command
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    timeout = 0.5
    settings = settings.model_copy(update={"privacy_redis_timeout_s": timeout})

    grant = ApiKey("k_test", "webshop", settings.topic_prefix, "ingest")

    async def scenario() -> tuple[BadRequest, int]:
        collector = Collector(settings)
        collector.start()
        try:
            keystore = collector.producer._producer.privacy.keystore
            keystore.redis = Redis(host="127.0.0.1", port=silent.getsockname()[1], socket_timeout=timeout)
            keystore._prepare = keystore.redis.register_script(keystore._prepare.script)
            ticks = 0

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1

            task = asyncio.create_task(ticker())
            with pytest.raises(BadRequest) as refused:
                await collector.deliver([Item(0, {}, _record("u-silent"))], grant)
            task.cancel()
            return refused.value, ticks
        finally:
            collector.stop()

    try:
        error, ticks = asyncio.run(scenario())
    finally:
        silent.close()
    assert (error.status, error.code, error.headers.get("Retry-After")) == (503, "key_store_unavailable", "5")
    assert ticks >= 0.5 * timeout / 0.01  # the event loop ran while the key store was waited for


def test_a_write_key_of_another_workspace_sends_to_that_workspace_only(settings):
    other = settings.model_copy(update={"topic_prefix": f"{settings.topic_prefix}-w2"})
    ensure_topics(other)
    store = KeyStore(settings)  # the deployment's key store holds every workspace's keys
    try:
        default_key = store.create("webshop", "ingest")[0]
        other_key = store.create("kiosk", "ingest", workspace=other.topic_prefix)[0]
    finally:
        store.close()
    with running_api(settings) as url, httpx.Client(base_url=url, timeout=30) as client:
        for key, user in ((other_key, "u-other"), (default_key, "u-default"), (other_key, "u-other-2")):
            body = {"userId": user, "event": "Viewed", "context": {"ip": "203.0.113.9"}}
            r = client.post("/v1/track", json=body, auth=(key, ""))
            assert (r.status_code, r.json()) == (200, {"success": True}), r.text
    assert sorted(e["identities"]["user_id"] for e in interactions(other)) == ["u-other", "u-other-2"]
    assert [e["identities"]["user_id"] for e in interactions(settings)] == ["u-default"]
    assert {e["context"]["ip"] for e in interactions(other)} == {"203.0.113.9"}  # sealed under the workspace's keys
