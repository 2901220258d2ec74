"""The signal sweep: each worker evaluates the due customers of the partitions it owns and
commits what changed, with the record to publish, in one Redis transaction.

A customer's signals have one evaluator: the owner of partition ``crc32(customer_id) %
partitions``. A node touched on another partition is forwarded to that owner's due set.
The transaction WATCHes the customers' signal states, so two workers that both believe
they own a partition (during a rebalance) cannot both commit the same change; the
records (id = customer + sequence number) go through :mod:`streams.outbox`.
"""

from __future__ import annotations

from collections import defaultdict
from functools import reduce

import orjson
from redis import WatchError

from streams.outbox import outbox_entry, record_id
from streams.profiles.codec import decode_partial
from streams.profiles.fold import Partial, merge
from streams.signals.due import SETTLE_LUA, owner
from streams.signals.rules import SignalRules, Signals, evaluate
from streams.store import DEDUP_SUFFIX, ProfileStore


class SignalSweeper:
    def __init__(self, store: ProfileStore, signals_topic: str, partitions: int, rules: SignalRules = SignalRules(),
                 limit: int = 500):
        self.store = store
        self.keys = store.keys
        self.topic = signals_topic
        self.partitions = partitions
        self.rules = rules
        self.limit = limit
        self.evaluated = 0
        self.changed = 0
        self._settle = store.redis.register_script(SETTLE_LUA)

    def sweep(self, partition: int, now: int, limit: int | None = None) -> int:
        """Evaluate up to ``limit`` (default: the sweeper's) entries due by ``now``; return
        how many signal changes were committed (0 also when a concurrent sweep won the
        race: they stay due and are retried next time)."""
        redis = self.store.redis
        due = redis.zrangebyscore(self.keys.due(partition), "-inf", now, start=0, num=limit or self.limit,
                                  withscores=True)
        if not due:
            return 0
        due = [(member.decode(), int(score)) for member, score in due]
        pipe = redis.pipeline(transaction=False)
        for member, _ in due:
            self.store.resolve_queued(pipe, member)
        settle: list[tuple[str, str, int]] = []
        forward: list[tuple[int, str]] = []
        customers: dict[str, list[str]] = {}
        expected = {member: str(score) for member, score in due}
        for (member, _), found in zip(due, pipe.execute()):
            root, members = found[0].decode(), [m.decode() for m in found[1:]]
            if owner(root, self.partitions) != partition:
                forward.append((owner(root, self.partitions), root))
                settle.append((member, expected[member], -1))
            else:
                customers[root] = members
                if member != root:
                    settle.append((member, expected[member], -1))
        signals = {root: evaluate(partial, now, self.rules) for root, partial in self._partials(customers).items()}
        for root in customers:
            nxt = signals[root].next_change if root in signals else None
            settle.append((root, expected.get(root, ""), -1 if nxt is None else nxt))
        return self._commit(partition, now, signals, settle, forward)

    def _partials(self, customers: dict[str, list[str]]) -> dict[str, Partial]:
        pipe = self.store.redis.pipeline(transaction=False)
        order = [(root, node) for root, members in customers.items() for node in members]
        for _, node in order:
            pipe.hgetall(self.keys.partial(node))
        found: dict[str, list[Partial]] = defaultdict(list)
        for (root, _), fields in zip(order, pipe.execute()):
            found[root] += [decode_partial(blob) for field, blob in fields.items()
                            if not field.endswith(DEDUP_SUFFIX.encode())]
        return {root: reduce(merge, partials) for root, partials in found.items()}

    def _commit(self, partition: int, now: int, signals: dict[str, Signals], settle: list[tuple[str, str, int]],
                forward: list[tuple[int, str]]) -> int:
        state_keys = {root: self.keys.signal_state(root) for root in signals}
        with self.store.redis.pipeline() as pipe:
            try:
                if state_keys:
                    pipe.watch(*state_keys.values())
                    states = dict(zip(state_keys, pipe.mget(list(state_keys.values()))))
                else:
                    states = {}
                pipe.multi()
                changed = 0
                for root, found in signals.items():
                    previous = orjson.loads(states[root]) if states[root] else {"seq": 0, "fingerprint": None, "stage": None}
                    fingerprint = orjson.loads(orjson.dumps(found.fingerprint))  # as stored: lists
                    if fingerprint == previous["fingerprint"]:
                        continue
                    seq = previous["seq"] + 1
                    record = {"id": record_id(self.keys.ns, "signal", root, str(seq)), "recorded_at": now,
                              "customer_id": root, "seq": seq, "previous_stage": previous["stage"], **found.as_dict()}
                    pipe.set(state_keys[root], orjson.dumps({"seq": seq, "fingerprint": fingerprint, "stage": found.stage}))
                    pipe.hset(self.keys.outbox(partition), *outbox_entry(self.topic, root, record))
                    changed += 1
                args = [now, len(settle)] + [x for triple in settle for x in triple] + [root for _, root in forward]
                keys = [self.keys.due(partition)] + [self.keys.due(q) for q, _ in forward]
                self._settle(keys=keys, args=args, client=pipe)
                pipe.execute()
            except WatchError:
                return 0
        self.evaluated += len(signals)
        self.changed += changed
        return changed
