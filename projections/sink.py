"""The events sink: interaction log -> ``event_log``, effectively once.

Contract, in the order things happen for each batch:

1. consume up to ``batch_size`` messages or ``batch_seconds`` of them;
2. decode and build one column table (no per-row JSON);
3. insert it; if ClickHouse refuses or is unreachable, pause the partitions and retry
   the *same* batch with backoff until it lands — nothing is skipped or reordered;
4. only then commit the offsets after the batch.

A crash between 3 and 4 redelivers the batch, and the producer may have written an
event twice under different offsets: both become extra rows with the same ``event_id``,
which the ``events`` view (``FINAL``) and the exact aggregate states collapse. Block-hash
insert deduplication is switched off on purpose (``insert_deduplicate=0``): its window
is finite, and the hashes it leaves behind after ``ALTER ... DELETE`` would swallow a
legitimate re-insert after an erasure.

A message that cannot be decoded stops the sink with its topic/partition/offset: the
producer validates every event, so such a message means a schema this build does not
know, and skipping it would silently lose data.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition

from panorama.errors import ContractError, ProjectionError
from panorama.settings import Settings
from projections.backend import Backend
from projections.event_columns import event_row, rows_to_table
from schemas.codec import InteractionCodec

log = logging.getLogger(__name__)

INSERT_SETTINGS = {"insert_deduplicate": 0}
MAX_BACKOFF_S = 30.0
SESSION_TIMEOUT_MS = 10_000


@dataclass
class SinkStats:
    events: int = 0
    batches: int = 0
    retries: int = 0
    positions: dict[int, int] = field(default_factory=dict)  # partition -> next offset committed


def consumer_group(settings: Settings) -> str:
    return f"{settings.topic_prefix}.projections.events"


class EventsSink:
    """Consume ``settings.topics.interactions`` into ``event_log`` through ``backend``.

    ``from_beginning`` rewinds the consumer group to the start of every partition (replay).
    ``on_batch(stats, batch_events)`` is called after each committed batch.
    """

    def __init__(self, settings: Settings, backend: Backend, *, batch_size: int = 20_000,
                 batch_seconds: float = 0.5, from_beginning: bool = False,
                 on_batch: Callable[[SinkStats, int], None] | None = None):
        self.settings = settings
        self.backend = backend
        self.topic = settings.topics.interactions
        self.batch_size = batch_size
        self.batch_seconds = batch_seconds
        self.on_batch = on_batch
        self.stats = SinkStats()
        self._codec = InteractionCodec()
        self._from_beginning = from_beginning
        self._assigned: set[int] = set()
        self._at_end: set[int] = set()
        self._consumer = Consumer({
            "bootstrap.servers": settings.kafka_address,
            "group.id": consumer_group(settings),
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": True,
            "client.id": "panorama-events-sink",
            # a killed sink's partitions move to its replacement after this long (default 45 s)
            "session.timeout.ms": SESSION_TIMEOUT_MS,
        })

    def run(self, should_stop: Callable[[], bool] = lambda: False, until_caught_up: bool = False) -> SinkStats:
        """Sink batches until ``should_stop()`` — or, with ``until_caught_up``, until every
        assigned partition has been read to its end and committed."""
        self._consumer.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        try:
            while not should_stop():
                messages = self._next_batch()
                if messages:
                    self._write(messages)
                elif until_caught_up and self._assigned and self._at_end >= self._assigned:
                    break
        finally:
            self._consumer.close()
        return self.stats

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if self._from_beginning:
            for tp in partitions:
                tp.offset = OFFSET_BEGINNING
            consumer.assign(partitions)
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

    def _write(self, messages: list[Message]) -> None:
        rows = []
        next_offsets: dict[int, int] = {}
        for msg in messages:
            try:
                record = self._codec.decode(msg.value())
            except ContractError as e:
                raise ProjectionError(
                    f"cannot decode {msg.topic()}[{msg.partition()}]@{msg.offset()}: {e}. The sink stops rather "
                    "than skip it; upgrade this consumer to a build that knows the schema."
                ) from e
            key, partition, offset = msg.key(), msg.partition(), msg.offset()
            rows.append(event_row(record, key.decode() if key else "", partition, offset))
            next_offsets[partition] = offset + 1  # messages of one partition arrive in order
        self._insert_until_durable(rows_to_table(rows))
        self._commit(next_offsets)
        self.stats.events += len(messages)
        self.stats.batches += 1
        self.stats.positions.update(next_offsets)
        if self.on_batch:
            self.on_batch(self.stats, len(messages))

    def _commit(self, next_offsets: dict[int, int]) -> None:
        """Commit after a durable insert. A failed commit (a rebalance took the partition)
        loses nothing: the new owner re-reads from the previous commit and the
        duplicates collapse by event_id."""
        try:
            self._consumer.commit(offsets=[TopicPartition(self.topic, p, o) for p, o in next_offsets.items()],
                                  asynchronous=False)
        except KafkaException as e:
            log.warning("offset commit on %s failed, the batch will be re-read: %s", self.topic, e)

    def _insert_until_durable(self, table) -> None:
        """Insert, retrying the same batch with backoff; partitions stay paused meanwhile
        (polling continues so the consumer keeps its group membership)."""
        backoff = 0.5
        paused: list[TopicPartition] = []
        try:
            while True:
                try:
                    self.backend.insert("event_log", table, INSERT_SETTINGS)
                    return
                except ProjectionError as e:
                    self.stats.retries += 1
                    log.warning("insert of %d events failed, retrying in %.1fs: %s", table.num_rows, backoff, e)
                    if not paused:
                        paused = self._consumer.assignment()
                        self._consumer.pause(paused)
                    deadline = time.monotonic() + backoff
                    while time.monotonic() < deadline:
                        self._keep_membership(min(0.2, max(0.0, deadline - time.monotonic())))
                    backoff = min(backoff * 2, MAX_BACKOFF_S)
        finally:
            if paused:
                self._consumer.resume(paused)

    def _keep_membership(self, timeout: float) -> None:
        """Poll while paused so the group does not evict us; pausing purges the fetch
        queue, so no message may come back — if one does, stop rather than drop it."""
        msg = self._consumer.poll(timeout)
        if msg is not None and msg.error() is None:
            raise ProjectionError(
                f"{msg.topic()}[{msg.partition()}]@{msg.offset()} was delivered while paused; stopping so it is re-read"
            )
