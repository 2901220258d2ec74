"""The identity graph as pure data: nodes, the component (customer) each belongs to, and
the rules that decide whether an event may link two components.

Every component has a root, the strongest member by :func:`streams.identity.nodes.rank`;
the root's node id is the ``customer_id``. Linking is a union: commutative, so the
components do not depend on the order links arrive in, and a replayed link is a no-op.
Only the limits make order matter (when two links compete for a capped slot, the first
one applied wins); they exist because one shared device or support mailbox must not
collapse thousands of customers into one.

The same code runs in the worker over the part of the graph a batch touches, loaded from
Redis (:mod:`streams.store`), and in tests over a whole population.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from streams.identity.nodes import kind_of, rank

# At most this many nodes of a kind in one customer. A second user_id means two accounts:
# never merged automatically. Kinds not listed are unlimited.
DEFAULT_LIMITS: Mapping[str, int] = {"user_id": 1, "email": 5, "phone": 5, "device_id": 10}


@dataclass(frozen=True)
class LinkRules:
    """Which identity kinds may link customers, and per-kind caps against over-merging."""

    limits: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    linking_kinds: frozenset[str] | None = None  # None: every kind links

    def links(self, node: str) -> bool:
        kind = kind_of(node)
        return self.linking_kinds is None or kind in self.linking_kinds or (
            kind.startswith("external:") and "external" in self.linking_kinds)

    def violation(self, members: Iterable[str]) -> str | None:
        counts = Counter(kind_of(n) for n in members)
        for kind, count in sorted(counts.items()):
            limit = self.limits.get(kind)
            if limit is not None and count > limit:
                return f"would hold {count} {kind} identities (limit {limit})"
        return None


@dataclass(frozen=True)
class Merge:
    """Component ``loser`` joined ``winner`` because ``event_id`` carried both ``via`` nodes."""

    event_id: str
    occurred_at: int
    winner: str
    loser: str
    moved: tuple[str, ...]  # the loser's members, now the winner's
    via: tuple[str, str]

    def as_dict(self) -> dict:
        return {"action": "merge", "event_id": self.event_id, "occurred_at": self.occurred_at, "winner": self.winner,
                "loser": self.loser, "moved": list(self.moved), "via": list(self.via)}


@dataclass(frozen=True)
class Refusal:
    """``event_id`` would have linked ``via`` but the result broke a limit."""

    event_id: str
    occurred_at: int
    roots: tuple[str, str]
    via: tuple[str, str]
    reason: str

    def as_dict(self) -> dict:
        return {"action": "refused", "event_id": self.event_id, "occurred_at": self.occurred_at,
                "roots": list(self.roots), "via": list(self.via), "reason": self.reason}


Decision = Merge | Refusal


class IdentityGraph:
    """Components of nodes. Unknown nodes are singletons (their own root).

    ``roots`` maps a non-root member to its root (always direct: a merge re-points every
    moved member); ``members`` maps a root to all its members (absent for a singleton).
    """

    def __init__(self, roots: dict[str, str] | None = None, members: dict[str, set[str]] | None = None,
                 rules: LinkRules | None = None, blocked: dict[str, set[str]] | None = None):
        self.roots = roots if roots is not None else {}
        self.members = members if members is not None else {}
        self.rules = rules or LinkRules()
        self.blocked = blocked if blocked is not None else {}  # node -> nodes an operator unmerged from it

    def root(self, node: str) -> str:
        return self.roots.get(node, node)

    def component(self, node: str) -> set[str]:
        root = self.root(node)
        return self.members.get(root, {root})

    def link(self, nodes: Iterable[str], event_id: str, occurred_at: int) -> list[Decision]:
        """Link every node an event carries (those the rules let link), strongest first."""
        linking = sorted({n for n in nodes if self.rules.links(n)}, key=rank)
        return [d for d in (self._union(linking[0], other, event_id, occurred_at) for other in linking[1:]) if d]

    def _union(self, a: str, b: str, event_id: str, occurred_at: int) -> Decision | None:
        root_a, root_b = self.root(a), self.root(b)
        if root_a == root_b:
            return None
        members_a, members_b = self.component(root_a), self.component(root_b)
        reason = self.rules.violation(members_a | members_b) or self._blocked(members_a, members_b)
        if reason:
            return Refusal(event_id, occurred_at, (root_a, root_b), (a, b), reason)
        winner, loser = sorted((root_a, root_b), key=rank)
        moved = self.component(loser)
        self.members[winner] = self.component(winner) | moved
        self.members.pop(loser, None)
        for node in moved:
            self.roots[node] = winner
        return Merge(event_id, occurred_at, winner, loser, tuple(sorted(moved)), (a, b))

    def apart(self, side_a: set[str], side_b: set[str], pairs: list[tuple[str, str]]) -> tuple[str, str]:
        """Split the component holding ``side_a`` and ``side_b`` into those two and block
        each of ``pairs`` (see :mod:`streams.identity.unmerge`); return the new roots."""
        self.members.pop(self.root(next(iter(side_a))), None)
        roots = []
        for side in (side_a, side_b):
            root = min(side, key=rank)
            roots.append(root)
            for node in side - {root}:
                self.roots[node] = root
            self.roots.pop(root, None)
            if len(side) > 1:
                self.members[root] = set(side)
        for a, b in pairs:
            self.blocked.setdefault(a, set()).add(b)
            self.blocked.setdefault(b, set()).add(a)
        return roots[0], roots[1]

    def _blocked(self, members_a: set[str], members_b: set[str]) -> str | None:
        for node in sorted(members_a):
            apart = self.blocked.get(node, set()) & members_b
            if apart:
                return f"{node} and {min(apart)} were unmerged by an operator"
        return None
