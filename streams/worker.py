"""The profile worker (`cdp worker`): consume the interaction log in a consumer group,
fold each event into the partial profile of its routing identity, record identity links,
and store the batch with the partition's new offset in one Redis transaction.

Effectively once without Kafka transactions: the position lives in Redis with the state
it produced, so a restart, a rebalance or a SIGKILL resumes from exactly what was stored
(messages at or below it are skipped), and Kafka offset commits are only a hint for lag
monitoring (``offset_hints.py``). Duplicates produced twice under different offsets land in the same partial
(same key, same partition) and its dedup memory drops them.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, Producer, TopicPartition
from redis import Redis

from panorama.clock import now_us
from panorama.errors import ContractError, FencedError, StreamError
from panorama.gc_pauses import quiet_full_collections
from panorama.privacy.hooks import Opener
from panorama.kafka_config import client_config
from panorama.settings import Settings
from producers.dead_letter import dead_letter_record
from producers.producer import producer_config
from schemas.codec import InteractionCodec
from schemas.identities import routing_identity
from streams.identity.rules import LinkRules, Merge, Regroup, configured_link_rules
from streams.identity.nodes import NodeNamer, identity_count
from streams.offset_hints import OffsetHints
from streams.outbox import OutboxPublisher
from streams.profiles.fold import Partial, apply
from streams.signals.rules import SignalRules, configured_signal_rules
from streams.signals.sweep import SignalSweeper
from streams.stats import LatencyHistogram, WorkerStats
from streams.store import RECENT_EVENTS, LinkRequest, PartitionWrite, ProfileStore

log = logging.getLogger(__name__)
MAX_CACHED_PARTIALS = 200_000  # per worker; past it the cache is dropped and reloaded from Redis
SWEEP_SLICE = 16  # customers per sweep call: one call holds the fold up for a few ms at most
# A partition whose last slice was not full (nothing backlogged) rests this long before its
# next sweep: each sweep call costs ~5 Redis round trips whatever it finds, and at 5,000
# events/s the slices held 2-3 customers each, a third of the worker's CPU. Customers are
# due a debounce (1 s) after their last event; they wait at most this much more.
SWEEP_REST_S = 0.25
OUTBOX_SCAN_S = 1.0  # every owned outbox is published at least this often (records another writer left)
# Outbox records are durable in Redis before they are sent, so they can wait for fuller
# batches: 10 ms sent ~170 produce requests a second at 5,000 events/s, CPU the broker
# took from the cores the worker shares with it.
OUTBOX_LINGER_MS = 50


def consumer_group(settings: Settings) -> str:
    return f"{settings.topic_prefix}.profile-builder"


class ProfileWorker:
    """One member of the profile-builder consumer group. Run as many as there are
    partitions; each owns the partials of the partitions it is assigned."""

    def __init__(self, settings: Settings, rules: LinkRules | None = None, batch_size: int | None = None,
                 batch_wait_s: float = 0.01, session_timeout_ms: int = 10_000, signal_rules: SignalRules | None = None,
                 signal_debounce_s: float = 1.0, clock: Callable[[], int] = now_us, sweep_budget_s: float = 0.005):
        self.settings = settings
        self.topic = settings.topics.interactions
        self.batch_size = settings.worker_batch_size if batch_size is None else batch_size
        self.batch_wait_s = batch_wait_s
        self.codec = InteractionCodec()
        self.privacy = Opener(settings)  # opens sealed personal fields, drops forgotten customers' events
        self.namer = NodeNamer(settings.routing_key_secret.get_secret_value().encode())
        self.store = ProfileStore(Redis.from_url(settings.redis_address), settings.topic_prefix,
                                  rules or configured_link_rules(settings))
        self.stats = WorkerStats()
        self.latency = LatencyHistogram()
        self.clock = clock  # µs since the epoch: when signals are evaluated ("now" of the rules)
        self.signal_debounce_us = int(signal_debounce_s * 1e6)
        self.sweeper = SignalSweeper(self.store, settings.topics.signals, settings.interactions_partitions,
                                     signal_rules or configured_signal_rules(settings))
        self.outbox = OutboxPublisher(self.store.redis, producer_config(settings) | {"linger.ms": OUTBOX_LINGER_MS})
        self.turns = SignalTurns(self.sweeper, self.outbox, self.store.keys.outbox, sweep_budget_s)
        self._positions: dict[int, int] = {}  # owned partition -> offset stored in Redis
        self._partials: dict[int, dict[str, Partial]] = {}
        self._lag: dict[int, int] = {}
        self._held: list[Message] = []  # taken while a sweep looked for waiting events: folded first
        self._dlq: Producer | None = None
        self._consumer = Consumer(client_config(settings) | {
            "group.id": consumer_group(settings),
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "client.id": "panorama-profile-worker",
            # how long a crashed worker keeps its partitions before the group moves them
            "session.timeout.ms": session_timeout_ms,
            "heartbeat.interval.ms": max(500, session_timeout_ms // 6),
            # a fetch waits for 32 KB or 10 ms instead of returning each producer batch as it
            # lands: half the fetch requests at 5,000 events/s, for at most 10 ms more latency
            "fetch.min.bytes": 32 * 1024,
            "fetch.wait.max.ms": 10,
        })
        self.hints = OffsetHints(self._consumer, self.topic)

    # -- lifecycle -----------------------------------------------------------------------

    def run(self, should_stop: Callable[[], bool] = lambda: False) -> None:
        """Consume until ``should_stop()`` is true. Redis or broker failures propagate:
        the worker stops, and its partitions move to the others with no effect lost."""
        self._consumer.subscribe([self.topic], on_assign=self._assigned, on_revoke=self._revoked,
                                 on_lost=self._revoked)
        quiet_full_collections()
        try:
            while not should_stop():
                messages, self._held = self._held or next_batch(self._consumer, self.batch_size,
                                                                self.batch_wait_s), []
                if messages:
                    self.process(messages)
                self.publish_signals()
                self.hints.tick()
                self._measure_lag()
        finally:
            self.hints.commit(asynchronous=False)
            self._consumer.close()
            if self._dlq is not None:
                self._dlq.flush(30)
                self._dlq.close()
            # last: it raises when Kafka refused a record (which stays pending for the next owner)
            self.stats.published += self.outbox.close()

    def publish_signals(self) -> None:
        """Evaluate due signals and publish outboxes within this turn's budget, yielding to
        waiting events (see :class:`SignalTurns`)."""
        signals, published = self.turns.run(self.partitions, self.clock(), self._events_waiting)
        self.stats.signals += signals
        self.stats.published += published

    def _events_waiting(self) -> bool:
        """Whether messages are queued for this worker; those taken to find out are held and
        folded first on the next turn, in the order they came."""
        if not self._held:
            self._held = self._consumer.consume(self.batch_size, 0)
        return bool(self._held)

    def _assigned(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._held = []  # every assigned partition is fetched again from its stored position
        for tp in partitions:
            stored = self.store.offset(self.topic, tp.partition)
            self._positions[tp.partition] = stored
            self._partials[tp.partition] = {}
            self.turns.outbox_written(tp.partition)  # what a previous owner committed and did not publish
            tp.offset = stored + 1 if stored >= 0 else OFFSET_BEGINNING
        consumer.assign(partitions)
        log.info("assigned %s", {tp.partition: tp.offset for tp in partitions})

    def _revoked(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._held = []  # unassigned: the next assignment fetches from the stored positions
        self.hints.commit([tp.partition for tp in partitions], asynchronous=False)
        for tp in partitions:
            self._positions.pop(tp.partition, None)
            self._partials.pop(tp.partition, None)
        consumer.unassign()

    @property
    def partitions(self) -> list[int]:
        """The partitions this worker owns right now."""
        return sorted(self._positions)

    def lag(self) -> dict[int, int]:
        """Messages between the stored position and the high watermark, per owned partition,
        as of the last loop turn (safe to call from another thread, e.g. a metrics scrape:
        the Kafka consumer itself must only be used by the worker's thread)."""
        return dict(self._lag)

    def _measure_lag(self) -> None:
        lag = {}
        for partition, position in self._positions.items():
            _low, high = self._consumer.get_watermark_offsets(TopicPartition(self.topic, partition), cached=True)
            if high >= 0:
                lag[partition] = max(0, high - position - 1)
        self._lag = lag

    # -- processing ----------------------------------------------------------------------

    def process(self, messages: list[Message]) -> None:
        by_partition: dict[int, list[Message]] = defaultdict(list)
        for msg in messages:
            if msg.error() is not None:
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise StreamError(f"consuming {self.topic}: {msg.error()}")
            by_partition[msg.partition()].append(msg)
        routed = {partition: found for partition, batch in by_partition.items() if partition in self._positions
                  and (found := self._route(partition, batch)) is not None}
        if not routed:
            return
        missing = {partition: {node for node, _ in records if node not in self._partials[partition]}
                   for partition, (_, records) in routed.items()}
        loaded = self.store.load_partials_of(missing)  # one round trip for every partition
        self._commit([self._fold_partition(partition, last, records, loaded[partition])
                      for partition, (last, records) in routed.items()])

    def _route(self, partition: int, batch: list[Message]) -> tuple[int, list[tuple[str, dict]]] | None:
        """(the batch's last offset, its decoded records with their routing nodes), or None
        when every message was applied before."""
        fresh = [m for m in batch if m.offset() > self._positions[partition]]
        if not fresh:
            return None
        cache = self._partials[partition]
        if len(cache) > MAX_CACHED_PARTIALS:
            cache.clear()
        return fresh[-1].offset(), [(self.namer.routing_node(r["identities"]), r) for r in self._decode(fresh)]

    def _fold_partition(self, partition: int, last: int, routed: list[tuple[str, dict]],
                        loaded: dict[str, Partial | None]) -> tuple[PartitionWrite, list[dict]]:
        """Fold ``routed`` into the partition's cached partials (``loaded``: those fetched for
        it, None when new): (what to store, the records folded)."""
        cache = self._partials[partition]
        new_nodes = set()
        for node, stored in loaded.items():
            cache[node] = stored or Partial()
            if stored is None:
                new_nodes.add(node)
        labels: dict[str, str] = {}
        touched: dict[str, Partial] = {}
        recent: dict[str, list] = defaultdict(list)
        links: list[LinkRequest] = []
        for node, record in routed:
            partial = cache[node]
            before = partial.events
            apply(partial, record)
            touched[node] = partial
            if partial.events == before:  # a duplicate links nothing either: an unmerge may have cut its link
                self.stats.duplicates += 1
                continue
            recent[node].append(_recent_entry(record))
            if node in new_nodes and node not in labels:
                labels[node] = ":".join(routing_identity(record["identities"]))
            if identity_count(record["identities"]) >= 2:
                pairs = self.namer.nodes(record["identities"])
                labels.update(pairs)
                links.append(LinkRequest(tuple(n for n, _ in pairs), record["event_id"], record["occurred_at"]))
        newest = {node: sorted(found)[-RECENT_EVENTS:] for node, found in recent.items()}
        write = PartitionWrite(partition, self._positions[partition], last, touched, links, labels, newest)
        return write, [record for _, record in routed]

    def _commit(self, prepared: list[tuple[PartitionWrite, list[dict]]]) -> None:
        """Store the folded batches of every partition in one transaction with their new
        offsets. Fenced (another writer moved an offset): nothing was written, so every
        partition of the batch is reloaded from Redis, its folded partials dropped."""
        if self._dlq is not None and self._dlq.flush(30):
            raise StreamError("dead-letter records still undelivered after 30 s; not advancing the position")
        writes = [write for write, _ in prepared]
        now = self.clock()
        try:
            decided = self.store.commit_writes(self.topic, writes, now, self.signal_debounce_us)
        except FencedError as e:
            self.stats.fenced += 1
            log.warning("%s; reloading partitions %s", e, [w.partition for w in writes])
            for write in writes:
                self._resync(write.partition)
            return
        stored_at = now_us()
        for write, records in prepared:
            partition, decisions = write.partition, decided[write.partition]
            self._positions[partition] = write.offset
            self.latency.observe_us([r["received_at"] for r in records], stored_at)
            self.stats.events += len(records)
            self.stats.batches += 1
            if any(isinstance(d, (Merge, Regroup)) for d in decisions):  # identity records queued in the outbox
                self.turns.outbox_written(partition)
            self.stats.merges += sum(1 for d in decisions if isinstance(d, Merge))
            self.stats.regroups += sum(1 for d in decisions if isinstance(d, Regroup))
            self.hints.advanced(partition, write.offset + 1)

    def _decode(self, messages: list[Message]) -> list[dict]:
        decoded, sources = [], []
        for msg in messages:
            try:
                decoded.append((self.codec.decode(msg.value()), msg.key()))
                sources.append(msg)
            except ContractError as e:
                self._dead_letter(msg, e)
        opened = self.privacy.open_batch(decoded, [msg.value() for msg in sources])
        for index, error in opened.errors:  # tampered or unreadable sealed fields
            self._dead_letter(sources[index], error)
        if opened.forgets_seen:  # a customer was forgotten: a cached partial may still hold it
            for cache in self._partials.values():
                cache.clear()
        return [record for _, record in opened.records]

    def _dead_letter(self, msg: Message, error: ContractError) -> None:
        """An undecodable message cannot be folded; park it with its reason rather than
        stop the partition (the producer validated it, so this is corruption or a schema
        this build does not know)."""
        if self._dlq is None:
            self._dlq = Producer(producer_config(self.settings) | {"client.id": "panorama-profile-worker-dlq"})
        value, headers = dead_letter_record(msg.value(), error, source=f"{self.topic}[{msg.partition()}]@{msg.offset()}")
        self._dlq.produce(self.settings.topics.dlq, value, msg.key(), headers=headers)
        self.stats.dead_lettered += 1
        log.error("dead-lettered %s[%d]@%d: %s", self.topic, msg.partition(), msg.offset(), error.code)

    def _resync(self, partition: int) -> None:
        """Forget what we cached for ``partition`` and continue from what Redis holds."""
        stored = self.store.offset(self.topic, partition)
        self._positions[partition] = stored
        self._partials[partition] = {}
        self._held = [m for m in self._held if m.partition() != partition]  # fetched again after the seek
        self._consumer.seek(TopicPartition(self.topic, partition, stored + 1 if stored >= 0 else OFFSET_BEGINNING))


def next_batch(consumer: Consumer, size: int, wait_s: float) -> list[Message]:
    """Up to ``size`` messages: what is queued now without waiting; when nothing is, wait up
    to ``wait_s`` for the first and take what came with it. (``consume(size, wait_s)`` waits
    the whole ``wait_s`` unless ``size`` messages are queued: 10 ms added to every turn of a
    busy worker, while the queued messages age.)"""
    messages = consumer.consume(size, 0)
    if not messages:
        messages = consumer.consume(1, wait_s)
        if messages and size > 1:
            messages += consumer.consume(size - 1, 0)
    return messages


class SignalTurns:
    """How the loop shares its time between folding and signals.

    The sweep runs on the loop's thread between two consume calls, so every millisecond it
    takes delays the events that arrive meanwhile (sweeping 500 customers per partition
    per turn held the fold up for 50-400 ms on a loaded machine). So it runs in slices of
    ``SWEEP_SLICE`` customers, round robin over the owned partitions across turns, until
    ``budget_s`` is spent, events are waiting (``waiting()``, asked after every slice: a
    backfill folds at full speed, and a slice is all an arriving event waits for) or no
    slice evaluated anyone. One slice runs on every turn, so due sets always drain; what is
    left stays due for the next turn; a partition with nothing backlogged rests
    ``SWEEP_REST_S`` between sweeps. (At 5,000 ev/s on 2 shared cores the sweep took a
    third of the worker's CPU and its whole 5 ms budget on most turns; bench.streams_trace.)

    Only outboxes that may hold new records are read: those a sweep or a batch with merges
    wrote to since the last turn, and every owned outbox each ``OUTBOX_SCAN_S`` (records a
    crashed previous owner or ``cdp identity unmerge`` left there).
    """

    def __init__(self, sweeper: SignalSweeper, outbox: OutboxPublisher, outbox_key: Callable[[int], str],
                 budget_s: float, timer: Callable[[], float] = time.perf_counter):
        self.sweeper = sweeper
        self.outbox = outbox
        self.outbox_key = outbox_key
        self.budget_s = budget_s
        self.timer = timer
        self._next = 0
        self._written: set[int] = set()
        self._scanned: float | None = None
        self._rested: dict[int, float] = {}  # partition -> when its next sweep may run

    def outbox_written(self, partition: int) -> None:
        """Records were committed to ``partition``'s outbox outside a sweep."""
        self._written.add(partition)

    def run(self, partitions: list[int], now: int, waiting: Callable[[], bool]) -> tuple[int, int]:
        """One turn: (signal changes committed, outbox records acknowledged and deleted)."""
        if not partitions:
            return 0, 0
        started = self.timer()
        deadline = started + self.budget_s
        signals = 0
        drained = {p for p in partitions if self._rested.get(p, started) > started}
        while len(drained) < len(partitions):
            partition = partitions[self._next % len(partitions)]
            self._next += 1
            if partition in drained:
                continue
            evaluated, taken = self.sweeper.evaluated, self.sweeper.taken
            signals += self.sweeper.sweep(partition, now, SWEEP_SLICE)
            if self.sweeper.taken - taken < SWEEP_SLICE:
                self._rested[partition] = self.timer() + SWEEP_REST_S  # nothing backlogged there
            if self.sweeper.evaluated == evaluated:
                drained.add(partition)  # nothing due, only forwards, or a lost WATCH race: next turn
            else:
                self._written.add(partition)
            if self.timer() >= deadline or waiting():
                break
        if self._scanned is None or started - self._scanned >= OUTBOX_SCAN_S:
            self._scanned = started
            self._written.update(partitions)
        due, self._written = sorted(self._written.intersection(partitions)), set()
        published = sum(self.outbox.publish(self.outbox_key(p)) for p in due)
        return signals, published if due else self.outbox.settle()


def _recent_entry(record: dict) -> tuple[int, str]:
    """(score, member) of an event in its identity's recent-events set: no personal data."""
    member = orjson.dumps({"id": record["event_id"], "type": record["type"], "occurred_at": record["occurred_at"],
                           "channel": record["source"]["channel"]})
    return record["occurred_at"], member.decode()
