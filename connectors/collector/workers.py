"""Serving the API from several processes (``cdp serve --workers N``).

One process runs the collector's Python (mapping, validation, encoding, delivery reports)
on one core at most; N uvicorn worker processes share the listening socket and each run
the whole app with its own Kafka producer, write-key cache and rate-limit buckets (so a
source's limit applies per process). The settings the parent resolved are handed to the
workers through the environment, pickled, so every worker runs with exactly the same
settings (secrets included) whatever config file or overrides the parent used.

The parent (uvicorn's supervisor, which otherwise only watches its workers) copies the
audit outbox to the audit topic, not the workers: a forwarder thread in a worker took the
GIL from its event loop for the Python of a few hundred records at a time, and the profile
reads waited for it (p99 2.9-8.3 ms at 1,000 reads/s with it in the workers, 1.1-3.4 ms
and at most 2 ms in four of six runs with it out of them, measured by ``bench.api_bench``).
"""

from __future__ import annotations

import base64
import os
import pickle

from panorama.settings import Settings

_SETTINGS_VARIABLE = "PANORAMA_WORKER_SETTINGS"


def serve(settings: Settings, workers: int, log_level: str = "info") -> None:
    """Run the API in the foreground with ``workers`` processes."""
    import uvicorn

    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    from panorama.security.audit_outbox import AuditForwarder

    os.environ[_SETTINGS_VARIABLE] = base64.b64encode(pickle.dumps(settings)).decode()
    forwarder = AuditForwarder(settings)
    forwarder.start()
    try:
        uvicorn.run(f"{__name__}:app", factory=True, host=settings.api_host, port=settings.api_port,
                    workers=workers, log_level=log_level, access_log=False)
    finally:
        forwarder.stop()


def app():
    """The app factory each worker process calls (settings from the parent)."""
    from panorama.api import create_app

    encoded = os.environ.get(_SETTINGS_VARIABLE)
    if not encoded:
        raise RuntimeError(f"{_SETTINGS_VARIABLE} is not set: start workers through connectors.collector.workers.serve")
    return create_app(pickle.loads(base64.b64decode(encoded)), forward_audit=False)
