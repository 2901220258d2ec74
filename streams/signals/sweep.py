"""The signal sweep: each worker evaluates the due customers of the partitions it owns and
commits what changed, with the record to publish, in one Redis transaction.

A customer's signals have one evaluator: the owner of partition ``crc32(customer_id) %
partitions``. A node touched on another partition is forwarded to that owner's due set.
The transaction WATCHes the customers' signal states, so two workers that both believe
they own a partition (during a rebalance) cannot both commit the same change; the
records (id = customer + sequence number) go through :mod:`streams.outbox`.

The same evaluation decides live segment membership and the pseudonymous profile record
(:mod:`streams.segments.live`), committed in the same transaction under WATCH of the
customers' segment states; its timers are the earliest change of signals and segments.
"""

from __future__ import annotations

from collections import defaultdict
from functools import reduce

import orjson
from redis import WatchError

from panorama.privacy.keystore import forgotten_key, is_forgotten
from streams.outbox import outbox_entry, record_id
from streams.profiles.codec import decode_partial
from streams.profiles.fold import Partial, merge
from streams.segments.live import Evaluation, LiveSegments, evaluate_customer
from streams.segments.store import SegmentStore
from streams.signals.due import SETTLE_LUA, owner
from streams.signals.rules import SignalRules
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
        self.taken = 0  # due entries read, the evaluated customers and the nodes forwarded or settled
        self._settle = store.redis.register_script(SETTLE_LUA)
        ns = self.keys.ns  # the namespace is the topic prefix (Settings.topics.segments / .profiles)
        self.segments = LiveSegments(SegmentStore(store.redis, ns, partitions), f"{ns}.segments", f"{ns}.profiles")

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
        self.taken += len(due)
        pipe = redis.pipeline(transaction=False)
        for member, _ in due:
            self.store.resolve_queued(pipe, member)
        pipe.get(self.segments.keys.version)
        *resolved, version = pipe.execute()
        self.segments.refresh(version)
        settle: list[tuple[str, str, int]] = []
        forward: list[tuple[int, str]] = []
        customers: dict[str, list[str]] = {}
        expected = {member: str(score) for member, score in due}
        for (member, _), found in zip(due, resolved):
            root, members = found[0].decode(), [m.decode() for m in found[1:]]
            if owner(root, self.partitions) != partition:
                forward.append((owner(root, self.partitions), root))
                settle.append((member, expected[member], -1))
            else:
                customers[root] = members
                if member != root:
                    settle.append((member, expected[member], -1))
        live = self.segments.live
        evaluations = {root: evaluate_customer(root, partial, now, self.rules, live)
                       for root, partial in self._partials(customers).items()}
        for root in customers:
            nxt = evaluations[root].next_change if root in evaluations else None
            settle.append((root, expected.get(root, ""), -1 if nxt is None else nxt))
        return self._commit(partition, now, evaluations, customers, settle, forward)

    def _partials(self, customers: dict[str, list[str]]) -> dict[str, Partial]:
        """The merged partial of each customer that has one and is not forgotten: between
        a forget's key shredding and its Redis erasure nothing may be published about it."""
        if not customers:
            return {}
        pipe = self.store.redis.pipeline(transaction=False)
        order = [(root, node) for root, members in customers.items() for node in members]
        for _, node in order:
            pipe.hgetall(self.keys.partial(node))
        pipe.hmget(forgotten_key(self.keys.ns), [root.rsplit(":", 1)[1] for root in customers])
        *stored, states = pipe.execute()
        forgotten = {root for root, state in zip(customers, states) if is_forgotten(state)}
        found: dict[str, list[Partial]] = defaultdict(list)
        for (root, _), fields in zip(order, stored):
            if root not in forgotten:
                found[root] += [decode_partial(blob) for field, blob in fields.items()
                                if not field.endswith(DEDUP_SUFFIX.encode())]
        return {root: reduce(merge, partials) for root, partials in found.items()}

    def _commit(self, partition: int, now: int, evaluations: dict[str, Evaluation], customers: dict[str, list[str]],
                settle: list[tuple[str, str, int]], forward: list[tuple[int, str]]) -> int:
        state_keys = {root: self.keys.signal_state(root) for root in evaluations}
        nodes = [node for root in evaluations for node in dict.fromkeys([root, *customers[root]])]
        segment_keys = [self.segments.keys.state(node) for node in nodes]
        outbox = self.keys.outbox(partition)
        with self.store.redis.pipeline() as pipe:
            try:
                if state_keys:
                    watched = [*state_keys.values(), *segment_keys, self.segments.keys.version]
                    pipe.watch(*watched)
                    *found_states, version = pipe.mget(watched)
                    if not self.segments.current(version):
                        return 0  # definitions changed since this sweep loaded them: all stay due
                    states = dict(zip(state_keys, found_states))
                    segment_states = dict(zip(nodes, found_states[len(state_keys):]))
                else:
                    states, segment_states = {}, {}
                pipe.multi()
                changed = records = 0
                for root, evaluation in evaluations.items():
                    records += self.segments.write(pipe, outbox, now, root, evaluation.segments, evaluation.profile,
                                                   segment_states[root])
                    for node in customers[root]:
                        if node != root:  # a customer merged into this one: it leaves its segments
                            records += self.segments.retire(pipe, outbox, now, node, segment_states[node])
                    found = evaluation.signals
                    previous = orjson.loads(states[root]) if states[root] else {"seq": 0, "fingerprint": None, "stage": None}
                    fingerprint = orjson.loads(orjson.dumps(found.fingerprint))  # as stored: lists
                    if fingerprint == previous["fingerprint"]:
                        continue
                    seq = previous["seq"] + 1
                    record = {"id": record_id(self.keys.ns, "signal", root, str(seq)), "recorded_at": now,
                              "customer_id": root, "seq": seq, "previous_stage": previous["stage"], **found.as_dict()}
                    pipe.set(state_keys[root], orjson.dumps({"seq": seq, "fingerprint": fingerprint, "stage": found.stage}))
                    pipe.hset(outbox, *outbox_entry(self.topic, root, record))
                    changed += 1
                args = [now, len(settle)] + [x for triple in settle for x in triple] + [root for _, root in forward]
                keys = [self.keys.due(partition)] + [self.keys.due(q) for q, _ in forward]
                self._settle(keys=keys, args=args, client=pipe)
                pipe.execute()
            except WatchError:
                return 0
        self.evaluated += len(evaluations)
        self.changed += changed
        self.segments.records += records
        return changed
