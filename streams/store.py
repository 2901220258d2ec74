"""Profile and identity state in Redis, written together with the Kafka position.

Layout (``{ns}`` is the topic prefix, so side-by-side deployments and tests never meet):

=============================  ==========================================================
``{ns}:off:{topic}:{p}``       last offset of partition ``p`` whose effects are stored
``{ns}:pf:{node}``             hash, field ``p``: the partial profile of the events routed
                               by identity ``node`` that arrived on partition ``p``; field
                               ``p:dd``: that partial's dedup memory (worker only)
``{ns}:id:root:{node}``        the root (customer id) of a non-root node
``{ns}:id:members:{root}``     set: every node of a customer (absent for a singleton)
``{ns}:id:label:{node}``       ``kind:value`` of a node, for ``cdp identity explain``
``{ns}:id:log:{node}``         list of JSON merge/refusal decisions involving root ``node``
=============================  ==========================================================

One partial has exactly one writer: the owner of partition ``p``. A batch of partition
``p`` is written in one MULTI/EXEC with the new offset, under WATCH of the offset key
(fencing: a worker that lost the partition, or never had the position it thinks it has,
fails with :class:`FencedError` instead of writing) and of the graph keys its links read
(two workers linking the same customers concurrently: one retries on the new graph).

Not Redis Cluster ready: a transaction spans many hash slots. See streams/README.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from redis import Redis, WatchError

from panorama.errors import FencedError, ProfileNotFound
from streams.identity.graph import Decision, IdentityGraph, LinkRules, Merge
from streams.profiles.codec import decode_partial, encode_partial
from streams.profiles.fold import Partial

_RESOLVE = """
local root = redis.call('GET', KEYS[1]) or ARGV[1]
local members = redis.call('SMEMBERS', ARGV[2] .. root)
if #members == 0 then members = {root} end
table.insert(members, 1, root)
return members
"""
# One command per batch instead of one per partial: redis-py spends ~20 us packing and
# parsing each command, more than the fold itself.
_LOAD_PARTIALS = """
local out = {}
for i, key in ipairs(KEYS) do out[i] = redis.call('HMGET', key, ARGV[1], ARGV[2]) end
return out
"""
_STORE_PARTIALS = """
for i, key in ipairs(KEYS) do redis.call('HSET', key, ARGV[1], ARGV[2 * i + 1], ARGV[2], ARGV[2 * i + 2]) end
return #KEYS
"""
DEDUP_SUFFIX = ":dd"


@dataclass(frozen=True)
class LinkRequest:
    """An event that carried two or more identities."""

    nodes: tuple[str, ...]
    event_id: str
    occurred_at: int


class Keys:
    def __init__(self, namespace: str):
        self.ns = namespace

    def offset(self, topic: str, partition: int) -> str:
        return f"{self.ns}:off:{topic}:{partition}"

    def partial(self, node: str) -> str:
        return f"{self.ns}:pf:{node}"

    def root(self, node: str) -> str:
        return f"{self.ns}:id:root:{node}"

    @property
    def members_prefix(self) -> str:
        return f"{self.ns}:id:members:"

    def members(self, root: str) -> str:
        return self.members_prefix + root

    def label(self, node: str) -> str:
        return f"{self.ns}:id:label:{node}"

    def log(self, node: str) -> str:
        return f"{self.ns}:id:log:{node}"


class ProfileStore:
    def __init__(self, redis: Redis, namespace: str, rules: LinkRules | None = None):
        self.redis = redis
        self.keys = Keys(namespace)
        self.rules = rules or LinkRules()
        self._resolve = redis.register_script(_RESOLVE)
        self._load_partials = redis.register_script(_LOAD_PARTIALS)
        self._store_partials = redis.register_script(_STORE_PARTIALS)

    # -- positions and partials (the worker) -------------------------------------------

    def offset(self, topic: str, partition: int) -> int:
        """The last offset whose effects are stored, -1 when none."""
        value = self.redis.get(self.keys.offset(topic, partition))
        return -1 if value is None else int(value)

    def load_partials(self, partition: int, nodes: Iterable[str]) -> dict[str, Partial | None]:
        """The stored partials (with dedup memory) of ``nodes`` on ``partition``; None when new."""
        nodes = list(nodes)
        if not nodes:
            return {}
        found = self._load_partials(keys=[self.keys.partial(n) for n in nodes],
                                    args=[partition, f"{partition}{DEDUP_SUFFIX}"])
        return {node: None if agg is None else decode_partial(agg, dd) for node, (agg, dd) in zip(nodes, found)}

    def commit(self, topic: str, partition: int, expected: int, offset: int, partials: Mapping[str, Partial],
               links: list[LinkRequest], labels: Mapping[str, str]) -> list[Decision]:
        """Store a batch's partials, links and labels with the partition's new ``offset``,
        atomically. ``expected`` is the offset this writer believes is stored; if another
        writer moved it, raises :class:`FencedError` and writes nothing."""
        blob_args = [blob for p in partials.values() for blob in encode_partial(p)]
        partial_keys = [self.keys.partial(node) for node in partials]
        offset_key = self.keys.offset(topic, partition)
        link_nodes = sorted({n for request in links for n in request.nodes})
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(offset_key, *(self.keys.root(n) for n in link_nodes))
                    stored = pipe.get(offset_key)
                    stored = -1 if stored is None else int(stored)
                    if stored != expected:
                        raise FencedError(topic, partition, expected, stored)
                    graph = self._watched_graph(pipe, link_nodes)
                    decisions = [d for r in links for d in graph.link(r.nodes, r.event_id, r.occurred_at)]
                    pipe.multi()
                    if partial_keys:
                        self._store_partials(keys=partial_keys, client=pipe,
                                             args=[partition, f"{partition}{DEDUP_SUFFIX}", *blob_args])
                    for node, label in labels.items():
                        pipe.set(self.keys.label(node), label)
                    for decision in decisions:
                        self._queue_decision(pipe, decision)
                    pipe.set(offset_key, offset)
                    pipe.execute()
                    return decisions
                except WatchError:
                    continue

    def _watched_graph(self, pipe, nodes: list[str]) -> IdentityGraph:
        """The part of the graph ``nodes`` belong to, read after WATCHing every key it came
        from (so a concurrent change aborts our EXEC rather than being overwritten)."""
        if not nodes:
            return IdentityGraph(rules=self.rules)
        stored_roots = self.redis.mget([self.keys.root(n) for n in nodes])
        roots = {n: r.decode() for n, r in zip(nodes, stored_roots) if r is not None}
        components = sorted(set(roots.values()) | (set(nodes) - roots.keys()))
        pipe.watch(*(self.keys.members(r) for r in components))
        reader = self.redis.pipeline(transaction=False)
        for root in components:
            reader.smembers(self.keys.members(root))
        members = {root: {m.decode() for m in found} for root, found in zip(components, reader.execute()) if found}
        for root, found in members.items():
            roots.update((m, root) for m in found if m != root)
        return IdentityGraph(roots, members, self.rules)

    def _queue_decision(self, pipe, decision: Decision) -> None:
        entry = orjson.dumps(decision.as_dict())
        if isinstance(decision, Merge):
            for node in decision.moved:
                pipe.set(self.keys.root(node), decision.winner)
            pipe.sadd(self.keys.members(decision.winner), decision.winner, *decision.moved)
            pipe.delete(self.keys.members(decision.loser))
            involved = (decision.winner, decision.loser)
        else:
            involved = decision.roots
        for root in involved:
            pipe.rpush(self.keys.log(root), entry)

    # -- reads (API, CLI) ---------------------------------------------------------------

    def resolve(self, node: str) -> tuple[str, list[str]]:
        """(customer id, every node of that customer), read atomically."""
        found = [m.decode() for m in self._resolve(keys=[self.keys.root(node)], args=[node, self.keys.members_prefix])]
        return found[0], found[1:]

    def read_partials(self, nodes: Iterable[str]) -> list[Partial]:
        pipe = self.redis.pipeline(transaction=False)
        for node in nodes:
            pipe.hgetall(self.keys.partial(node))
        return [decode_partial(blob) for fields in pipe.execute() for field, blob in fields.items()
                if not field.endswith(DEDUP_SUFFIX.encode())]

    def explain(self, node: str) -> dict[str, Any]:
        """The customer ``node`` belongs to, its identities, and every merge or refused
        link recorded on any of them, oldest first. Raises ProfileNotFound for a node no
        event ever carried."""
        customer_id, members = self.resolve(node)
        labels = self.redis.mget([self.keys.label(m) for m in members])
        if not any(labels):
            raise ProfileNotFound(f"no customer has the identity node {node}")
        pipe = self.redis.pipeline(transaction=False)
        for member in members:
            pipe.lrange(self.keys.log(member), 0, -1)
        entries = {raw: orjson.loads(raw) for found in pipe.execute() for raw in found}
        label_of = {m: (lbl.decode() if lbl else m) for m, lbl in zip(members, labels)}
        history = sorted(entries.values(), key=lambda e: (e["occurred_at"], e["event_id"]))
        return {"customer_id": customer_id, "identities": sorted(label_of.values()), "labels": label_of,
                "history": history}
