"""The importer's garbage-collection settings are its own and restored afterwards."""

import gc

import pytest

from connectors.importer.chunks import fewer_collections


def test_collection_settings_restored_even_on_error():
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), fewer_collections():
        assert gc.get_threshold()[0] > before[0] and gc.get_freeze_count() > 0
        raise RuntimeError("import failed")
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
