"""Unmerge: split a customer back apart where an operator says two identities are not the
same person, and make sure no link can silently merge them again.

Unmerging A and B blocks the pair A/B and recomputes the closure around them from the
recorded link candidates (:mod:`streams.identity.graph`): the links are replayed in event
time, and any link that would put A and B in one component is refused — whichever event
carried it, a producer duplicate or a late delivery included. So the result is the same
whether the links arrived before or after the unmerge, in any order. The decision
(the pair, the reason, the components it changed) is appended to ``{ns}:id:unmerges``,
an operator record a rebuild keeps together with the block sets.

Profiles need no recomputation step: a profile is the merge of the partials of its
identities (streams/README.md), so each side's next read already holds exactly its own
events. The customers made or ended are marked due so their signals and segments are
re-evaluated; ``<prefix>.identity`` gets the unmerge record (both sides) and a merge-shaped
record for any other component the replay changed.
"""

from __future__ import annotations

from typing import Any

import orjson
from redis import WatchError

from panorama.errors import StreamError
from streams.identity.graph import IdentityGraph
from streams.identity.nodes import rank
from streams.identity.rules import Regroup
from streams.outbox import outbox_entry, record_id
from streams.signals.due import owner
from streams.store import ProfileStore


def plan_unmerge(graph: IdentityGraph, a: str, b: str, now: int, decision_id: str,
                 reason: str = "") -> tuple[dict[str, Any], Regroup]:
    """Unmerge ``a`` and ``b`` in ``graph``; return the decision that records it and the
    regroup it caused. Raises StreamError when they are not one customer or the links
    that made it are not recorded."""
    if a == b:
        raise StreamError(f"cannot unmerge {a} from itself; name two identities of the customer")
    root = graph.root(a)
    if graph.root(b) != root:
        raise StreamError(f"{a} and {b} belong to different customers ({root}, {graph.root(b)}); nothing to unmerge")
    regroup = graph.block(a, b, (now, decision_id))
    if regroup is None:  # a block between two members splits them, unless their links are not recorded
        raise StreamError(f"the links that made {root} are not recorded (state from before link candidates "
                          "were recorded); rebuild the profiles (`cdp replay`) first")
    sides = [sorted(graph.component(a), key=rank), sorted(graph.component(b), key=rank)]
    decision = {"action": "unmerge", "event_id": decision_id, "occurred_at": now, "recorded_at": now,
                "customer_id": root, "customers": [side[0] for side in sides], "apart": [a, b],
                "sides": [sorted(side) for side in sides], "components": [list(c) for c in regroup.components],
                "previous": list(regroup.previous), "reason": reason}
    return decision, regroup


def unmerge(store: ProfileStore, a: str, b: str, now: int, partitions: int, reason: str = "") -> dict[str, Any]:
    """Split the customer holding nodes ``a`` and ``b``; return the recorded decision.
    Raises StreamError when they are not one customer or their links are not recorded."""
    keys = store.keys
    with store.redis.pipeline() as pipe:
        while True:
            try:
                graph = store.graphs.watched(pipe, [a, b])
                decision, regroup = plan_unmerge(graph, a, b, now, record_id(keys.ns, "unmerge", a, b, str(now)), reason)
                customers, root = decision["customers"], decision["customer_id"]
                pipe.multi()
                store.graphs.queue(pipe, [regroup], {}, keys.outbox(owner(root, partitions)),
                                   keys.due(owner(root, partitions)), now, now, silent=customers, logged=False)
                for x, y in ((a, b), (b, a)):
                    pipe.sadd(keys.block(x), y)
                pipe.rpush(keys.unmerges, orjson.dumps(decision))
                record = {"id": decision["event_id"], **decision}
                pipe.hset(keys.outbox(owner(root, partitions)), *outbox_entry(store.identity_topic, root, record))
                pipe.execute()
                return decision
            except WatchError:
                continue
