"""Erasing a customer from Redis reaches the operator's unmerge records too."""

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
