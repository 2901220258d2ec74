"""Erasing a customer from Redis reaches what names it outside its own keys: the operator's
unmerge records and block sets, and the links recorded on their other end."""

from __future__ import annotations

import orjson
import pytest
from redis import Redis

from panorama.privacy.redis_state import erase_customer
from streams.store import ProfileStore

pytestmark = pytest.mark.integration


def test_erasure_drops_the_operators_unmerges_naming_the_customer(settings):
    redis = Redis.from_url(settings.redis_address)
    profiles = ProfileStore(redis, settings.topic_prefix)
    gone, kept, other = "email:" + "1" * 32, "user_id:" + "2" * 32, "user_id:" + "3" * 32
    redis.sadd(profiles.keys.block(kept), gone, other)
    mine = orjson.dumps({"apart": [gone, kept], "removed": [gone, kept], "reason": "Ana asked, ticket 7"})
    theirs = orjson.dumps({"apart": [kept, other], "removed": [kept, other], "reason": "wrong merge"})
    redis.rpush(profiles.keys.unmerges, mine, theirs)
    erase_customer(profiles, gone, [gone])
    assert redis.smembers(profiles.keys.block(kept)) == {other.encode()}
    assert redis.lrange(profiles.keys.unmerges, 0, -1) == [theirs]


def test_erasure_drops_unmerge_records_naming_the_customer_only_in_their_sides(settings):
    redis = Redis.from_url(settings.redis_address)
    profiles = ProfileStore(redis, settings.topic_prefix)
    gone, kept, other = "email:" + "4" * 32, "user_id:" + "5" * 32, "user_id:" + "6" * 32
    mine = orjson.dumps({"apart": [kept, other], "sides": [[gone, kept], [other]], "reason": "Ana asked"})
    theirs = orjson.dumps({"apart": [kept, other], "sides": [[kept], [other]], "reason": "wrong merge"})
    redis.rpush(profiles.keys.unmerges, mine, theirs)
    erase_customer(profiles, gone, [gone])
    assert redis.lrange(profiles.keys.unmerges, 0, -1) == [theirs]


def test_erasure_removes_the_links_recorded_on_the_other_end(settings):
    redis = Redis.from_url(settings.redis_address)
    profiles = ProfileStore(redis, settings.topic_prefix)
    gone, kept, other = "email:" + "7" * 32, "user_id:" + "8" * 32, "user_id:" + "9" * 32
    redis.hset(profiles.keys.candidates(gone), mapping={kept: "10|ev-1"})
    redis.hset(profiles.keys.candidates(kept), mapping={gone: "10|ev-1", other: "20|ev-2"})
    erase_customer(profiles, gone, [gone])
    assert not redis.exists(profiles.keys.candidates(gone))
    assert redis.hgetall(profiles.keys.candidates(kept)) == {other.encode(): b"20|ev-2"}
