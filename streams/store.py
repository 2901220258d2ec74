"""Profile and identity state in Redis, written together with the Kafka position.

Layout (``{ns}`` is the topic prefix, so side-by-side deployments and tests never meet):

=============================  ==========================================================
``{ns}:off:{topic}:{p}``       last offset of partition ``p`` whose effects are stored
``{ns}:pf:{node}``             hash, field ``p``: the partial profile of the events routed
                               by identity ``node`` that arrived on partition ``p``; field
                               ``p:dd``: that partial's dedup memory (worker only)
``{ns}:ev:{node}``             sorted set: the newest ``RECENT_EVENTS`` events routed by
                               ``node`` (id, type, occurred_at, channel; no personal data)
``{ns}:id:root:{node}``        the root (customer id) of a non-root node
``{ns}:id:members:{root}``     set: every node of a customer (absent for a singleton)
``{ns}:id:label:{node}``       ``kind:value`` of a node, for ``cdp identity explain``
``{ns}:id:log:{node}``         list of JSON merge/refusal/regroup decisions involving root ``node``
``{ns}:id:block:{node}``       set: nodes an operator unmerged from ``node`` (never re-linked)
``{ns}:id:cand:{node}``        hash: other node -> ``occurred_at|event_id``, the earliest
                               event that linked the two (see :mod:`streams.identity.stored`)
``{ns}:id:unmerges``           list of JSON unmerge decisions (operator actions, not in the log)
``{ns}:sig:due:{p}``           sorted set: nodes touched on partition ``p`` and customers
                               owned by ``p``, scored by when their signals are due
``{ns}:sig:state:{customer}``  JSON: the last signals published for a customer, with seq
``{ns}:out:{p}``               hash: outbox of partition ``p`` (records committed, not yet
                               acknowledged by Kafka; see :mod:`streams.outbox`)
=============================  ==========================================================

Erasure of an identity deletes every key that names its node (``pf``, ``ev``, ``id:root``,
``id:members``, ``id:label``, ``id:log``, ``id:block``, ``id:cand``: a link counts only when
both its nodes' ``id:cand`` hold it, so the links to an erased node are gone with its hash), removes the node from other nodes'
``id:block`` sets and drops the ``id:unmerges`` entries naming it, and for a customer
deletes ``sig:state``. ``sig:due`` and the outbox hold node ids (keyed hashes) and
decision details only, never plain identity values; the next sweep drops a due member
whose partials are gone.

One partial has exactly one writer: the owner of partition ``p``. A batch of partition
``p`` is written in one MULTI/EXEC with the new offset (the batches of every partition a
consume call returned, in one MULTI/EXEC together), under WATCH of the offset key
(fencing: a worker that lost the partition, or never had the position it thinks it has,
fails with :class:`FencedError` instead of writing) and of the graph keys its links read
(two workers linking the same customers concurrently: one retries on the new graph).

Not Redis Cluster ready: a transaction spans many hash slots. See streams/README.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from redis import Redis, WatchError

from panorama.errors import FencedError, ProfileNotFound
from streams.identity.rules import Decision, LinkRules
from streams.identity.stored import GraphStore
from streams.profiles.codec import decode_partial, encode_partial
from streams.profiles.fold import Partial
from streams.signals.due import TOUCH_LUA

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
# KEYS: n partial keys, n recent-event keys, the due set. ARGV: field, dedup field, when the
# touched nodes are due, recent-event cap, then per partial: node, aggregate, dedup, events.
_STORE_PARTIALS = TOUCH_LUA + """
local n = (#KEYS - 1) / 2
local at, cap = tonumber(ARGV[3]), tonumber(ARGV[4])
for i = 1, n do
  local base = 4 * i
  redis.call('HSET', KEYS[i], ARGV[1], ARGV[base + 2], ARGV[2], ARGV[base + 3])
  local events = cjson.decode(ARGV[base + 4])
  for _, e in ipairs(events) do redis.call('ZADD', KEYS[n + i], e[1], e[2]) end
  if #events > 0 then redis.call('ZREMRANGEBYRANK', KEYS[n + i], 0, -(cap + 1)) end
  touch(KEYS[#KEYS], ARGV[base + 1], at)
end
return n
"""
DEDUP_SUFFIX = ":dd"
RECENT_EVENTS = 50  # per routing identity


@dataclass(frozen=True)
class LinkRequest:
    """An event that carried two or more identities."""

    nodes: tuple[str, ...]
    event_id: str
    occurred_at: int


@dataclass
class PartitionWrite:
    """One partition's batch for :meth:`ProfileStore.commit_writes`: its partials (with their
    new ``recent`` events: node -> [(occurred_at, member)]), links and labels, and the
    partition's new ``offset``; ``expected`` is the offset the writer believes is stored."""

    partition: int
    expected: int
    offset: int
    partials: Mapping[str, Partial]
    links: list[LinkRequest] = field(default_factory=list)
    labels: Mapping[str, str] = field(default_factory=dict)
    recent: Mapping[str, list] = field(default_factory=dict)


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

    @property
    def prefixes(self) -> list[str]:
        """Prefixes of the root, members and log keys, for scripts that name them."""
        return [self.root(""), self.members_prefix, self.log("")]

    def label(self, node: str) -> str:
        return f"{self.ns}:id:label:{node}"

    def log(self, node: str) -> str:
        return f"{self.ns}:id:log:{node}"

    def block(self, node: str) -> str:
        return f"{self.ns}:id:block:{node}"

    def candidates(self, node: str) -> str:
        return f"{self.ns}:id:cand:{node}"

    def recent(self, node: str) -> str:
        return f"{self.ns}:ev:{node}"

    @property
    def unmerges(self) -> str:
        return f"{self.ns}:id:unmerges"

    def due(self, partition: int) -> str:
        return f"{self.ns}:sig:due:{partition}"

    def signal_state(self, customer: str) -> str:
        return f"{self.ns}:sig:state:{customer}"

    def outbox(self, partition: int) -> str:
        return f"{self.ns}:out:{partition}"

    def families(self) -> list[str]:
        """Patterns of every key derived from the log (rebuild drops them). Kept: operator
        decisions (``id:block``, ``id:unmerges``), the last published signals (so a rebuild
        publishes only real changes) and the outbox (records committed, not yet sent)."""
        return [f"{self.ns}:{family}:*" for family in ("off", "pf", "ev", "id:root", "id:members", "id:label",
                                                         "id:log", "id:cand", "sig:due")]


class ProfileStore:
    def __init__(self, redis: Redis, namespace: str, rules: LinkRules | None = None):
        self.redis = redis
        self.keys = Keys(namespace)
        self.identity_topic = f"{namespace}.identity"  # Settings.topics.identity: the namespace is the topic prefix
        self.rules = rules or LinkRules()
        self._resolve = redis.register_script(_RESOLVE)
        self._load_partials = redis.register_script(_LOAD_PARTIALS)
        self._store_partials = redis.register_script(_STORE_PARTIALS)
        self.graphs = GraphStore(redis, self.keys, self.rules, self.identity_topic)

    # -- positions and partials (the worker) -------------------------------------------

    def offset(self, topic: str, partition: int) -> int:
        """The last offset whose effects are stored, -1 when none."""
        value = self.redis.get(self.keys.offset(topic, partition))
        return -1 if value is None else int(value)

    def load_partials(self, partition: int, nodes: Iterable[str]) -> dict[str, Partial | None]:
        """The stored partials (with dedup memory) of ``nodes`` on ``partition``; None when new."""
        return self.load_partials_of({partition: nodes})[partition]

    def load_partials_of(self, wanted: Mapping[int, Iterable[str]]) -> dict[int, dict[str, Partial | None]]:
        """:meth:`load_partials` of several partitions (partition -> nodes) in one round trip,
        as the worker needs them for one consume call's batches."""
        asked = {partition: list(nodes) for partition, nodes in wanted.items()}
        loading = [partition for partition, nodes in asked.items() if nodes]
        pipe = self.redis.pipeline(transaction=False)
        for partition in loading:
            self._load_partials(keys=[self.keys.partial(n) for n in asked[partition]],
                                args=[partition, f"{partition}{DEDUP_SUFFIX}"], client=pipe)
        found = dict(zip(loading, pipe.execute())) if loading else {}
        return {partition: {node: None if agg is None else decode_partial(agg, dd)
                            for node, (agg, dd) in zip(nodes, found.get(partition, ()))}
                for partition, nodes in asked.items()}

    def commit(self, topic: str, partition: int, expected: int, offset: int, partials: Mapping[str, Partial],
               links: list[LinkRequest], labels: Mapping[str, str], recent: Mapping[str, list] | None = None,
               now: int = 0, debounce_us: int = 0) -> list[Decision]:
        """:meth:`commit_writes` of one partition's batch; its decisions."""
        write = PartitionWrite(partition, expected, offset, partials, links, labels, recent or {})
        return self.commit_writes(topic, [write], now, debounce_us)[partition]

    def commit_writes(self, topic: str, writes: list[PartitionWrite], now: int = 0,
                      debounce_us: int = 0) -> dict[int, list[Decision]]:
        """Store the batches of several partitions atomically, each with its new offset; mark
        the touched nodes due for signals at ``now + debounce_us``; queue merges in each
        partition's outbox. Returns each partition's identity decisions. If another writer
        moved any partition's offset, raises :class:`FencedError` (for the first such
        partition) and writes nothing.

        One transaction for every partition a consume call returned, not one each: at 5,000
        events/s a turn's batch spans all six partitions, and six WATCH / MGET / EXEC rounds
        in a row were most of the time an event waited in the worker."""
        offset_keys = [self.keys.offset(topic, w.partition) for w in writes]
        requests = [(w.partition, r) for w in writes for r in w.links]
        link_nodes = sorted({n for _, r in requests for n in r.nodes})
        labels = {node: label for w in writes for node, label in w.labels.items()}
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    root_keys = [self.keys.root(n) for n in link_nodes]
                    pipe.watch(*offset_keys, *root_keys)
                    found = pipe.mget([*offset_keys, *root_keys])  # one round trip for both
                    for w, stored in zip(writes, found):
                        stored = -1 if stored is None else int(stored)
                        if stored != w.expected:
                            raise FencedError(topic, w.partition, w.expected, stored)
                    graph = self.graphs.watched(pipe, link_nodes, found[len(writes):])
                    decisions: dict[int, list[Decision]] = {w.partition: [] for w in writes}
                    for partition, r in requests:
                        decisions[partition] += graph.link(r.nodes, r.event_id, r.occurred_at)
                    pipe.multi()
                    for w in writes:
                        self._queue_partials(pipe, w, now + debounce_us)
                    if labels:
                        pipe.mset({self.keys.label(node): label for node, label in labels.items()})
                    candidates = graph.new_candidates  # graph-wide: written once
                    for w in writes:
                        self.graphs.queue(pipe, decisions[w.partition], candidates, self.keys.outbox(w.partition),
                                          self.keys.due(w.partition), now, now + debounce_us)
                        candidates = {}
                    for w, key in zip(writes, offset_keys):
                        pipe.set(key, w.offset)
                    pipe.execute()
                    return decisions
                except WatchError:
                    continue

    def _queue_partials(self, pipe, write: PartitionWrite, due_at: int) -> None:
        """Queue the store script of ``write``'s partials and recent events (after MULTI)."""
        if not write.partials:
            return
        nodes = list(write.partials)
        args = [write.partition, f"{write.partition}{DEDUP_SUFFIX}", due_at, RECENT_EVENTS]
        for node, partial in write.partials.items():
            args += [node, *encode_partial(partial), orjson.dumps(write.recent.get(node, ()))]
        keys = [self.keys.partial(n) for n in nodes] + [self.keys.recent(n) for n in nodes]
        keys.append(self.keys.due(write.partition))
        self._store_partials(keys=keys, args=args, client=pipe)

    # -- reads (API, CLI) ---------------------------------------------------------------

    def resolve(self, node: str) -> tuple[str, list[str]]:
        """(customer id, every node of that customer), read atomically."""
        found = [m.decode() for m in self.resolve_queued(self.redis, node)]
        return found[0], found[1:]

    def resolve_queued(self, client, node: str):
        """Run the resolve script on ``client`` (a pipeline queues it): [root, *members]."""
        return self._resolve(keys=[self.keys.root(node)], args=[node, self.keys.members_prefix], client=client)

    def read_partials(self, nodes: Iterable[str]) -> list[Partial]:
        pipe = self.redis.pipeline(transaction=False)
        for node in nodes:
            pipe.hgetall(self.keys.partial(node))
        return [decode_partial(blob) for fields in pipe.execute() for field, blob in fields.items()
                if not field.endswith(DEDUP_SUFFIX.encode())]

    def recent_events(self, nodes: list[str], limit: int) -> list[dict[str, Any]]:
        """The ``limit`` newest events routed by any of ``nodes``, newest first."""
        pipe = self.redis.pipeline(transaction=False)
        for node in nodes:
            pipe.zrange(self.keys.recent(node), 0, limit - 1, desc=True)
        events = [orjson.loads(member) for found in pipe.execute() for member in found]
        events.sort(key=lambda e: (e["occurred_at"], e["id"]), reverse=True)
        return events[:limit]

    def explain(self, node: str) -> dict[str, Any]:
        """The customer ``node`` belongs to, its identities, and every merge or refused
        link recorded on any of them, oldest first. Raises ProfileNotFound for a node no
        event ever carried."""
        customer_id, members = self.resolve(node)
        labels = self.redis.mget([self.keys.label(m) for m in members])
        if not any(labels):
            raise ProfileNotFound(f"no customer has the identity node {node}")
        label_of = {m: (lbl.decode() if lbl else m) for m, lbl in zip(members, labels)}
        history = self.history(members)
        return {"customer_id": customer_id, "identities": sorted(label_of.values()), "labels": label_of,
                "version": len(history), "history": history}

    def history(self, members: list[str]) -> list[dict[str, Any]]:
        """Every decision (merge, refusal, unmerge) involving any of ``members`` in the order
        they were recorded: the versioned history of their part of the graph."""
        pipe = self.redis.pipeline(transaction=False)
        for member in members:
            pipe.lrange(self.keys.log(member), 0, -1)
        pipe.lrange(self.keys.unmerges, 0, -1)
        *logs, unmerges = pipe.execute()
        entries = {raw: orjson.loads(raw) for found in logs for raw in found}
        mine = set(members)
        entries.update((raw, u) for raw in unmerges if mine & _named(u := orjson.loads(raw)))
        return sorted(entries.values(), key=lambda e: (e.get("recorded_at", 0), e["occurred_at"], e["event_id"]))


def _named(unmerge: dict[str, Any]) -> set[str]:
    """The nodes an unmerge decision is about: the pair and every component it changed."""
    return {*unmerge["apart"], *(n for component in unmerge.get("components", unmerge.get("sides", ())) for n in component)}
