"""Retention on the real stores: events older than their type's policy are gone from
chDB (from the files on disk too) and from Redis's recent-event lists; every other event
is unchanged; the run is audited."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import orjson
import pytest
from redis import Redis

from panorama.privacy.retention import DAY_US, apply, parse_policy
from projections.store import analytics_store
from tests.integration.kafka_reader import read_topic
from tests.integration.privacy.scan import file_hits
from tests.integration.projections.conftest import cdp_env

pytestmark = pytest.mark.integration

NOW = 1_750_000_000_000_000
POLICY = parse_policy({"*": 30, "page": 7, "order_placed": "keep"})
CASES = [  # type, age in days, expired?
    ("page", 8, True), ("page", 6, False), ("track", 31, True), ("track", 29, False),
    ("order_placed", 3000, False), ("identify", 45, True),
]


def test_expired_events_are_gone_everywhere_and_the_rest_is_unchanged(settings, tmp_path):
    settings = settings.model_copy(update={"data_dir": tmp_path})
    # Each key holds its random part twice: LZ4 stores the second as a back-reference to the
    # first, so the scan finds the kept keys on disk only if it reads the files decompressed.
    keys = {case: f"ck-{case[0]}-{case[1]}-{token}-{token}" for case in CASES for token in [uuid.uuid4().hex]}
    with analytics_store(settings) as backend:
        backend.command("INSERT INTO event_log (event_id, type, customer_key, occurred_at, received_at, channel) VALUES " + ", ".join(
            f"(generateUUIDv4(), '{t}', '{keys[(t, age, gone)]}', fromUnixTimestamp64Micro(toInt64({NOW - age * DAY_US}), 'UTC'), "
            f"fromUnixTimestamp64Micro(toInt64({NOW}), 'UTC'), 'web')" for t, age, gone in CASES))
    redis = Redis.from_url(settings.redis_address)
    recent = f"{settings.topic_prefix}:ev:user:abc"
    redis.zadd(recent, {orjson.dumps({"id": keys[c], "type": c[0], "occurred_at": NOW - c[1] * DAY_US, "channel": "web"}):
                        NOW - c[1] * DAY_US for c in CASES})

    report = apply(settings, POLICY, "cli:test", analytics_store, -1, redis=redis, now=NOW)

    expired = {keys[c] for c in CASES if c[2]}
    kept = {keys[c] for c in CASES if not c[2]}
    assert (report.event_rows_deleted, report.recent_events_removed) == (len(expired), len(expired))
    with analytics_store(settings) as backend:
        assert {row[0] for row in backend.query("SELECT customer_key FROM event_log").rows} == kept
        assert backend.query("SELECT count() FROM system.parts WHERE table = 'event_log' AND NOT active").scalar() == 0
    assert {orjson.loads(m)["id"] for m in redis.zrange(recent, 0, -1)} == kept
    on_disk = {hit.split("'")[1] for hit in file_hits(settings.chdb_path, {k.encode(): k for k in expired | kept})}
    assert on_disk & expired == set() and kept <= on_disk  # the scan sees kept rows, so it would see expired ones
    [audit] = [orjson.loads(m.value()) for m in read_topic(settings, settings.topics.audit)]
    assert (audit["action"], audit["outcome"], audit["details"]["event_rows_deleted"]) == ("privacy.retention", "ok", 3)


def test_cli_shows_the_policy_and_what_applies_to_kafka_and_names_a_bad_entry(settings, tmp_path):
    policy = tmp_path / "retention.toml"
    policy.write_text('"*" = 30\npage = 7\n')
    env = cdp_env(settings) | {"CDP_RETENTION_FILE": str(policy)}
    done = subprocess.run([sys.executable, "-m", "panorama.cli", "privacy", "retention", "show"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["policy"] == {"*": 30, "page": 7}
    assert shown["cutoffs_us"]["page"] > shown["cutoffs_us"]["*"]
    assert "longer than the longest policy (30 days)" in shown["kafka"]  # the log keeps events for ever
    policy.write_text("pages = 7\n")
    done = subprocess.run([sys.executable, "-m", "panorama.cli", "privacy", "retention", "show"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "'pages' is not an event type" in done.stderr
