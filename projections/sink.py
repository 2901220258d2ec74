"""The events sink: interaction log -> ``event_log``, effectively once.

Contract, in the order things happen for each batch:

1. consume up to ``batch_size`` messages or ``batch_seconds`` of them;
2. re-frame them, without decoding, as one Avro container file whose rows are the Kafka
   key, partition and offset followed by the event (``projections/avro_container.py``);
3. insert it with an ``INSERT ... SELECT`` in which ClickHouse decodes the Avro itself
   (``projections/event_columns.py``); if ClickHouse refuses or is unreachable, pause the
   partitions and retry the *same* batch with backoff until it lands — nothing is
   skipped or reordered;
4. only then commit the offsets after the batch.

Step 3 runs on helper threads while the next batch is consumed (chDB and the HTTP
client release the GIL): consuming and inserting each cost a few microseconds per event,
and on two cores they overlap instead of adding up. A large batch (a replay, a sink
catching up) is framed as one container per insert lane and the lanes insert side by side
(``Backend.writers``: ClickHouse decodes one insert's Avro on one core); the batch is
durable when every lane's insert is, and a lane that failed is retried alone. The next
batch is only framed and inserted after the previous one is committed, so at most two
batches are ever uncommitted.

A crash between 3 and 4 redelivers the batch, and the producer may have written an
event twice under different offsets: both become extra rows with the same ``event_id``,
which the ``events`` view (``FINAL``) and the exact aggregate states collapse. Block-hash
insert deduplication is switched off on purpose (``insert_deduplicate=0``): its window
is finite, and the hashes it leaves behind after ``ALTER ... DELETE`` would swallow a
legitimate re-insert after an erasure.

Messages written with the current schema go straight into the container. A message of
an older known schema version is decoded and re-encoded with the current one first
(Avro schema resolution, defaults included) — slow, but only for those messages. A
message that cannot be decoded (unknown fingerprint, not single-object encoded, or a
corrupt body that made ClickHouse refuse the batch) stops the sink with its
topic/partition/offset: the producer validates every event, so such a message means a
schema this build does not know, and skipping it would silently lose data.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition

from panorama.errors import ContractError, ProjectionError
from panorama.privacy.hooks import Opener
from panorama.kafka_config import client_config
from panorama.settings import Settings
from projections.avro_container import ContainerWriter
from projections.backend import Backend
from projections.event_columns import event_log_insert
from schemas.codec import MARKER, InteractionCodec
from schemas.contract import SchemaVersion, schema_versions

log = logging.getLogger(__name__)

# optimize_on_insert = 0: ClickHouse would otherwise run each table's merge over every
# inserted block (collapse equal keys in event_log, merge equal aggregate states in the
# daily MV's table), ~0.5 us of the ~5 us per event in paired bench runs; readers go
# through FINAL or -Merge combinators, so a duplicate left for the background merge counts once.
INSERT_SETTINGS = {"insert_deduplicate": 0, "optimize_on_insert": 0}
# Each insert writes a part per month it touches into event_log and into the daily MV's
# table, a dozen files each, and creating files was a third of chDB's time in an insert of
# 50,000 (perf); 20,000-event inserts cost ~1.5x the CPU per event of 100,000-event ones.
# ``batch_seconds`` still bounds the wait, so a quiet log is not delayed by the size.
BATCH_SIZE = 100_000
# Inserts of a batch that run at once, each of at least LANE_MIN_EVENTS: a batch is split
# only where the parts it adds are not small ones (a live sink's batches go in whole).
INSERT_LANES = max(1, min(4, os.cpu_count() or 1))
LANE_MIN_EVENTS = 25_000
MAX_BACKOFF_S = 30.0
SESSION_TIMEOUT_MS = 10_000


@dataclass
class SinkStats:
    events: int = 0
    batches: int = 0
    retries: int = 0
    positions: dict[int, int] = field(default_factory=dict)  # partition -> next offset committed


@dataclass
class _Batch:
    """A batch whose insert is under way: what to retry it with and what to commit after."""

    messages: list[Message]
    containers: list[bytes]  # one per insert lane
    next_offsets: dict[int, int]
    inserts: list[Future]  # of each container, on the writer of its lane


def sink_consumer(settings: Settings, group: str, client_id: str) -> Consumer:
    """A sink's consumer: manual commits (after the insert), from the earliest offset of a
    new group, end-of-partition events (to know when it has caught up)."""
    return Consumer(client_config(settings) | {
        "group.id": group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": True,
        "client.id": client_id,
        # a killed sink's partitions move to its replacement after this long (default 45 s)
        "session.timeout.ms": SESSION_TIMEOUT_MS,
    })


def assign_from_beginning(consumer: Consumer, topics: Sequence[str], timeout_s: float = 10.0) -> list[TopicPartition]:
    """Assign every partition of ``topics`` to ``consumer`` at its first offset, for a replay.

    Assigned rather than subscribed: a replay reads every partition itself, so it skips the
    consumer-group join (a rebalance round that cost a fixed part of a replay's first second).
    Its offsets are still committed to the group after each insert, so a sink started
    afterwards continues where the replay stopped; run no other member of the group meanwhile."""
    metadata = consumer.list_topics(timeout=timeout_s)
    partitions = []
    for topic in topics:
        found = metadata.topics.get(topic)
        if found is None or found.error is not None or not found.partitions:
            raise ProjectionError(f"cannot replay topic {topic!r}: {found.error if found else 'it does not exist'}")
        partitions += [TopicPartition(topic, p, OFFSET_BEGINNING) for p in sorted(found.partitions)]
    consumer.assign(partitions)
    return partitions


def insert_lanes(events: int, writers: int) -> int:
    """How many containers a batch of ``events`` is inserted as, with ``writers`` lanes."""
    return max(1, min(writers, events // LANE_MIN_EVENTS))


def consumer_group(settings: Settings) -> str:
    return f"{settings.topic_prefix}.projections.events"


class EventsSink:
    """Consume ``settings.topics.interactions`` into ``event_log`` through ``backend``.

    ``from_beginning`` reads every partition from its start (replay; see :func:`assign_from_beginning`).
    ``on_batch(stats, batch_events)`` is called after each committed batch. ``versions``
    are the schema versions it reads (default: every packaged one); the last is current.
    """

    def __init__(self, settings: Settings, backend: Backend, *, batch_size: int = BATCH_SIZE,
                 batch_seconds: float = 0.5, from_beginning: bool = False,
                 on_batch: Callable[[SinkStats, int], None] | None = None,
                 versions: Sequence[SchemaVersion] | None = None):
        self.settings = settings
        self.backend = backend
        self.topic = settings.topics.interactions
        self.batch_size = batch_size
        self.batch_seconds = batch_seconds
        self.on_batch = on_batch
        self.stats = SinkStats()
        versions = tuple(versions or schema_versions())
        self._codec = InteractionCodec(versions)
        self._current_header = MARKER + self._codec.fingerprint
        self._container = ContainerWriter(versions[-1].schema)
        self._insert = event_log_insert(versions[-1].schema)
        self._privacy = Opener(settings)
        self._from_beginning = from_beginning
        self._assigned: set[int] = set()
        self._at_end: set[int] = set()
        self._consumer = sink_consumer(settings, consumer_group(settings), "panorama-events-sink")
        self._writers = backend.writers(INSERT_LANES)

    def run(self, should_stop: Callable[[], bool] = lambda: False, until_caught_up: bool = False) -> SinkStats:
        """Sink batches until ``should_stop()`` — or, with ``until_caught_up``, until every
        assigned partition has been read to its end and committed."""
        if self._from_beginning:
            self._assigned = {tp.partition for tp in assign_from_beginning(self._consumer, [self.topic])}
        else:
            self._consumer.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        inserter = ThreadPoolExecutor(len(self._writers), thread_name_prefix="events-sink-insert")
        pending: _Batch | None = None
        try:
            while not should_stop():
                messages = self._next_batch()  # while the previous batch is being inserted
                self._finish(pending)
                pending = None
                if messages:
                    pending = self._start(messages, inserter)
                elif until_caught_up and self._assigned and self._at_end >= self._assigned:
                    break
            self._finish(pending)
        finally:
            inserter.shutdown(wait=True)
            self._consumer.close()
        return self.stats

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned |= {tp.partition for tp in partitions}

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned -= {tp.partition for tp in partitions}
        self._at_end -= {tp.partition for tp in partitions}

    def _next_batch(self) -> list[Message]:
        batch: list[Message] = []
        deadline = time.monotonic() + self.batch_seconds
        while len(batch) < self.batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            for msg in self._consumer.consume(min(10_000, self.batch_size - len(batch)), remaining):
                error = msg.error()
                if error is None:
                    batch.append(msg)
                    if self._at_end:  # empty while the log streams in: no per-message call then
                        self._at_end.discard(msg.partition())
                elif error.code() == KafkaError._PARTITION_EOF:
                    self._at_end.add(msg.partition())
                elif error.fatal():
                    raise ProjectionError(f"Kafka consumer failed on {self.topic}: {error.str()}")
                else:
                    log.warning("Kafka consumer on %s: %s (librdkafka retries)", self.topic, error.str())
            if self._at_end and self._at_end >= self._assigned and not batch:
                break
        return batch

    def _start(self, messages: list[Message], inserter: ThreadPoolExecutor) -> _Batch:
        """Frame the batch and start inserting it on the helper thread. Messages of a
        forgotten customer (``cdp privacy forget``) are skipped, so a replay does not
        bring their pseudonymous rows back; their offsets are committed all the same."""
        next_offsets = {msg.partition(): msg.offset() + 1 for msg in messages}  # in order per partition
        rows = []
        row, current = self._container.row, self._current_header
        for msg in self._privacy.not_erased(messages):
            value = msg.value() or b""
            if not value.startswith(current):
                value = self._upcast(msg)
            rows.append(row(msg.key(), msg.partition(), msg.offset(), value))
        containers = self._container.containers(rows, insert_lanes(len(rows), len(self._writers))) if rows else []
        inserts = [inserter.submit(writer.insert_avro, self._insert, container, INSERT_SETTINGS)
                   for writer, container in zip(self._writers, containers)]
        return _Batch(messages, containers, next_offsets, inserts)

    def _finish(self, batch: _Batch | None) -> None:
        """Wait for the batch's insert (retrying it here if it failed), then commit."""
        if batch is None:
            return
        failed: dict[int, ProjectionError] = {}
        for lane, insert in enumerate(batch.inserts):
            try:
                insert.result()
            except ProjectionError as e:
                failed[lane] = e
        if failed:
            self._retry_until_durable(batch, failed)
        self._commit(batch.next_offsets)
        self.stats.events += len(batch.messages)
        self.stats.batches += 1
        self.stats.positions.update(batch.next_offsets)
        if self.on_batch:
            self.on_batch(self.stats, len(batch.messages))

    def _upcast(self, msg: Message) -> bytes:
        """The message re-encoded with the current schema, or ProjectionError naming it."""
        return self._codec.encode(self._decode(msg))

    def _decode(self, msg: Message) -> dict:
        try:
            return self._codec.decode(msg.value() or b"")
        except ContractError as e:
            raise ProjectionError(
                f"cannot decode {msg.topic()}[{msg.partition()}]@{msg.offset()}: {e}. The sink stops rather "
                "than skip it; upgrade this consumer to a build that knows the schema."
            ) from e

    def _commit(self, next_offsets: dict[int, int]) -> None:
        """Commit after a durable insert. A failed commit (a rebalance took the partition)
        loses nothing: the new owner re-reads from the previous commit and the
        duplicates collapse by event_id."""
        try:
            self._consumer.commit(offsets=[TopicPartition(self.topic, p, o) for p, o in next_offsets.items()],
                                  asynchronous=False)
        except KafkaException as e:
            log.warning("offset commit on %s failed, the batch will be re-read: %s", self.topic, e)

    def _retry_until_durable(self, batch: _Batch, failed: dict[int, ProjectionError]) -> None:
        """Retry the failed inserts of ``batch`` (lane -> its error) with backoff until every
        one landed; partitions stay paused meanwhile (polling continues so the consumer keeps
        its group membership).

        First every message is decoded in Python, once for all lanes: a corrupt one is why
        ClickHouse refused the batch, and retrying would never end, so the sink stops naming
        it. If all decode, the store is what failed, and the lanes are retried until they land."""
        for msg in batch.messages:
            self._decode(msg)
        backoff = 0.5
        paused = self._consumer.assignment()
        self._consumer.pause(paused)
        try:
            while failed:
                self.stats.retries += 1
                log.warning("insert of %d events failed, retrying in %.1fs: %s", len(batch.messages), backoff,
                            next(iter(failed.values())))
                deadline = time.monotonic() + backoff
                while time.monotonic() < deadline:
                    self._keep_membership(min(0.2, max(0.0, deadline - time.monotonic())))
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                for lane in list(failed):
                    try:
                        self._writers[lane].insert_avro(self._insert, batch.containers[lane], INSERT_SETTINGS)
                        del failed[lane]
                    except ProjectionError as e:
                        failed[lane] = e
        finally:
            self._consumer.resume(paused)

    def _keep_membership(self, timeout: float) -> None:
        """Poll while paused so the group does not evict us; pausing purges the fetch
        queue, so no message may come back — if one does, stop rather than drop it."""
        msg = self._consumer.poll(timeout)
        if msg is not None and msg.error() is None:
            raise ProjectionError(
                f"{msg.topic()}[{msg.partition()}]@{msg.offset()} was delivered while paused; stopping so it is re-read"
            )
