"""`cdp serve --workers N`: each worker builds the app from the parent's settings."""

import base64
import pickle

import pytest

from connectors.collector import workers
from panorama.settings import Settings


def test_worker_app_uses_the_parents_settings(monkeypatch):
    settings = Settings(kafka_bootstrap="127.0.0.1:1", redis_url="redis://127.0.0.1:1", topic_prefix="parent")
    monkeypatch.setenv(workers._SETTINGS_VARIABLE, base64.b64encode(pickle.dumps(settings)).decode())
    built = []
    monkeypatch.setattr("panorama.api.create_app", lambda s, forward_audit: built.append((s, forward_audit)) or "app")
    assert workers.app() == "app"
    assert built == [(settings, False)] and built[0][0].topic_prefix == "parent"  # the parent forwards the audit


def test_worker_app_refuses_to_start_without_settings(monkeypatch):
    monkeypatch.delenv(workers._SETTINGS_VARIABLE, raising=False)
    with pytest.raises(RuntimeError, match="PANORAMA_WORKER_SETTINGS"):
        workers.app()
    with pytest.raises(ValueError, match="at least 1"):
        workers.serve(Settings(), 0)
