"""The HTTP collector: the Segment-compatible tracking API and provider webhooks.

``collector_router(settings)`` is mounted by :func:`panorama.api.create_app`.
"""

from connectors.collector.routes import collector_router

__all__ = ["collector_router"]
