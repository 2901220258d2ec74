"""Fixtures of the collector tests: a real HTTP server on the test's own topics, and an
ingest write key stored in the real Redis."""

from __future__ import annotations

import httpx
import pytest

from connectors.collector.write_keys import WriteKeyStore
from panorama.settings import Settings
from tests.integration.connectors.server import running_api


@pytest.fixture
def write_key(settings: Settings) -> str:
    store = WriteKeyStore(settings)
    try:
        return store.create("webshop", "ingest")
    finally:
        store.close()


@pytest.fixture
def collector(settings: Settings, write_key: str):
    """An httpx client of a running collector, authenticated with ``write_key``."""
    with running_api(settings) as url, httpx.Client(base_url=url, auth=(write_key, ""), timeout=30) as client:
        yield client
