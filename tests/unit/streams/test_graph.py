"""The identity graph: components do not depend on link order, limits are never broken,
and each merge says which event linked which identities."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams.identity.graph import IdentityGraph
from streams.identity.rules import LinkRules, Merge, Refusal
from streams.identity.nodes import NodeNamer, rank
from tests.unit.streams.budget import examples

NODES = ["user_id:u1", "user_id:u2", "email:e1", "email:e2", "phone:p1", "anonymous_id:a1", "anonymous_id:a2",
         "device_id:d1", "external:shop:x1"]
links = st.lists(st.lists(st.sampled_from(NODES), min_size=2, max_size=3, unique=True), max_size=8)
UNLIMITED = LinkRules(limits={})


def _components(graph: IdentityGraph) -> set[frozenset[str]]:
    return {frozenset(graph.component(n)) for n in NODES}


def _apply(graph: IdentityGraph, batch: list[list[str]]) -> IdentityGraph:
    for i, nodes in enumerate(batch):
        graph.link(nodes, f"e{i}", i)
    return graph


@examples(1500)
@given(links, st.randoms(use_true_random=False))
def test_without_limits_components_do_not_depend_on_link_order(batch, rng):
    shuffled = list(batch)
    rng.shuffle(shuffled)
    a, b = _apply(IdentityGraph(rules=UNLIMITED), batch), _apply(IdentityGraph(rules=UNLIMITED), shuffled)
    assert _components(a) == _components(b)
    for component in _components(a):  # the customer id is the strongest member, whatever the order
        assert {a.root(n) for n in component} == {min(component, key=rank)} == {b.root(n) for n in component}


@examples(1000)
@given(links)
def test_limits_are_never_broken_and_replays_change_nothing(batch):
    rules = LinkRules(limits={"user_id": 1, "email": 1})
    graph = _apply(IdentityGraph(rules=rules), batch)
    for component in _components(graph):
        assert rules.violation(component) is None
    before = _components(graph)
    replayed = [d for i, nodes in enumerate(batch) for d in graph.link(nodes, f"e{i}", i)]
    assert not any(isinstance(d, Merge) for d in replayed)
    assert _components(graph) == before


def test_a_shared_device_does_not_merge_two_accounts():
    graph = IdentityGraph()
    graph.link(["user_id:u1", "device_id:d1"], "e1", 1)
    decisions = graph.link(["user_id:u2", "device_id:d1"], "e2", 2)
    assert isinstance(decisions[0], Refusal) and "user_id" in decisions[0].reason
    assert graph.root("device_id:d1") == "user_id:u1"
    assert graph.component("user_id:u2") == {"user_id:u2"}


def test_a_merge_records_the_event_and_the_link():
    graph = IdentityGraph()
    graph.link(["anonymous_id:a1", "email:e1"], "e1", 1)
    (merge,) = graph.link(["user_id:u1", "email:e1"], "e2", 2)
    assert isinstance(merge, Merge)
    assert (merge.event_id, merge.winner, merge.loser, merge.via) == ("e2", "user_id:u1", "email:e1", ("user_id:u1", "email:e1"))
    assert set(merge.moved) == {"anonymous_id:a1", "email:e1"}
    assert graph.component("anonymous_id:a1") == {"user_id:u1", "email:e1", "anonymous_id:a1"}


def test_rules_can_stop_a_kind_from_linking():
    graph = IdentityGraph(rules=LinkRules(linking_kinds=frozenset({"user_id", "email"})))
    assert graph.link(["user_id:u1", "device_id:d1"], "e1", 1) == []
    assert graph.component("user_id:u1") == {"user_id:u1"}


def test_nodes_normalise_before_hashing_and_never_hold_plain_values():
    namer = NodeNamer(b"secret")
    assert namer.node("email", " Ana@Example.com ") == namer.node("email", "ana@example.com") == namer.parse("ana@example.com")
    assert namer.node("phone", "+49 151 00000001") == namer.parse("phone:+4915100000001")
    assert "ana" not in namer.node("email", "ana@example.com")
    pairs = namer.nodes({"anonymous_id": "a", "email": "ana@example.com", "user_id": "u", "external_ids": {"shop": "1"}})
    assert [label for _, label in pairs] == ["user_id:u", "external:shop:1", "email:ana@example.com", "anonymous_id:a"]
    assert namer.parse("customer:user_id:abc") == "user_id:abc"


def test_unmerge_blocks_the_pair_and_replays_the_links_in_event_time():
    from streams.identity.unmerge import plan_unmerge

    graph = IdentityGraph(rules=UNLIMITED)
    for i, nodes in enumerate([["user_id:u1", "email:e1"], ["email:e1", "anonymous_id:a1"], ["user_id:u2", "anonymous_id:a2"],
                               ["anonymous_id:a1", "anonymous_id:a2"]]):
        graph.link(nodes, f"e{i}", i)
    assert graph.component("user_id:u2") == {"user_id:u1", "user_id:u2", "email:e1", "anonymous_id:a1", "anonymous_id:a2"}
    decision, regroup = plan_unmerge(graph, "user_id:u1", "user_id:u2", 10, "x")
    assert graph.component("user_id:u1") == {"user_id:u1", "email:e1", "anonymous_id:a1"}  # e3 is refused now
    assert graph.component("anonymous_id:a2") == {"user_id:u2", "anonymous_id:a2"}
    assert decision["customers"] == ["user_id:u1", "user_id:u2"] and regroup.previous == ("user_id:u1",)
    assert [r.event_id for r in regroup.refused] == ["e3"]
    (again,) = graph.link(["anonymous_id:a1", "anonymous_id:a2"], "e9", 11)
    assert isinstance(again, Refusal) and "unmerged by an operator" in again.reason
