"""Components of identity nodes (customers) and the pure function that defines them.

:func:`replay` is the definition: the components are a deterministic function of (the set
of link candidates — node pairs, each with the earliest ``(occurred_at, event_id)`` that
carried it —, the pairs an operator blocked, the rules). Candidates are applied in event
time (:func:`streams.identity.rules.order`); each is accepted unless the union would break
a limit or put a blocked pair together. A refused candidate stays refused for the rest of
a replay (components only grow, and limits and blocks are monotone in them), which is why
the earliest occurrence of a pair is all that needs keeping.
"""

from __future__ import annotations

from collections.abc import Mapping

from streams.identity.nodes import rank
from streams.identity.rules import Decision, Key, LinkRules, Merge, Pair, Refusal, order


class Components:
    """Nodes grouped into components. Unknown nodes are singletons (their own root).

    ``roots`` maps a non-root member to its root (always direct: a merge re-points every
    moved member); ``members`` maps a root to all its members (absent for a singleton);
    ``blocked`` maps a node to the nodes an operator unmerged from it.
    """

    def __init__(self, roots: dict[str, str] | None = None, members: dict[str, set[str]] | None = None,
                 rules: LinkRules | None = None, blocked: dict[str, set[str]] | None = None):
        self.roots = roots if roots is not None else {}
        self.members = members if members is not None else {}
        self.rules = rules or LinkRules()
        self.blocked = blocked if blocked is not None else {}

    def root(self, node: str) -> str:
        return self.roots.get(node, node)

    def component(self, node: str) -> set[str]:
        root = self.root(node)
        return self.members.get(root, {root})

    def union(self, a: str, b: str, key: Key) -> Decision | None:
        """Join the components of ``a`` and ``b`` unless that breaks a rule; None when they
        are one component already."""
        root_a, root_b = self.root(a), self.root(b)
        if root_a == root_b:
            return None
        members_a, members_b = self.component(root_a), self.component(root_b)
        reason = self.rules.violation(members_a | members_b) or self._blocked(members_a, members_b)
        if reason:
            return Refusal(key[1], key[0], (root_a, root_b), (a, b), reason)
        winner, loser = sorted((root_a, root_b), key=rank)
        moved = self.component(loser)
        self.members[winner] = self.component(winner) | moved
        self.members.pop(loser, None)
        for node in moved:
            self.roots[node] = winner
        return Merge(key[1], key[0], winner, loser, tuple(sorted(moved)), (a, b))

    def _blocked(self, members_a: set[str], members_b: set[str]) -> str | None:
        for node in sorted(members_a):
            apart = self.blocked.get(node, set()) & members_b
            if apart:
                return f"{node} and {min(apart)} were unmerged by an operator"
        return None


def replay(candidates: Mapping[Pair, Key], blocked: Mapping[str, set[str]],
           rules: LinkRules) -> tuple[Components, list[Decision]]:
    """The components ``candidates`` make under ``blocked`` and ``rules``, with every
    decision taken on the way, in event time."""
    result = Components(rules=rules, blocked={node: set(apart) for node, apart in blocked.items()})
    decisions = []
    for pair, key in sorted(candidates.items(), key=lambda item: order(*item)):
        decision = result.union(pair[0], pair[1], key)
        if decision is not None:
            decisions.append(decision)
    return result, decisions
