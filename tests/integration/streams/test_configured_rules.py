"""A worker and the reader run the link and signal rules of the settings (CDP_IDENTITY_LIMITS,
CDP_SIGNAL_RULES), on the real broker and Redis."""

from __future__ import annotations

import copy
import uuid

import pytest
from redis import Redis

from producers import InteractionProducer
from streams.profiles import ProfileReader
from schemas.examples import example_records
from tests.integration.streams.population import wait_until_caught_up, worker_thread

pytestmark = pytest.mark.integration


def identify(user_id: str, email: str, at: int) -> dict:
    record = copy.deepcopy(example_records()["identify"])
    record.update(event_id=str(uuid.uuid4()), occurred_at=at, received_at=at)
    record["identities"] = {"user_id": user_id, "email": email}
    record["traits"] = {"email": email}
    return record


def test_an_email_cap_from_the_settings_refuses_the_second_email(settings):
    settings = settings.model_copy(update={"identity_limits": {"email": 1}, "signal_rules": {"high_risk": 99}})
    events = [identify("rules-user", "first@example.com", 1_718_000_000_000_000),
              identify("rules-user", "second@example.com", 1_718_000_100_000_000),
              identify("rules-other", "second@example.com", 1_718_000_200_000_000)]
    with InteractionProducer(settings) as producer:
        assert not producer.send_and_wait(events).failed
    with worker_thread(settings):
        wait_until_caught_up(settings)
    reader = ProfileReader(Redis.from_url(settings.redis_address), settings)
    assert reader.signal_rules.high_risk == 99
    explained = reader.explain("user_id:rules-user")
    assert explained["identities"] == ["email:first@example.com", "user_id:rules-user"]  # the default cap (5) links both
    refusals = [h for h in explained["history"] if h["action"] == "refused"]
    assert [r["reason"] for r in refusals] == ["would hold 2 email identities (limit 1)"]
    assert reader.read("second@example.com")["customer_id"] == reader.read("user_id:rules-other")["customer_id"]
