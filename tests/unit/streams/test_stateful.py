"""A stateful property test of the whole pure pipeline — route, fold, link, merge, unmerge,
read-time merge — over sequences of identify / alias / track events, duplicated and
delayed (reordered) deliveries and operator unmerges:

* twice equals once: a system that also receives duplicates has the same profiles and
  customers as one that receives each event once;
* delivery order does not matter: every partial equals the fold of its events in reverse
  order, and the customers equal both those built by linking the events in reverse order
  (with the operator's unmerges given up front as blocked pairs) and the pure definition
  (:func:`streams.identity.components.replay` of the links in event time) — with limits
  small enough to bite (1 user_id, 2 emails) and with unmerges.
"""

from __future__ import annotations

from functools import reduce

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from panorama.errors import StreamError
from streams.identity.components import replay
from streams.identity.graph import IdentityGraph
from streams.identity.nodes import rank
from streams.identity.rules import LinkRules, pair_of
from streams.identity.unmerge import plan_unmerge
from streams.profiles.fold import Partial, apply, fold, merge
from tests.unit.streams.budget import examples
from tests.unit.streams.events import make_event

USERS, EMAILS, ANONYMOUS = ["u1", "u2"], ["e1", "e2", "e3"], ["a1", "a2", "a3"]
NODES = [f"user_id:{v}" for v in USERS] + [f"email:{v}" for v in EMAILS] + [f"anonymous_id:{v}" for v in ANONYMOUS]
RULES = LinkRules(limits={"user_id": 1, "email": 2})


def _nodes(event: dict) -> list[str]:
    return sorted((f"{kind}:{value}" for kind, value in event["identities"].items() if value), key=rank)


class System:
    """Partials per routing node, the identity graph and its decision history."""

    def __init__(self, blocked: list[tuple[str, str]] = ()):
        self.partials: dict[str, Partial] = {}
        self.graph = IdentityGraph(rules=RULES)
        for a, b in blocked:
            self.graph.blocked.setdefault(a, set()).add(b)
            self.graph.blocked.setdefault(b, set()).add(a)

    def deliver(self, event: dict) -> None:
        nodes = _nodes(event)
        partial = self.partials.setdefault(nodes[0], Partial())
        before = partial.events
        if apply(partial, event).events == before:
            return  # a duplicate: as in the worker, it links nothing
        self.graph.link(nodes, event["event_id"], event["occurred_at"])

    def unmerge(self, a: str, b: str, now: int) -> bool:
        try:
            plan_unmerge(self.graph, a, b, now, f"unmerge-{now}")
        except StreamError:
            return False
        return True

    def customers(self) -> set[frozenset[str]]:
        return {frozenset(self.graph.component(n)) for n in NODES}

    def profile(self, node: str) -> Partial:
        found = [self.partials[m] for m in sorted(self.graph.component(node)) if m in self.partials]
        return reduce(merge, found, Partial())


def _event(n: int, seed: int, identities: dict) -> dict:
    event = make_event(f"ev-{n}", seed) | {"occurred_at": n}
    event["identities"] = identities
    return event


class Pipeline(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.live, self.once = System(), System()
        self.delivered: dict[str, dict] = {}
        self.held: list[dict] = []
        self.count = 0
        self.blocked: list[tuple[str, str]] = []

    def _new(self, seed: int, identities: dict) -> dict:
        self.count += 1
        return _event(self.count, seed, identities)

    def _deliver(self, event: dict) -> None:
        self.live.deliver(event)
        if event["event_id"] not in self.delivered:
            self.delivered[event["event_id"]] = event
            self.once.deliver(event)

    @rule(anon=st.sampled_from(ANONYMOUS), seed=st.integers(0, 2**16), hold=st.booleans())
    def track(self, anon, seed, hold):
        event = self._new(seed, {"anonymous_id": anon})
        self.held.append(event) if hold else self._deliver(event)

    @rule(user=st.sampled_from(USERS), email=st.sampled_from(EMAILS + [None]), anon=st.sampled_from(ANONYMOUS + [None]),
          seed=st.integers(0, 2**16), hold=st.booleans())
    def identify(self, user, email, anon, seed, hold):
        event = self._new(seed, {"user_id": user, "email": email, "anonymous_id": anon})
        self.held.append(event) if hold else self._deliver(event)

    @rule(anon=st.sampled_from(ANONYMOUS), other=st.sampled_from(EMAILS), seed=st.integers(0, 2**16))
    def alias(self, anon, other, seed):
        self._deliver(self._new(seed, {"anonymous_id": anon, "email": other}))

    @precondition(lambda self: self.held)
    @rule(index=st.integers(0, 50))
    def release_late(self, index):
        self._deliver(self.held.pop(index % len(self.held)))

    @precondition(lambda self: self.delivered)
    @rule(index=st.integers(0, 50))
    def duplicate(self, index):
        events = list(self.delivered.values())
        self._deliver(events[index % len(events)])

    @rule(a=st.sampled_from(NODES), b=st.sampled_from(NODES))
    def unmerge(self, a, b):
        self.count += 1
        done = self.live.unmerge(a, b, self.count)
        assert self.once.unmerge(a, b, self.count) == done
        if done:
            self.blocked.append((a, b))

    @invariant()
    def twice_equals_once(self):
        assert self.live.customers() == self.once.customers()
        for node in NODES:
            assert self.live.profile(node) == self.once.profile(node)

    @invariant()
    def delivery_order_does_not_matter(self):
        by_node: dict[str, list[dict]] = {}
        for event in self.delivered.values():
            by_node.setdefault(_nodes(event)[0], []).append(event)
        for node, events in by_node.items():
            assert fold(reversed(events)) == self.live.partials[node]
        reordered = System(self.blocked)
        for event in reversed(list(self.delivered.values())):
            reordered.graph.link(_nodes(event), event["event_id"], event["occurred_at"])
        assert reordered.customers() == self.live.customers()
        links = {}
        for event in self.delivered.values():
            nodes = _nodes(event)
            for other in nodes[1:]:
                pair = pair_of(nodes[0], other)
                links[pair] = min(links.get(pair, (event["occurred_at"], event["event_id"])),
                                  (event["occurred_at"], event["event_id"]))
        blocked: dict[str, set[str]] = {}
        for a, b in self.blocked:
            blocked.setdefault(a, set()).add(b)
            blocked.setdefault(b, set()).add(a)
        defined, _ = replay(links, blocked, RULES)
        assert {frozenset(defined.component(n)) for n in NODES} == self.live.customers()


Pipeline.TestCase.settings = examples(10_000, fast=150, stateful_step_count=15)
test_pipeline = Pipeline.TestCase
