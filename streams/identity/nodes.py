"""Identities as graph nodes: ``kind:<keyed hash of the normalised value>``.

The hash is the producer's routing-key hash (:class:`producers.keys.RoutingKeys`), so no
plaintext email or phone sits in a Redis key, and the node of an event's routing identity
names the same identity its Kafka key was made from. The kind stays readable because
linking rules and limits are per kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schemas.identities import normalise_identity

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


class NodeNamer:
    """Turns identities into node ids with the platform's routing-key secret."""

    def __init__(self, secret: bytes):
        # imported here: the producer package imports this module (privacy hooks), so a
        # module-level import would be circular whichever side is imported first
        from producers.keys import RoutingKeys

        self._keys = RoutingKeys(secret)

    def node(self, kind: str, value: str) -> str:
        return f"{kind}:{self._keys.hash(kind, normalise_identity(kind, value)).decode()}"

    def routing_node(self, identities: Mapping[str, Any]) -> str:
        """The node of the strongest identity: the partial an event is folded into."""
        kind, key = self._keys.route(identities)
        return f"{kind}:{key.decode()}"

    def nodes(self, identities: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(node, ``kind:value`` label) for every identity of an event, strongest first."""
        found = [(kind, identities[kind]) for kind in KIND_RANK if identities.get(kind)]
        found += [(f"external:{k}", v) for k, v in sorted((identities.get("external_ids") or {}).items()) if v]
        normal = [(kind, normalise_identity(kind, value)) for kind, value in found]  # once: phone parsing is slow
        pairs = [(f"{kind}:{self._keys.hash(kind, value).decode()}", f"{kind}:{value}") for kind, value in normal]
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
