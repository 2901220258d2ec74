"""Unmerge: split a customer back apart where an operator says two identities are not the
same person, and make sure the same link cannot silently merge them again.

The graph history is the log of decisions: every merge records the link (``via``) that
joined two components, so a customer's accepted links form a tree over its identities.
Unmerging A and B removes the most recent link on the tree path between them (the merge
that brought them together), recomputes both sides' roots (customer ids), blocks the
pair and the removed link (a later link — a duplicate of the same event included — that
would put either pair together again is refused and recorded), and
appends the decision to ``{ns}:id:unmerges``, an operator record a rebuild keeps.

Profiles need no recomputation step: a profile is the merge of the partials of its
identities (streams/README.md), so each side's next read already holds exactly its own
events. Both customers are marked due so their signals are re-evaluated.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

import orjson
from redis import WatchError

from panorama.errors import StreamError
from streams.identity.graph import IdentityGraph
from streams.outbox import outbox_entry, record_id
from streams.signals.due import TOUCH_LUA, owner
from streams.store import ProfileStore

Edge = tuple[str, str, tuple[int, str]]  # two nodes and the (occurred_at, event_id) of the link

_TOUCH = TOUCH_LUA + "for i, key in ipairs(KEYS) do touch(key, ARGV[i + 1], tonumber(ARGV[1])) end return #KEYS"


def tree_edges(members: set[str], history: Iterable[dict[str, Any]]) -> list[Edge]:
    """The links currently holding ``members`` together, from the decision history."""
    removed = {frozenset(h["removed"]) for h in history if h["action"] == "unmerge"}
    return [(h["via"][0], h["via"][1], (h["occurred_at"], h["event_id"])) for h in history
            if h["action"] == "merge" and set(h["via"]) <= members and frozenset(h["via"]) not in removed]


def split(members: set[str], edges: list[Edge], a: str, b: str) -> tuple[set[str], set[str], Edge]:
    """(side of ``a``, side of ``b``, the link removed): the newest link on the path a -> b."""
    if a == b:
        raise StreamError(f"cannot unmerge {a} from itself; name two identities of the customer")
    path = _path(edges, a, b)
    if path is None:
        raise StreamError(f"no recorded link joins {a} and {b}; nothing to unmerge")
    cut = max(path, key=lambda e: e[2])
    side_a = _reachable(a, [e for e in edges if e is not cut])
    return side_a, members - side_a, cut


def _neighbours(edges: list[Edge]) -> dict[str, list[tuple[str, Edge]]]:
    out: dict[str, list[tuple[str, Edge]]] = {}
    for edge in edges:
        x, y, _ = edge
        out.setdefault(x, []).append((y, edge))
        out.setdefault(y, []).append((x, edge))
    return out


def _path(edges: list[Edge], a: str, b: str) -> list[Edge] | None:
    graph = _neighbours(edges)
    came: dict[str, Edge | None] = {a: None}
    queue = deque([a])
    while queue:
        node = queue.popleft()
        if node == b:
            path, edge = [], came[b]
            while edge is not None:
                path.append(edge)
                node = edge[0] if edge[1] == node else edge[1]
                edge = came[node]
            return path
        for other, edge in graph.get(node, ()):
            if other not in came:
                came[other] = edge
                queue.append(other)
    return None


def _reachable(start: str, edges: list[Edge]) -> set[str]:
    graph, seen, queue = _neighbours(edges), {start}, deque([start])
    while queue:
        for other, _ in graph.get(queue.popleft(), ()):
            if other not in seen:
                seen.add(other)
                queue.append(other)
    return seen


def plan_unmerge(graph: IdentityGraph, history: list[dict[str, Any]], a: str, b: str, now: int,
                 decision_id: str, reason: str = "") -> dict[str, Any]:
    """Unmerge ``a`` and ``b`` in ``graph`` (which holds at least their component) using the
    component's decision ``history``; return the decision that records it."""
    root, members = graph.root(a), graph.component(a)
    side_a, side_b, cut = split(set(members), tree_edges(set(members), history), a, b)
    roots = graph.apart(side_a, side_b, [(a, b), cut[:2]])
    return {"action": "unmerge", "event_id": decision_id, "occurred_at": now, "recorded_at": now, "customer_id": root,
            "customers": list(roots), "apart": [a, b], "removed": list(cut[:2]),
            "sides": [sorted(side_a), sorted(side_b)], "reason": reason}


def unmerge(store: ProfileStore, a: str, b: str, now: int, partitions: int, reason: str = "") -> dict[str, Any]:
    """Split the customer holding nodes ``a`` and ``b``; return the recorded decision.
    Raises StreamError when they are not one customer or no recorded link joins them."""
    keys, redis = store.keys, store.redis
    touch = redis.register_script(_TOUCH)
    with redis.pipeline() as pipe:
        while True:
            try:
                pipe.watch(keys.root(a), keys.root(b))
                (root, members), (root_b, _) = store.resolve(a), store.resolve(b)
                if root != root_b:
                    raise StreamError(f"{a} and {b} belong to different customers ({root}, {root_b}); nothing to unmerge")
                pipe.watch(keys.members(root), *(keys.root(m) for m in members))
                again, now_members = store.resolve(a)
                if (again, set(now_members)) != (root, set(members)):
                    continue  # the component changed before it was watched: read it again
                graph = IdentityGraph({m: root for m in members if m != root}, {root: set(members)})
                decision = plan_unmerge(graph, store.history(members), a, b, now,
                                        record_id(keys.ns, "unmerge", a, b, str(now)), reason)
                roots = decision["customers"]
                pipe.multi()
                pipe.delete(keys.members(root))
                for node in members:
                    if node in graph.roots:
                        pipe.set(keys.root(node), graph.roots[node])
                    else:
                        pipe.delete(keys.root(node))
                for new_root in roots:
                    if new_root in graph.members:
                        pipe.sadd(keys.members(new_root), *graph.members[new_root])
                for x, y in (decision["apart"], decision["removed"]):
                    pipe.sadd(keys.block(x), y)
                    pipe.sadd(keys.block(y), x)
                pipe.rpush(keys.unmerges, orjson.dumps(decision))
                record = {"id": decision["event_id"], **decision}
                pipe.hset(keys.outbox(owner(root, partitions)), *outbox_entry(store.identity_topic, root, record))
                touch(keys=[keys.due(owner(r, partitions)) for r in roots], args=[now, *roots], client=pipe)
                pipe.execute()
                return decision
            except WatchError:
                continue
