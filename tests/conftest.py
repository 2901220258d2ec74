"""Shared fixtures.

Integration tests run against real services: by default a Kafka broker and a
redis-server that this session starts itself on free ports in a temporary data
directory (the same code as `cdp up`), stopped at the end. Set CDP_KAFKA_BOOTSTRAP /
CDP_REDIS_URL to run them against services you already have instead.
"""

from __future__ import annotations

import gc
import uuid

import pytest

from panorama.settings import Settings


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Settings:
    from panorama.stack.ephemeral import ephemeral_stack

    with ephemeral_stack(tmp_path_factory.mktemp("stack"), interactions_partitions=3) as settings:
        yield settings
        # Kafka clients the tests dropped are destroyed while the broker still answers,
        # not at exit with a screen of "connection refused" after the test summary.
        gc.collect()


@pytest.fixture
def settings(stack: Settings) -> Settings:
    """The session stack with topics of this test's own (unique prefix)."""
    from panorama.stack.topics import ensure_topics

    mine = stack.model_copy(update={"topic_prefix": f"t{uuid.uuid4().hex[:10]}"})
    ensure_topics(mine)
    return mine
