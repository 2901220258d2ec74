"""The API's audit outbox on real Redis and Kafka: records written to the Redis stream reach
the audit topic, a forwarder killed with records pending loses none, and a record sent
twice (the forwarder died between Kafka's acknowledgement and the delete) is read once by
`cdp audit` and kept once by ClickHouse."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import orjson
import pytest
from redis import Redis

from panorama.security.audit import AuditLog
from panorama.security.audit_outbox import AuditForwarder, AuditOutbox, stream_record
from panorama.security.audit_search import load_audit, read_audit
from panorama.settings import Settings
from tests.integration.kafka_reader import read_topic

pytestmark = pytest.mark.integration


def write(settings: Settings, count: int) -> list[str]:
    """``count`` records appended through the outbox; their audit ids, in order."""
    outbox = AuditOutbox(settings)

    async def all_of_them() -> None:
        for n in range(count):
            await outbox.record_async("key:k_1", "profile.read", f"c_{n}", "ticket 9", role="support")

    try:
        asyncio.run(all_of_them())
        return [stream_record(fields)["audit_id"] for _, fields in outbox.redis.xrange(outbox.key)]
    finally:
        outbox.close()


def drained(settings: Settings, redis: Redis, key: str, within: float = 30.0) -> None:
    forwarder = AuditForwarder(settings)
    forwarder.start()
    try:
        deadline = time.monotonic() + within
        while redis.xlen(key):
            assert time.monotonic() < deadline, f"{redis.xlen(key)} records still in the outbox"
            time.sleep(0.02)
    finally:
        forwarder.stop()


def test_records_pending_when_the_forwarder_is_killed_arrive_once(settings: Settings):
    ids = write(settings, 3000)
    redis = Redis.from_url(settings.redis_address)
    key = AuditOutbox(settings).key
    env = os.environ | {"CDP_KAFKA_BOOTSTRAP": settings.kafka_address, "CDP_REDIS_URL": settings.redis_address,
                        "CDP_TOPIC_PREFIX": settings.topic_prefix}
    code = ("import time; from panorama.settings import load_settings; "
            "from panorama.security.audit_outbox import AuditForwarder; "
            "AuditForwarder(load_settings(), lease=1.0, batch=50).start(); time.sleep(120)")
    child = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        deadline = time.monotonic() + 60
        while redis.xlen(key) == len(ids):  # kill it once it has forwarded some, not all
            assert time.monotonic() < deadline and child.poll() is None, "the forwarder never forwarded"
            time.sleep(0.002)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    pending = redis.xlen(key)
    assert 0 < pending < len(ids)
    drained(settings, redis, key)  # a new process takes the lease once the killed one's runs out
    assert [e["audit_id"] for e in read_audit(settings)] == ids
    redis.close()


def test_a_record_sent_twice_is_read_once_and_stored_once(settings: Settings, tmp_path):
    from projections.store import analytics_store

    ids = write(settings, 10)
    redis = Redis.from_url(settings.redis_address)
    key = AuditOutbox(settings).key
    with AuditLog(settings) as log:  # a forwarder that died after Kafka acknowledged these, before deleting them
        log.deliver([stream_record(fields) for _, fields in redis.xrange(key, count=4)], "first four")
    with analytics_store(settings.model_copy(update={"data_dir": tmp_path})) as backend:
        assert load_audit(settings, backend) == 4  # `cdp audit --load` ran in between
        drained(settings, redis, key)
        copies = [orjson.loads(m.value())["audit_id"] for m in read_topic(settings, settings.topics.audit)]
        assert copies == ids[:4] + ids
        once = list(read_audit(settings))
        assert [e["audit_id"] for e in once] == ids and [e["subject"] for e in once] == [f"c_{n}" for n in range(10)]
        load_audit(settings, backend)  # from the newest loaded row's time: the second copies among them
        assert backend.query("SELECT count(), uniqExact(audit_id) FROM audit_log FINAL").rows == [(10, 10)]
    redis.close()


def test_a_record_redis_refuses_is_an_audit_error(settings: Settings):
    from panorama.security.errors import AuditError

    outbox = AuditOutbox(settings)
    outbox.redis.set(outbox.key, "not a stream")
    try:
        with pytest.raises(AuditError, match="outbox"):
            asyncio.run(outbox.record_async("key:k_1", "profile.read", "c_1"))
    finally:
        outbox.redis.delete(outbox.key)
        outbox.close()
