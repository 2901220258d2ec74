"""Finding connectors by name, lazily.

Built-in connectors are declared in ``pyproject.toml`` under the entry-point group
``panorama.connectors`` (``name = "module:Class"``), exactly as a third-party package
declares its own; nothing is imported until a connector is asked for by name.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module
from importlib.metadata import entry_points

from panorama.errors import ConnectorError, UnknownConnectorError
from connectors.base import Connector

ENTRY_POINT_GROUP = "panorama.connectors"


@cache
def connector_targets() -> dict[str, str]:
    """Connector name -> ``module:Class`` for every installed connector."""
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def names() -> list[str]:
    return sorted(connector_targets())


def get(name: str) -> type[Connector]:
    """The connector class registered as ``name`` (imported on first use)."""
    target = connector_targets().get(name)
    if target is None:
        raise UnknownConnectorError(
            f"no connector named {name!r}; installed: {', '.join(names()) or 'none'}. "
            f"Third-party connectors register under the entry-point group {ENTRY_POINT_GROUP!r}."
        )
    return load(name, target)


@cache
def load(name: str, target: str) -> type[Connector]:
    module_name, _, attribute = target.partition(":")
    try:
        cls = getattr(import_module(module_name), attribute)
    except (ImportError, AttributeError) as e:
        raise ConnectorError(f"connector {name!r} is registered as {target!r}, which cannot be loaded: {e}") from e
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        raise ConnectorError(f"connector {name!r} ({target}) is not a subclass of connectors.base.Connector")
    if cls.name != name:
        raise ConnectorError(f"connector {target} calls itself {cls.name!r} but is registered as {name!r}")
    return cls
