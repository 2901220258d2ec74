"""The incremental identity graph equals its definition — the replay of every link
candidate in event time under the blocked pairs and the rules — whatever order links and
blocks arrive in, held whole in memory or loaded piecemeal as the worker loads it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams.identity.components import Components, replay
from streams.identity.graph import Candidates, IdentityGraph
from streams.identity.nodes import rank
from streams.identity.rules import Merge, LinkRules, Refusal, Regroup, pair_of
from tests.unit.streams.budget import examples

NODES = ["user_id:u1", "user_id:u2", "email:e1", "email:e2", "email:e3", "phone:p1", "anonymous_id:a1",
         "anonymous_id:a2", "device_id:d1"]
RULES = LinkRules(limits={"user_id": 1, "email": 2, "phone": 1, "device_id": 1})
Event = tuple[list[str], int]  # the nodes an event carries, when it happened
events = st.lists(st.tuples(st.lists(st.sampled_from(NODES), min_size=2, max_size=3, unique=True),
                            st.integers(0, 20)), max_size=12)
pairs = st.lists(st.tuples(st.sampled_from(NODES), st.sampled_from(NODES)).filter(lambda p: p[0] != p[1]), max_size=2)


def _customers(graph: Components) -> set[frozenset[str]]:
    return {frozenset(graph.component(n)) for n in NODES}


def _definition(batch: list[Event], blocked: list[tuple[str, str]]) -> set[frozenset[str]]:
    links = {}
    for i, (nodes, at) in enumerate(batch):
        strongest = min(nodes, key=rank)
        for other in set(nodes) - {strongest}:
            pair, key = pair_of(strongest, other), (at, f"e{i:02d}")
            links[pair] = min(links.get(pair, key), key)
    apart: dict[str, set[str]] = {}
    for a, b in blocked:
        apart.setdefault(a, set()).add(b)
        apart.setdefault(b, set()).add(a)
    return _customers(replay(links, apart, RULES)[0])


@examples(2000)
@given(events, pairs, st.randoms(use_true_random=False))
def test_any_delivery_order_and_any_moment_of_the_blocks_give_the_definition(batch, blocked, rng):
    arrivals = [("link", i) for i in range(len(batch))] + [("block", j) for j in range(len(blocked))]
    rng.shuffle(arrivals)
    graph = IdentityGraph(rules=RULES)
    for what, i in arrivals:
        if what == "link":
            graph.link(batch[i][0], f"e{i:02d}", batch[i][1])
        else:
            graph.block(*blocked[i], (100 + i, f"block-{i}"))
    assert _customers(graph) == _definition(batch, blocked)


class MemorySource:
    """A stored graph held in dicts: what Redis holds, for a graph that loads piecemeal."""

    def __init__(self):
        self.roots: dict[str, str] = {}
        self.members: dict[str, set[str]] = {}
        self.links: Candidates = {}

    def components(self, nodes: set[str]):
        found = {self.roots.get(n, n) for n in nodes}
        members = {r: set(self.members[r]) for r in found if r in self.members}
        return {m: r for r, ms in members.items() for m in ms if m != r}, members, {}

    def candidates(self, nodes: set[str]) -> Candidates:
        return {n: dict(self.links.get(n, {})) for n in nodes}

    def store(self, graph: IdentityGraph, nodes: set[str]) -> None:
        """Write back what a batch's graph knows about ``nodes`` (the worker's commit)."""
        for node in nodes:
            self.roots.pop(node, None)
            self.members.pop(node, None)
        for node in nodes:
            if graph.root(node) != node:
                self.roots[node] = graph.root(node)
            elif len(graph.component(node)) > 1:
                self.members[node] = set(graph.component(node))
        for (a, b), key in graph.new_candidates.items():
            for x, y in ((a, b), (b, a)):
                stored = self.links.setdefault(x, {})
                stored[y] = min(stored.get(y, key), key)


@examples(1500)
@given(events, st.integers(1, 4))
def test_a_graph_loaded_piecemeal_batch_by_batch_equals_the_graph_held_whole(batch, size):
    whole, source = IdentityGraph(rules=RULES), MemorySource()
    for start in range(0, len(batch), size):
        part = list(enumerate(batch))[start:start + size]
        nodes = sorted({n for _, (event, _) in part for n in event})
        roots, members, blocked = source.components(set(nodes))
        graph = IdentityGraph(roots, members, RULES, blocked, source, set(nodes) | set(roots))
        written = set(nodes)
        for i, (event, at) in part:
            for decision in graph.link(event, f"e{i:02d}", at):
                written |= _placed(decision)
            whole.link(event, f"e{i:02d}", at)
        source.store(graph, written)
    stored = IdentityGraph(dict(source.roots), {r: set(m) for r, m in source.members.items()})
    assert _customers(stored) == _customers(whole) == _definition(batch, [])


def _placed(decision) -> set[str]:
    """The nodes whose component a decision changed (what the store rewrites)."""
    if isinstance(decision, Merge):
        return {decision.winner, *decision.moved}
    if isinstance(decision, Regroup):
        return {n for c in decision.components for n in c}
    return set()


def test_a_late_link_that_breaks_no_rule_is_a_plain_merge():
    graph = IdentityGraph(rules=RULES)
    graph.link(["user_id:u1", "anonymous_id:a1"], "e2", 5)
    (merge,) = graph.link(["anonymous_id:a1", "email:e1"], "e1", 1)
    assert isinstance(merge, Merge) and graph.component("email:e1") == {"user_id:u1", "anonymous_id:a1", "email:e1"}


def test_a_refused_link_newer_than_everything_around_it_is_a_plain_refusal():
    graph = IdentityGraph(rules=RULES)  # a shared device seen with a second account
    graph.link(["user_id:u1", "device_id:d1"], "e1", 1)
    (refusal,) = graph.link(["user_id:u2", "device_id:d1"], "e2", 2)
    assert isinstance(refusal, Refusal) and graph.component("user_id:u2") == {"user_id:u2"}


def test_a_late_link_that_wins_its_slot_in_event_time_regroups_the_components():
    source = MemorySource()
    graph = IdentityGraph(rules=RULES, source=source)
    graph.link(["user_id:u2", "anonymous_id:a1"], "e2", 5)
    (regroup,) = graph.link(["user_id:u1", "anonymous_id:a1"], "e1", 1)
    assert isinstance(regroup, Regroup)
    assert regroup.components == (("user_id:u1", "anonymous_id:a1"), ("user_id:u2",))
    assert regroup.previous == ("user_id:u1", "user_id:u2") == regroup.roots
    assert [(r.event_id, r.via) for r in regroup.refused] == [("e2", ("user_id:u2", "anonymous_id:a1"))]


def test_a_pair_seen_again_counts_from_its_earliest_occurrence():
    graph = IdentityGraph(rules=RULES)
    graph.link(["user_id:u1", "anonymous_id:a1"], "e1", 1)
    graph.link(["user_id:u2", "anonymous_id:a2"], "e2", 2)
    graph.link(["anonymous_id:a1", "anonymous_id:a2"], "e3", 3)
    (again,) = graph.link(["anonymous_id:a1", "anonymous_id:a2"], "e9", 9)  # later again: refused, nothing recorded
    assert isinstance(again, Refusal) and graph.new_candidates[("anonymous_id:a1", "anonymous_id:a2")] == (3, "e3")
    (earlier,) = graph.link(["anonymous_id:a1", "anonymous_id:a2"], "e0", 0)  # before both identifies: it wins
    assert isinstance(earlier, Regroup) and graph.new_candidates[("anonymous_id:a1", "anonymous_id:a2")] == (0, "e0")
    assert graph.component("user_id:u1") == {"user_id:u1", "anonymous_id:a1", "anonymous_id:a2"}
    assert [r.event_id for r in earlier.refused] == ["e2"]


def test_a_graph_written_before_candidates_were_recorded_is_never_split_by_a_replay():
    from panorama.errors import StreamError
    from streams.identity.unmerge import plan_unmerge

    graph = IdentityGraph({"anonymous_id:a1": "user_id:u1"}, {"user_id:u1": {"user_id:u1", "anonymous_id:a1"}}, RULES)
    graph.link(["user_id:u1", "email:e1"], "e2", 5)
    (refusal,) = graph.link(["user_id:u2", "anonymous_id:a1"], "e1", 1)  # late, but u1 + a1 is not recorded
    assert isinstance(refusal, Refusal)
    assert graph.component("anonymous_id:a1") == {"user_id:u1", "anonymous_id:a1", "email:e1"}
    try:
        plan_unmerge(graph, "user_id:u1", "anonymous_id:a1", 10, "x")
    except StreamError as e:
        assert "cdp replay" in str(e)
    else:
        raise AssertionError("unmerged a customer whose links are not recorded")


def test_a_recompute_never_brings_back_an_erased_customer():
    source, rules = MemorySource(), LinkRules(limits={"user_id": 1})
    graph = IdentityGraph(rules=rules, source=source)
    written = set()
    for i, (nodes, at) in enumerate([(["user_id:u1", "anonymous_id:a1"], 1), (["user_id:u2", "anonymous_id:a2"], 2),
                                     (["anonymous_id:a1", "anonymous_id:a2"], 3)]):  # the last: refused, two users
        for decision in graph.link(nodes, f"e{i}", at):
            written |= _placed(decision)
    source.store(graph, written | {"anonymous_id:a1", "anonymous_id:a2"})
    for node in ("user_id:u2", "anonymous_id:a2"):  # erasure: every key named after the customer's nodes
        source.links.pop(node)
        source.roots.pop(node, None)
        source.members.pop(node, None)
    roots, members, blocked = source.components({"user_id:u1", "anonymous_id:a1"})
    again = IdentityGraph(roots, members, rules, blocked, source, {"user_id:u1", "anonymous_id:a1"})
    regroup = again.block("user_id:u1", "anonymous_id:a1", (9, "unmerge"))
    assert regroup is not None and again.component("anonymous_id:a1") == {"anonymous_id:a1"}  # not a2 again
