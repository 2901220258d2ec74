"""prefetch_keys: a few key-store round trips for many records, and a clear error."""

from types import SimpleNamespace

import pytest
import redis

from connectors.privacy_keys import PREFETCH_RECORDS, prefetch_keys
from panorama.errors import ProducerError


class Recorder:
    def __init__(self, fail: bool = False):
        self.calls: list[int] = []
        self.fail = fail

    def prefetch(self, records, route):
        if self.fail:
            raise redis.ConnectionError("connection refused")
        self.calls.append(len(list(records)))


def producer(privacy):
    return SimpleNamespace(privacy=privacy, keys=SimpleNamespace(for_identities=lambda identities: b"k"))


def test_records_go_in_slices_the_key_store_takes():
    privacy = Recorder()
    prefetch_keys(producer(privacy), [{}] * (2 * PREFETCH_RECORDS + 1))
    assert privacy.calls == [PREFETCH_RECORDS, PREFETCH_RECORDS, 1]


def test_without_privacy_nothing_happens_and_unreachable_store_is_named():
    prefetch_keys(producer(None), [{}])
    with pytest.raises(ProducerError, match="privacy key store is unavailable"):
        prefetch_keys(producer(Recorder(fail=True)), [{}])
