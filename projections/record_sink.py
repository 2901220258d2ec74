"""The record sink: identity, signal, profile and segment records -> ClickHouse.

One consumer group (``<prefix>.projections.records``) reads the four JSON topics. For
each batch: map every record to rows (``projections/records.py``), insert each target
table as columns, and only then commit the offsets after the batch. Same guarantees as
the events sink (``projections/sink.py``):

* a crash between insert and commit redelivers the batch, whose rows have the same
  sorting key and version as before, so ReplacingMergeTree folds them (the views read
  ``FINAL`` or take ``argMax``); block-hash deduplication is off (``INSERT_SETTINGS``)
  so a legitimate re-insert after an erasure is never swallowed;
* a failed insert pauses the partitions and retries the rest of the *same* batch with
  backoff until it lands — nothing is skipped or reordered;
* a record that is not in its topic's format stops the sink with its
  topic/partition/offset and the field at fault;
* records keyed by a forgotten customer and written before the forget are left out,
  so a replay does not bring the customer back (the message key is the customer id,
  ``kind:hash``, whose hash is the subject the key store knows).

chDB admits one process per data directory, so ``cdp sink`` runs this sink on a thread
beside the events sink (:func:`running_beside`), both through one
:class:`SerializedBackend`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from panorama.errors import ProjectionError
from panorama.log_reader import watermarks
from panorama.privacy.keystore import KeyStore
from panorama.settings import Settings
from projections import records
from projections.backend import Backend
from projections.sink import INSERT_SETTINGS, MAX_BACKOFF_S, SinkStats, assign_from_beginning, sink_consumer

log = logging.getLogger(__name__)

Position = tuple[str, int]  # (topic, partition)


def consumer_group(settings: Settings) -> str:
    return f"{settings.topic_prefix}.projections.records"


class RecordSink:
    """Consume the record topics into the customer tables through ``backend``.

    ``from_beginning`` reads every partition from its start (replay; see
    :func:`~projections.sink.assign_from_beginning`);
    ``on_batch(stats, records_in_batch)`` is called after each committed batch
    (``stats.events`` counts records); ``committed`` holds the next offset committed per
    (topic, partition)."""

    def __init__(self, settings: Settings, backend: Backend, *, batch_size: int = 5_000,
                 batch_seconds: float = 0.5, from_beginning: bool = False,
                 on_batch: Callable[[SinkStats, int], None] | None = None):
        self.backend = backend
        self.mappers = records.mappers(settings.topics)
        self.batch_size = batch_size
        self.batch_seconds = batch_seconds
        self.on_batch = on_batch
        self.stats = SinkStats()
        self.committed: dict[Position, int] = {}
        self._keystore = KeyStore.from_settings(settings)
        self._from_beginning = from_beginning
        self._assigned: set[Position] = set()
        self._at_end: set[Position] = set()
        self._consumer = sink_consumer(settings, consumer_group(settings), "panorama-record-sink")

    def run(self, should_stop: Callable[[], bool] = lambda: False, until_caught_up: bool = False) -> SinkStats:
        """Sink batches until ``should_stop()`` — or, with ``until_caught_up``, until every
        assigned partition of every topic has been read to its end and committed."""
        if self._from_beginning:
            self._assigned = {(tp.topic, tp.partition) for tp in assign_from_beginning(self._consumer, list(self.mappers))}
        else:
            self._consumer.subscribe(list(self.mappers), on_assign=self._on_assign, on_revoke=self._on_revoke)
        try:
            while not should_stop():
                messages = self._next_batch()
                if messages:
                    self._sink(messages)
                elif until_caught_up and self._assigned and self._at_end >= self._assigned:
                    break
        finally:
            self._consumer.close()
        return self.stats

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned |= {(tp.topic, tp.partition) for tp in partitions}

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        gone = {(tp.topic, tp.partition) for tp in partitions}
        self._assigned -= gone
        self._at_end -= gone

    def _next_batch(self) -> list[Message]:
        batch: list[Message] = []
        deadline = time.monotonic() + self.batch_seconds
        while len(batch) < self.batch_size and (remaining := deadline - time.monotonic()) > 0:
            for msg in self._consumer.consume(self.batch_size - len(batch), remaining):
                error = msg.error()
                if error is None:
                    batch.append(msg)
                    self._at_end.discard((msg.topic(), msg.partition()))
                elif error.code() == KafkaError._PARTITION_EOF:
                    self._at_end.add((msg.topic(), msg.partition()))
                elif error.fatal():
                    raise ProjectionError(f"Kafka consumer failed on the record topics: {error.str()}")
                else:
                    log.warning("Kafka consumer on the record topics: %s (librdkafka retries)", error.str())
            if not batch and self._assigned and self._at_end >= self._assigned:
                break
        return batch

    def _sink(self, messages: list[Message]) -> None:
        rows = records.Rows()
        for msg in self._not_erased(messages):
            try:
                self.mappers[msg.topic()](orjson.loads(msg.value() or b""), rows)
            except (orjson.JSONDecodeError, records.RecordError) as e:
                raise ProjectionError(
                    f"cannot sink {msg.topic()}[{msg.partition()}]@{msg.offset()}: {e}. The sink stops rather than "
                    "skip it; fix the producer or upgrade this consumer") from e
        self._insert_until_durable(rows.tables())
        next_offsets = {(msg.topic(), msg.partition()): msg.offset() + 1 for msg in messages}  # in order per partition
        self._commit(next_offsets)
        self.committed.update(next_offsets)
        self.stats.events += len(messages)
        self.stats.batches += 1
        if self.on_batch:
            self.on_batch(self.stats, len(messages))

    def _not_erased(self, messages: list[Message]) -> list[Message]:
        """The batch minus records of a forgotten customer written up to its forget."""
        self._keystore.refresh()
        subject = {key: key.decode().rpartition(":")[2] for key in {m.key() for m in messages if m.key()}}
        forgotten = self._keystore.forgotten_at(subject.values())
        return [m for m in messages if not m.key() or (at := forgotten.get(subject[m.key()])) is None
                or m.timestamp()[1] * 1000 > at]

    def _insert_until_durable(self, tables: dict[str, Any]) -> None:
        """Insert each table; on failure pause every partition (still polling, to keep the
        group membership) and retry the tables not yet written, with backoff."""
        pending = list(tables.items())
        backoff = 0.5
        paused: list[TopicPartition] | None = None
        try:
            while pending:
                table, data = pending[0]
                try:
                    self.backend.insert(table, data, INSERT_SETTINGS)
                    pending.pop(0)
                    continue
                except ProjectionError as e:
                    self.stats.retries += 1
                    log.warning("insert of %d rows into %s failed, retrying in %.1fs: %s", data.num_rows, table,
                                backoff, e)
                if paused is None:
                    paused = self._consumer.assignment()
                    self._consumer.pause(paused)
                self._wait_paused(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
        finally:
            if paused is not None:
                self._consumer.resume(paused)

    def _wait_paused(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            msg = self._consumer.poll(min(0.2, left))
            if msg is not None and msg.error() is None:
                raise ProjectionError(f"{msg.topic()}[{msg.partition()}]@{msg.offset()} was delivered while "
                                      "paused; stopping so it is re-read")

    def _commit(self, next_offsets: dict[Position, int]) -> None:
        """Commit after a durable insert; a failed commit (the partition moved) loses
        nothing: the new owner re-reads, and the rows fold."""
        try:
            self._consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in next_offsets.items()],
                                  asynchronous=False)
        except KafkaException as e:
            log.warning("offset commit on the record topics failed, the batch will be re-read: %s", e)


def replay_records(settings: Settings, backend: Backend) -> SinkStats:
    """Re-read every record topic from the beginning into the (freshly created) tables;
    when they hold nothing, return at once rather than wait for every empty partition to
    report its end (1-2 s measured)."""
    topics = records.mappers(settings.topics)
    if not any(high > low for topic in topics for low, high in watermarks(settings, topic).values()):
        return SinkStats()
    return RecordSink(settings, backend, from_beginning=True).run(until_caught_up=True)


class SerializedBackend:
    """One backend shared by the sinks' threads, one call at a time (an embedded chDB
    session is not documented as safe for concurrent statements)."""

    def __init__(self, backend: Backend):
        self._backend = backend
        self._lock = threading.Lock()
        self.name = backend.name

    def __getattr__(self, method: str) -> Callable[..., Any]:
        call = getattr(self._backend, method)

        def serialized(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return call(*args, **kwargs)
        return serialized


@contextmanager
def running_beside(sink: RecordSink, should_stop: Callable[[], bool],
                   until_caught_up: bool) -> Iterator[Callable[[], bool]]:
    """Run ``sink`` on a thread while the caller runs the events sink; yield a ``should_stop``
    for the caller that also turns true if the record sink failed. On exit, wait for the
    record sink (it stops too once the caller's ``should_stop`` holds or it caught up) and
    re-raise its error."""
    leaving = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            sink.run(lambda: leaving.is_set() or should_stop(), until_caught_up=until_caught_up)
        except BaseException as e:  # noqa: BLE001 - handed to the caller below
            errors.append(e)

    thread = threading.Thread(target=run, name="record-sink", daemon=True)
    thread.start()
    try:
        yield lambda: should_stop() or bool(errors)
    except BaseException:
        leaving.set()
        raise
    finally:
        if not until_caught_up:
            leaving.set()
        thread.join()
    if errors:
        raise ProjectionError(f"the record sink stopped: {errors[0]}") from errors[0]
