"""A private, throw-away stack on free ports: what the test suite and `make bench` run
against, so they never touch (or depend on) the stack `cdp up` manages."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from panorama.settings import Settings, load_settings
from panorama.stack.local import down, up


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def private_settings(data_dir: Path, **overrides) -> Settings:
    """Settings for a stack of its own under ``data_dir``; the Kafka jar cache is shared."""
    defaults = dict(
        data_dir=data_dir, cache_dir=Path(".cache").resolve(), kafka_port=free_port(),
        kafka_controller_port=free_port(), redis_port=free_port(), api_port=free_port(),
    )
    return load_settings(**(defaults | overrides))


@contextmanager
def ephemeral_stack(data_dir: Path, **overrides) -> Iterator[Settings]:
    """Start the services (not the API) under ``data_dir``; stop them on exit. Services
    named by CDP_* variables are used as they are, as `cdp up` would."""
    settings = private_settings(data_dir, **overrides)
    up(settings, with_platform=False)
    try:
        yield settings
    finally:
        down(settings)
