"""The identity graph in Redis (key layout in :mod:`streams.store`): the part a batch or an
unmerge needs, read under WATCH and loaded further on demand; its decisions and link
candidates, queued in the caller's MULTI with whatever else that transaction writes.

Link candidates are kept per node (``{ns}:id:cand:{node}``: hash other node ->
``occurred_at|event_id``, the earliest event that carried the pair, written on both
nodes), only for events that carried two or more linking identities. A replayed batch
writes the same values (the earliest of equal keys is the key itself).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import orjson
from redis import Redis

from streams.identity.graph import Candidates, IdentityGraph
from streams.identity.rules import Decision, Key, LinkRules, Merge, Pair, Refusal, Regroup
from streams.outbox import outbox_entry, record_id
from streams.signals.due import TOUCH_LUA

if TYPE_CHECKING:
    from streams.store import Keys

# The components of some nodes in one command (most sets are empty). KEYS: the members
# sets of n components. ARGV: the block-set key prefix, then the n roots. Returns the
# non-empty members sets as {i, members}, then every member's non-empty block set as
# {node, blocked} (a singleton's only member is its root).
_READ_COMPONENTS = """
local block_prefix = ARGV[1]
local members, blocked, seen = {}, {}, {}
for i, key in ipairs(KEYS) do
  local found = redis.call('SMEMBERS', key)
  if #found > 0 then members[#members + 1] = {i, found} else found = {ARGV[i + 1]} end
  for _, node in ipairs(found) do
    if not seen[node] then
      seen[node] = true
      local nodes = redis.call('SMEMBERS', block_prefix .. node)
      if #nodes > 0 then blocked[#blocked + 1] = {node, nodes} end
    end
  end
end
return {members, blocked}
"""
_READ_CANDIDATES = """
local out = {}
for i, key in ipairs(KEYS) do out[i] = redis.call('HGETALL', key) end
return out
"""
# A batch's decisions and new link candidates in one command. ARGV: root, members, log and
# candidate key prefixes, the outbox key, then two JSON lists. Ops: d (roots whose members
# set goes), u (nodes that are roots now: their root pointer goes), s ([node, root]
# pointers), a ([root, members] to add), o ([field, record] for the outbox), r (roots
# whose log gets e, the entry). Candidates: [a, b, "occurred_at|event_id"]; each node
# keeps the earliest value per other node.
_APPLY = """
local function earlier(x, y)
  local tx, ex = string.match(x, '^(%-?%d+)|(.*)$')
  local ty, ey = string.match(y, '^(%-?%d+)|(.*)$')
  tx, ty = tonumber(tx), tonumber(ty)
  if tx ~= ty then return tx < ty end
  return ex < ey
end
local root_prefix, members_prefix, log_prefix, cand_prefix, outbox = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
for _, op in ipairs(cjson.decode(ARGV[6])) do
  for _, root in ipairs(op.d or {}) do redis.call('DEL', members_prefix .. root) end
  for _, node in ipairs(op.u or {}) do redis.call('DEL', root_prefix .. node) end
  for _, pointer in ipairs(op.s or {}) do redis.call('SET', root_prefix .. pointer[1], pointer[2]) end
  for _, found in ipairs(op.a or {}) do redis.call('SADD', members_prefix .. found[1], unpack(found[2])) end
  for _, entry in ipairs(op.o or {}) do redis.call('HSET', outbox, entry[1], entry[2]) end
  for _, root in ipairs(op.r or {}) do redis.call('RPUSH', log_prefix .. root, op.e) end
end
for _, link in ipairs(cjson.decode(ARGV[7])) do
  for _, ends in ipairs({{link[1], link[2]}, {link[2], link[1]}}) do
    local cur = redis.call('HGET', cand_prefix .. ends[1], ends[2])
    if not cur or earlier(link[3], cur) then redis.call('HSET', cand_prefix .. ends[1], ends[2], link[3]) end
  end
