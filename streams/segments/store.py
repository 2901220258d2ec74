"""Segment definitions and live membership in Redis, per workspace (``{ns}`` = topic prefix).

=================================  ======================================================
``{ns}:seg:defs``                  hash: segment id -> JSON definition (a deleted segment
                                   stays as a tombstone, so versions never restart)
``{ns}:seg:version``               counter moved by every definition change (workers
                                   reload the definitions when it moves)
``{ns}:seg:members:{segment}``     set: customer ids in the segment now
``{ns}:seg:state:{customer}``      JSON: the customer's membership per segment with its
                                   version, and its profile record's version and digest
=================================  ======================================================

Only the sweep (:mod:`streams.signals.sweep`) writes membership and state, in the same
transaction as the records it queues in the outbox. Definitions are written here: a new or
changed definition marks every customer due (bounded batches of ``BATCH``), a deleted one
marks its members due, and the sweeps do the rest.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson
from redis import Redis

from panorama.security.audit import refuse_personal_data
from panorama.security.errors import AuditError
from streams.segments.rules import Condition, RuleError, SegmentError, compile_rule
from streams.signals.due import TOUCH_LUA, owner
from streams.store import Keys

SEGMENT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
BATCH = 1000
_TOUCH_MANY = TOUCH_LUA + """
local at = tonumber(ARGV[1])
for i = 2, #ARGV do touch(KEYS[i - 1], ARGV[i], at) end
return #ARGV - 1
"""


@dataclass(frozen=True)
class Segment:
    id: str
    rule: dict[str, Any]
    description: str = ""
    created_at: int = 0
    updated_at: int = 0
    deleted: bool = False
    condition: Condition | None = field(default=None, compare=False, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "condition"}

    @classmethod
    def parse(cls, raw: bytes | str) -> Segment:
        found = orjson.loads(raw)
        return cls(**found, condition=None if found["deleted"] else compile_rule(found["rule"]))


def check_rule(rule: Any) -> Condition:
    """The compiled rule; RuleError if it breaks the language or names a person (an e-mail
    or phone: a rule is stored, listed and audited)."""
    condition = compile_rule(rule)
    try:
        refuse_personal_data("rule", rule)
    except AuditError:
        raise RuleError("rule", "holds what looks like an e-mail address or phone number; a segment "
                                "rule may not name a person (it is listed and audited)") from None
    return condition


def check_segment_id(segment_id: str) -> str:
    if not isinstance(segment_id, str) or not SEGMENT_ID.match(segment_id):
        raise RuleError("id", f"{segment_id!r} must be 1-64 lowercase letters, digits, '_' or '-', "
                              "starting with a letter or digit")
    return segment_id


class SegmentKeys:
    def __init__(self, namespace: str):
        self.ns = namespace
        self.defs = f"{namespace}:seg:defs"
        self.version = f"{namespace}:seg:version"
        self.members_prefix = f"{namespace}:seg:members:"

    def members(self, segment_id: str) -> str:
        return self.members_prefix + segment_id

    def state(self, customer_id: str) -> str:
        return f"{self.ns}:seg:state:{customer_id}"


class SegmentStore:
    """Definitions (CLI, API) and membership reads for one workspace."""

    def __init__(self, redis: Redis, namespace: str, partitions: int):
        self.redis = redis
        self.keys = SegmentKeys(namespace)
        self.profile_keys = Keys(namespace)
        self.partitions = partitions
        self._touch = redis.register_script(_TOUCH_MANY)

    # -- definitions ---------------------------------------------------------------------

    def save(self, segment_id: str, rule: Any, description: str, now: int, replace: bool = False) -> tuple[Segment, int]:
        """Create (or with ``replace``, update) a segment; returns it and how many identities
        were marked due for evaluation. RuleError names the first problem of the rule."""
        check_segment_id(segment_id)
        if not isinstance(description, str) or len(description) > 500:
            raise RuleError("description", "must be text of at most 500 characters")
        condition = check_rule(rule)
        current = self._stored(segment_id)
        if current is not None and not current.deleted and not replace:
            raise SegmentError(f"segment {segment_id!r} exists; update it with replace (--replace, PUT)")
        created = current.created_at if current is not None and not current.deleted else now
        segment = Segment(segment_id, rule, description, created, now, False, condition)
        self._write(segment)
        return segment, self.mark_everyone_due(now)

    def delete(self, segment_id: str, now: int) -> tuple[Segment, int]:
        """Delete a segment: its members leave (a record each, published by the sweeps) and
        it is listed no more. Returns it and how many members were marked due."""
        segment = self.get(segment_id)
        self._write(Segment(segment.id, segment.rule, segment.description, segment.created_at, now, True))
        marked = 0
        for batch in self._batches(self.redis.sscan_iter(self.keys.members(segment_id), count=BATCH)):
            marked += self._mark_due(batch, now)
        return segment, marked

    def get(self, segment_id: str) -> Segment:
        segment = self._stored(check_segment_id(segment_id))
        if segment is None or segment.deleted:
            raise SegmentError(f"no segment {segment_id!r} in this workspace (cdp segments list)")
        return segment

    def exists(self, segment_id: str) -> bool:
        """Whether a live (not deleted) segment has this id."""
        found = self._stored(check_segment_id(segment_id))
        return found is not None and not found.deleted

    def list(self) -> list[Segment]:
        return [s for s in self.definitions().values() if not s.deleted]

    def definitions(self) -> dict[str, Segment]:
        """Every definition, tombstones included, by id."""
        return {k.decode(): Segment.parse(v) for k, v in sorted(self.redis.hgetall(self.keys.defs).items())}

    def _stored(self, segment_id: str) -> Segment | None:
        raw = self.redis.hget(self.keys.defs, segment_id)
        return None if raw is None else Segment.parse(raw)

    def _write(self, segment: Segment) -> None:
        with self.redis.pipeline() as pipe:
            pipe.hset(self.keys.defs, segment.id, orjson.dumps(segment.as_dict()))
            pipe.incr(self.keys.version)
            pipe.execute()

    # -- membership ----------------------------------------------------------------------

    def members(self, segment_id: str, limit: int) -> list[str]:
        """Up to ``limit`` customer ids of the segment, sorted (a live set: it may move)."""
        self.get(segment_id)
        found = []
        for member in self.redis.sscan_iter(self.keys.members(segment_id), count=max(limit, 100)):
            found.append(member.decode())
            if len(found) >= limit:
                break
        return sorted(found)

    def size(self, segment_id: str) -> int:
        return self.redis.scard(self.keys.members(segment_id))

    def sizes(self, segment_ids: list[str]) -> dict[str, int]:
        pipe = self.redis.pipeline(transaction=False)
        for segment_id in segment_ids:
            pipe.scard(self.keys.members(segment_id))
        return dict(zip(segment_ids, pipe.execute()))

    # -- backfill ------------------------------------------------------------------------

    def mark_everyone_due(self, now: int) -> int:
        """Mark every identity that has a profile due at ``now`` (the sweeps resolve each to
        its customer), in batches of ``BATCH``; returns how many were marked."""
        prefix = self.profile_keys.partial("")
        nodes = (key.decode().removeprefix(prefix) for key in self.redis.scan_iter(match=prefix + "*", count=BATCH))
        return sum(self._mark_due(batch, now) for batch in self._batches(nodes))

    def _mark_due(self, nodes: list[str], now: int) -> int:
        keys = [self.profile_keys.due(owner(node, self.partitions)) for node in nodes]
        return self._touch(keys=keys, args=[now, *nodes])

    @staticmethod
    def _batches(items) -> Any:
        batch = []
        for item in items:
            batch.append(item.decode() if isinstance(item, bytes) else item)
            if len(batch) >= BATCH:
                yield batch
                batch = []
        if batch:
            yield batch


def forget_memberships(redis: Redis, namespace: str, nodes: list[str]) -> None:
    """Erasure: ``nodes`` (a forgotten customer's id and identities) leave every segment's
    member set, with no record published (the analytics store erases its rows itself).
    Their ``seg:state`` keys are named after them and go with the customer's other keys."""
    for key in redis.scan_iter(match=SegmentKeys(namespace).members("*"), count=1000):
        redis.srem(key, *nodes)
