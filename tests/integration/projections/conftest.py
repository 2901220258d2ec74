"""Fixtures for the analytics store: the session's real Kafka, and chDB in this test's
own tmp_path (one embedded directory open per process at a time, so each test closes
its store before the next opens one)."""

from __future__ import annotations

import os

import pytest

from panorama.settings import Settings
from projections.backend import Backend
from projections.store import analytics_store

pytestmark = pytest.mark.integration


@pytest.fixture
def store_settings(settings: Settings, tmp_path) -> Settings:
    """The test's Kafka topics plus a data dir of its own, hence a chDB directory of its own."""
    return settings.model_copy(update={"data_dir": tmp_path})


@pytest.fixture
def store(store_settings: Settings) -> Backend:
    with analytics_store(store_settings) as backend:
        yield backend


def cdp_env(settings: Settings) -> dict[str, str]:
    """Environment for a `cdp` subprocess that talks to the same services and topics."""
    return os.environ | {
        "CDP_KAFKA_BOOTSTRAP": settings.kafka_address,
        "CDP_REDIS_URL": settings.redis_address,
        "CDP_TOPIC_PREFIX": settings.topic_prefix,
        "CDP_DATA_DIR": str(settings.data_dir),
        "CDP_ROUTING_KEY_SECRET": settings.routing_key_secret.get_secret_value(),
    }