end
return 0
"""
_TOUCH = TOUCH_LUA + "for i, key in ipairs(KEYS) do touch(key, ARGV[i + 1], tonumber(ARGV[1])) end return #KEYS"


def candidate_value(key: Key) -> str:
    return f"{key[0]}|{key[1]}"


def parse_candidate(value: bytes) -> Key:
    occurred_at, _, event_id = value.decode().partition("|")
    return int(occurred_at), event_id


class GraphStore:
    """Reads and writes of the identity graph for :class:`streams.store.ProfileStore` and
    :func:`streams.identity.unmerge.unmerge`."""

    def __init__(self, redis: Redis, keys: Keys, rules: LinkRules, identity_topic: str):
        self.redis, self.keys, self.rules, self.identity_topic = redis, keys, rules, identity_topic
        self._read_components = redis.register_script(_READ_COMPONENTS)
        self._read_candidates = redis.register_script(_READ_CANDIDATES)
        self._apply = redis.register_script(_APPLY)
        self._touch = redis.register_script(_TOUCH)

    def watched(self, pipe, nodes: list[str], stored_roots: list[bytes | None] | None = None) -> IdentityGraph:
        """The graph around ``nodes`` on ``pipe`` (in WATCH mode): their components now,
        more on demand; every key read is WATCHed first, so a concurrent change aborts the
        EXEC. ``stored_roots``: their root pointers, when the caller read them under WATCH."""
        source = _WatchedSource(self, pipe)
        if not nodes:
            return IdentityGraph(rules=self.rules, source=source)
        if stored_roots is None:
            root_keys = [self.keys.root(n) for n in nodes]
            pipe.watch(*root_keys)
            stored_roots = pipe.mget(root_keys)
        roots, members, blocked = self.components(pipe, nodes, stored_roots)
        known = set(nodes) | {m for found in members.values() for m in found}
        return IdentityGraph(roots, members, self.rules, blocked, source, known)

    def components(self, pipe, nodes: list[str], stored_roots: list[bytes | None]):
        """(roots, members, blocked) of the components of ``nodes`` (whose root pointers
        were read under WATCH), WATCHing the members sets before reading them."""
        roots = {n: r.decode() for n, r in zip(nodes, stored_roots) if r is not None}
        components = sorted(set(roots.values()) | (set(nodes) - roots.keys()))
        member_keys = [self.keys.members(r) for r in components]
        pipe.watch(*member_keys)
        found_members, found_blocked = self._read_components(keys=member_keys, args=[self.keys.block(""), *components])
        members = {components[int(i) - 1]: {m.decode() for m in found} for i, found in found_members}
        for root, found in members.items():
            roots.update((m, root) for m in found if m != root)
        blocked = {node.decode(): {m.decode() for m in found} for node, found in found_blocked}
        return roots, members, blocked

    def candidates(self, nodes: list[str]) -> Candidates:
        found = self._read_candidates(keys=[self.keys.candidates(n) for n in nodes])
        return {node: {flat[i].decode(): parse_candidate(flat[i + 1]) for i in range(0, len(flat), 2)}
                for node, flat in zip(nodes, found)}

    def queue(self, pipe, decisions: list[Decision], candidates: dict[Pair, Key], outbox: str, due: str,
              now: int, due_at: int, silent: Iterable[str] = (), logged: bool = True) -> None:
        """Queue on ``pipe`` (after MULTI) the effects of ``decisions`` and the new link
        ``candidates``: pointers, members sets, logs, ``<prefix>.identity`` records in
        ``outbox``, and every customer a regroup made or ended marked due in ``due`` at
        ``due_at``. ``silent``: roots whose component needs no record, and ``logged`` False:
        no log entry (an unmerge writes its own record and entry)."""
        if decisions or candidates:
            ops = [self._op(d, now, set(silent), logged) for d in decisions]
            links = [[a, b, candidate_value(key)] for (a, b), key in sorted(candidates.items())]
            self._apply(args=[*self.keys.prefixes, self.keys.candidates(""), outbox, orjson.dumps(ops),
                              orjson.dumps(links)], client=pipe)
        roots = sorted({r for d in decisions if isinstance(d, Regroup) for r in d.roots})
        if roots:
            self._touch(keys=[due] * len(roots), args=[due_at, *roots], client=pipe)

    def _op(self, decision: Decision, now: int, silent: set[str], logged: bool) -> dict[str, Any]:
        entry = orjson.dumps(decision.as_dict() | {"recorded_at": now}).decode()
        if isinstance(decision, Refusal):
            return {"r": list(decision.roots), "e": entry}
        if isinstance(decision, Merge):
            record = {"id": record_id(self.keys.ns, "merge", decision.event_id, decision.winner, decision.loser),
                      "recorded_at": now, "customer_id": decision.winner, **decision.as_dict()}
            return {"d": [decision.loser], "s": [[n, decision.winner] for n in decision.moved],
                    "a": [[decision.winner, [decision.winner, *decision.moved]]],
                    "o": [self._outbox(decision.winner, record)], "r": list(decision.roots), "e": entry}
        records = [self._outbox(c[0], self._regroup_record(decision, c, now)) for c in decision.components
                   if c[0] not in silent]
        op = {"d": list(decision.roots), "u": [c[0] for c in decision.components],
              "s": [[n, c[0]] for c in decision.components for n in c[1:]],
              "a": [[c[0], list(c)] for c in decision.components if len(c) > 1], "o": records}
        return op | {"r": list(decision.roots), "e": entry} if logged else op

    def _regroup_record(self, regroup: Regroup, component: tuple[str, ...], now: int) -> dict[str, Any]:
        """A changed component as an ``<prefix>.identity`` record of the merge shape (the
        root and every member it holds now), so consumers re-point its nodes."""
        root = component[0]
        return {"id": record_id(self.keys.ns, "regroup", regroup.event_id, root), "action": "merge",
                "cause": "regroup", "event_id": regroup.event_id, "occurred_at": regroup.occurred_at,
                "recorded_at": now, "customer_id": root, "winner": root, "loser": root,
                "moved": list(component[1:]), "via": list(regroup.via)}

    def _outbox(self, key: str, record: dict[str, Any]) -> list[str]:
        field, value = outbox_entry(self.identity_topic, key, record)
        return [field, value.decode()]


class _WatchedSource:
    """:class:`streams.identity.graph.GraphSource` on a pipeline in WATCH mode."""

    def __init__(self, graphs: GraphStore, pipe):
        self.graphs, self.pipe = graphs, pipe

    def components(self, nodes: set[str]):
        ordered = sorted(nodes)
        root_keys = [self.graphs.keys.root(n) for n in ordered]
        self.pipe.watch(*root_keys)
        return self.graphs.components(self.pipe, ordered, self.pipe.mget(root_keys))

    def candidates(self, nodes: set[str]) -> Candidates:
        ordered = sorted(nodes)
        self.pipe.watch(*(self.graphs.keys.candidates(n) for n in ordered))
        return self.graphs.candidates(ordered)
