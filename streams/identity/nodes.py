"""Identities as graph nodes: ``kind:<keyed hash of the normalised value>``.

The hash is the producer's routing-key hash (:class:`producers.keys.RoutingKeys`), so no
plaintext email or phone sits in a Redis key, and the node of an event's routing identity
names the same identity its Kafka key was made from. The kind stays readable because
linking rules and limits are per kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from producers.keys import RoutingKeys
from schemas.identities import normalise_email, normalise_phone, routing_identity

KIND_RANK = {"user_id": 0, "email": 2, "phone": 3, "device_id": 4, "anonymous_id": 5}
EXTERNAL_RANK = 1
CUSTOMER_PREFIX = "customer:"


def identity_count(identities: Mapping[str, Any]) -> int:
    """How many identities an event carries; two or more can link customers."""
    return sum(1 for kind in KIND_RANK if identities.get(kind)) + sum(
        1 for value in (identities.get("external_ids") or {}).values() if value)


def kind_of(node: str) -> str:
    return node.rsplit(":", 1)[0]


def rank(node: str) -> tuple[int, str]:
    """Strongest kind first, then the node itself: the deterministic order that picks a
    component's root (its customer id)."""
    kind = kind_of(node)
    return KIND_RANK.get(kind, EXTERNAL_RANK), node


def normalised(kind: str, value: str) -> str:
    if kind == "email":
        return normalise_email(value)
    if kind == "phone":
        return normalise_phone(value)
    return value


class NodeNamer:
    """Turns identities into node ids with the platform's routing-key secret."""

    def __init__(self, secret: bytes, cache_size: int = 100_000):
        self._keys = RoutingKeys(secret)
        self._routes: dict[tuple, str] = {}  # raw identities -> routing node (phone parsing is slow)
        self._cache_size = cache_size

    def node(self, kind: str, value: str) -> str:
        return f"{kind}:{self._keys.hash(kind, normalised(kind, value)).decode()}"

    def routing_node(self, identities: Mapping[str, Any]) -> str:
        """The node of the strongest identity: the partial an event is folded into."""
        raw = (identities.get("user_id"), identities.get("email"), identities.get("phone"),
               tuple(sorted((identities.get("external_ids") or {}).items())),
               identities.get("device_id"), identities.get("anonymous_id"))
        node = self._routes.get(raw)
        if node is None:
            kind, value = routing_identity(identities)
            node = f"{kind}:{self._keys.hash(kind, value).decode()}"
            if len(self._routes) >= self._cache_size:
                self._routes.clear()
            self._routes[raw] = node
        return node

    def nodes(self, identities: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(node, ``kind:value`` label) for every identity of an event, strongest first."""
        found = [(kind, identities[kind]) for kind in KIND_RANK if identities.get(kind)]
        found += [(f"external:{k}", v) for k, v in sorted((identities.get("external_ids") or {}).items()) if v]
        pairs = [(self.node(kind, value), f"{kind}:{normalised(kind, value)}") for kind, value in found]
        return sorted(pairs, key=lambda pair: rank(pair[0]))

    def parse(self, text: str) -> str:
        """A node from what a user types: ``email:ana@example.com``, ``user_id:u-1``,
        ``external:shopify:123``, ``customer:<customer id>`` (a customer id is a node), or
        a bare value (``@`` → email, leading ``+`` → phone, otherwise user_id)."""
        if text.startswith(CUSTOMER_PREFIX):
            return text.removeprefix(CUSTOMER_PREFIX)
        kind, sep, value = text.rpartition(":") if text.startswith("external:") else text.partition(":")
        if not sep or (kind not in KIND_RANK and not kind.startswith("external:")):
            kind, value = ("email" if "@" in text else "phone" if text.startswith("+") else "user_id"), text
        return self.node(kind, value)
