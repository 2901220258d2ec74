"""The identity graph kept incrementally, equal at every step to the pure definition
(:func:`streams.identity.components.replay` over every link candidate recorded so far and
every blocked pair), whatever order links and unmerges arrive in.

Most links are applied as a union, which is exact when applied last:

* an accepted link (its union breaks no rule) gives the replay's result whatever its
  place in event time: placing it earlier only makes components grow sooner inside
  components that are valid at the end, so every other decision stays the same;
* a refused link that is not older than any candidate touching its two components
  (the common case: links arrive roughly in event time) is judged on exactly the
  components the replay would judge it on.

Only a refused link that is LATE (older than some candidate already applied around it)
can change earlier decisions: judged at its place in event time it may be accepted and
make a later link lose its slot. That link, and an operator's unmerge (which blocks a
pair), recompute the closure — the nodes connected to it through any recorded candidate,
accepted or refused — from its recorded candidates (:class:`Regroup`). Nodes outside the
closure share no candidate with it, so nothing else can change. A candidate counts when
both its nodes hold it: erasing a customer deletes its nodes' candidates, and with them
every link to it that a later recompute could replay.

The same code runs in the worker over the part of the graph a batch touches, loaded from
Redis on demand through a :class:`GraphSource` (:mod:`streams.store`), and in tests over a
whole population held in memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from streams.identity.components import Components, replay
from streams.identity.nodes import rank
from streams.identity.rules import Decision, Key, LinkRules, Pair, Refusal, Regroup, order, pair_of

Candidates = dict[str, dict[str, Key]]  # node -> other node -> earliest key of their link


class GraphSource(Protocol):
    """Where a partly loaded graph reads more of itself (the store, under WATCH)."""

    def components(self, nodes: set[str]) -> tuple[dict[str, str], dict[str, set[str]], dict[str, set[str]]]:
        """(roots, members, blocked) of the whole stored components of ``nodes``."""

    def candidates(self, nodes: set[str]) -> Candidates:
        """The recorded candidates of ``nodes``."""


class IdentityGraph(Components):
    """Components plus the link candidates that define them.

    With no ``source`` the whole graph is in memory. With one, ``known`` names the nodes
    whose stored component is loaded; more is read when a decision needs it.
    ``new_candidates`` holds what :meth:`link` recorded, for the store to write (keeping
    the earliest key of each pair).
    """

    def __init__(self, roots: dict[str, str] | None = None, members: dict[str, set[str]] | None = None,
                 rules: LinkRules | None = None, blocked: dict[str, set[str]] | None = None,
                 source: GraphSource | None = None, known: Iterable[str] = ()):
        super().__init__(roots, members, rules, blocked)
        self.candidates: Candidates = {}
        self.new_candidates: dict[Pair, Key] = {}
        self.source = source
        self._known = set(known)
        self._listed: set[str] = set()

    def link(self, nodes: Iterable[str], event_id: str, occurred_at: int) -> list[Decision]:
        """Link every node an event carries (those the rules let link): its strongest node
        to each other one, in the order of their ranks."""
        linking = sorted({n for n in nodes if self.rules.links(n)}, key=rank)
        found = (self._candidate((linking[0], other), (occurred_at, event_id)) for other in linking[1:])
        return [d for d in found if d is not None]

    def block(self, a: str, b: str, key: Key) -> Regroup | None:
        """Never let ``a`` and ``b`` be one customer again: block the pair and recompute
        their closure (None when nothing changed: they were apart already, or the links
        around them are not recorded, see :meth:`_recompute`)."""
        self._load({a, b})
        self.blocked.setdefault(a, set()).add(b)
        self.blocked.setdefault(b, set()).add(a)
        return self._recompute({a, b}, pair_of(a, b), key)

    def _candidate(self, pair: Pair, key: Key) -> Decision | None:
        if pair[0] not in self._known or pair[1] not in self._known:
            self._load(set(pair))
        earliest = self._record(pair, key)
        decision = self.union(pair[0], pair[1], key)
        if not isinstance(decision, Refusal) or not earliest:
            return decision
        around = self.component(pair[0]) | self.component(pair[1])
        self._list(around)
        if self.candidates[pair[0]][pair[1]] != key or order(pair, key) >= self._newest(around, pair):
            return decision  # the stored link was earlier, or this one is not late: exact
        return self._recompute(set(pair), pair, key) or decision

    def _record(self, pair: Pair, key: Key) -> bool:
        """Remember the link; False when an earlier occurrence of the pair is known."""
        a, b = pair
        known = self.candidates.get(a, {}).get(b)
        if known is not None and known <= key:
            return False
        self.candidates.setdefault(a, {})[b] = key
        self.candidates.setdefault(b, {})[a] = key
        self.new_candidates[pair] = key
        return True

    def _newest(self, nodes: set[str], pair: Pair) -> tuple:
        """The latest place in event time of a candidate touching ``nodes``, ``pair`` aside."""
        newest: tuple = ()
        for node in nodes:
            for other, key in self.candidates.get(node, {}).items():
                found = pair_of(node, other)
                if found != pair:
                    newest = max(newest, order(found, key))
        return newest

    def _closure(self, start: set[str]) -> set[str]:
        """Every node connected to ``start`` through components or recorded candidates."""
        closure, frontier = set(), set(start)
        while frontier:
            self._load(frontier)
            grown = set().union(*(self.component(n) for n in frontier)) - closure
            closure |= grown
            self._list(grown)
            frontier = {other for node in grown for other in self.candidates.get(node, {})} - closure
        return closure

    def _recompute(self, start: set[str], via: Pair, key: Key) -> Regroup | None:
        """Replay the closure of ``start``; None when nothing changed, or when its components
        are not held together by recorded candidates (a graph written before candidates
        were recorded: replaying it would split customers its missing links made)."""
        nodes = self._closure(start)
        if not self._recorded(nodes):
            return None
        links = {pair_of(a, b): min(k, self.candidates[b][a]) for a in nodes for b, k in self.candidates.get(a, {}).items()
                 if a in self.candidates.get(b, {})}  # held by both nodes: an erased node's hash is gone
        blocked = {node: self.blocked[node] & nodes for node in nodes if node in self.blocked}
        fresh, decisions = replay(links, blocked, self.rules)
        before = {frozenset(self.component(n)) for n in nodes}
        after = {frozenset(fresh.component(n)) for n in nodes}
        if before == after:
            return None
        changed = sorted((tuple(sorted(c, key=rank)) for c in after - before), key=lambda c: rank(c[0]))
        previous = tuple(sorted({min(c, key=rank) for c in before - after}, key=rank))
        for node in nodes:
            self.roots.pop(node, None)
            self.members.pop(node, None)
        for component in after:
            root = min(component, key=rank)
            self.roots.update((n, root) for n in component if n != root)
            if len(component) > 1:
                self.members[root] = set(component)
        touched = {n for c in changed for n in c}
        refused = tuple(d for d in decisions if isinstance(d, Refusal) and set(d.via) & touched)
        return Regroup(key[1], key[0], via, tuple(changed), previous, refused)

    def _recorded(self, nodes: set[str]) -> bool:
        linked = Components(rules=LinkRules(limits={}))
        for node in nodes:
            for other in self.candidates.get(node, {}):
                if node in self.candidates.get(other, {}):
                    linked.union(node, other, (0, ""))
        return all(linked.root(n) == linked.root(self.root(n)) for n in nodes)

    def _load(self, nodes: set[str]) -> None:
        if self.source is None or nodes <= self._known:
            return
        roots, members, blocked = self.source.components(nodes - self._known)
        self.roots.update(roots)
        self.members.update(members)
        for node, apart in blocked.items():
            self.blocked.setdefault(node, set()).update(apart)
        self._known |= nodes | set(roots) | {m for found in members.values() for m in found}

    def _list(self, nodes: set[str]) -> None:
        if self.source is None or nodes <= self._listed:
            return
        for node, stored in self.source.candidates(nodes - self._listed).items():
            mine = self.candidates.setdefault(node, {})
            for other, key in stored.items():
                if other not in mine or key < mine[other]:
                    mine[other] = key
        self._listed |= nodes
