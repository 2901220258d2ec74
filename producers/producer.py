"""The interaction producer: the only way events enter Kafka.

Guarantees:

* idempotent, ``acks=all`` delivery (librdkafka retries without duplicating);
* every event is validated against the contract first; an invalid one goes to the DLQ
  with its reason and the original payload (sealed: no personal data in clear), never to
  the interaction log;
* personal fields are sealed per customer before encoding (``panorama.privacy``), and
  events of forgotten customers are refused (``SuppressedIdentity``);
* bounded memory: when the broker is slow or down the local queue fills and ``send``
  blocks (serving delivery reports) up to ``producer_block_timeout_s``, then raises
  :class:`BackpressureTimeout` instead of growing without limit;
* every delivery error is seen: callers that need durable acknowledgement use
  :meth:`InteractionProducer.send_and_wait` (or their own ``on_delivery``); the rest are
  counted, and :meth:`flush` raises if any delivery failed or is still pending.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from panorama.errors import BackpressureTimeout, ContractError, ProducerError
from panorama.kafka_config import client_config
from panorama.settings import Settings
from producers.dead_letter import dead_letter_record
from producers.encoder import EventEncoder
from schemas.codec import InteractionCodec

POLL_EVERY = 1000  # serve delivery callbacks after this many sends


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where an event landed (``error`` is None) or why it did not."""

    event_id: str | None
    topic: str
    partition: int | None
    offset: int | None
    error: str | None = None


@dataclass
class SendResult:
    """Outcome of :meth:`InteractionProducer.send_and_wait`, by input position."""

    accepted: dict[int, Delivery] = field(default_factory=dict)
    rejected: dict[int, ContractError] = field(default_factory=dict)
    failed: dict[int, Delivery] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed


@dataclass
class ProducerStats:
    sent: int = 0
    acked: int = 0
    failed: int = 0
    dead_lettered: int = 0
    last_error: str | None = None


def producer_config(settings: Settings) -> dict[str, Any]:
    return client_config(settings) | {
        "enable.idempotence": True,
        "acks": "all",
        "compression.type": settings.producer_compression,
        "linger.ms": settings.producer_linger_ms,
        "batch.num.messages": 10_000,
        "batch.size": 1_000_000,
        "queue.buffering.max.messages": settings.producer_queue_max_messages,
        "queue.buffering.max.kbytes": settings.producer_queue_max_kbytes,
        "delivery.timeout.ms": settings.producer_delivery_timeout_ms,
        "client.id": "panorama-producer",
    }


class InteractionProducer:
    """Validate, encode, key and deliver interactions. Use as a context manager: leaving
    the block flushes (and raises if anything could not be delivered)."""

    def __init__(self, settings: Settings, codec: InteractionCodec | None = None, **config_overrides: Any):
        self.settings = settings
        self.topic = settings.topics.interactions
        self.dlq_topic = settings.topics.dlq
        self.encoder = EventEncoder(settings, codec)
        self.codec, self.keys = self.encoder.codec, self.encoder.keys
        self.stats = ProducerStats()
        self._block_timeout = settings.producer_block_timeout_s
        self._since_poll = 0
        config = producer_config(settings) | {"on_delivery": self._count_delivery} | config_overrides
        self._producer = Producer(config)
        self._closed = False

    # -- sending ---------------------------------------------------------------------

    def send(self, event: Any, on_delivery: Callable[[KafkaError | None, Message], None] | None = None,
             source: str | None = None) -> bool:
        """Queue one event (a ``schemas.models.Interaction`` or its record dict).

        Returns True when queued for the interaction log, False when it failed the
        contract and was dead-lettered instead. Blocks while the queue is full.
        """
        try:
            value, key = self.encode(event)
        except ContractError as e:
            self.dead_letter(event, e, source)
            return False
        self._produce(self.topic, value, key, on_delivery)
        return True

    def encode(self, event: Any) -> tuple[bytes, bytes]:
        """(value, key) for a valid event; ContractError naming the field otherwise."""
        return self.encoder.encode(event)

    @property
    def privacy(self):
        """The sealer of personal fields (``panorama.privacy.hooks.Sealer``); benchmarks
        set it to None to measure the producer without sealing."""
        return self.encoder.privacy

    @privacy.setter
    def privacy(self, sealer) -> None:
        self.encoder.privacy = sealer

    def send_encoded(self, value: bytes, key: bytes,
                     on_delivery: Callable[[KafkaError | None, Message], None] | None = None) -> None:
        """Queue bytes already produced by :meth:`encode` (for callers that encode elsewhere)."""
        self._produce(self.topic, value, key, on_delivery)

    def send_encoded_many(self, encoded: Iterable[tuple[bytes, bytes]]) -> None:
        """Queue many (value, key) pairs from :meth:`encode`, in order: :meth:`send_encoded`
        without its per-call overhead (an import sends millions). Deliveries are counted
        in ``stats``; :meth:`flush` raises if any failed."""
        produce, topic, sent = self._producer.produce, self.topic, 0
        for value, key in encoded:
            try:
                produce(topic, value, key)
            except BufferError:
                self._wait_for_room(topic, value, key, None, None)
            sent += 1
            if sent % POLL_EVERY == 0:
                self._producer.poll(0)
        self.stats.sent += sent

    def dead_letter(self, payload: Any, error: ContractError, source: str | None = None,
                    on_delivery: Callable[[KafkaError | None, Message], None] | None = None) -> None:
        """Send rejected input to the DLQ with its reason."""
        value, headers = dead_letter_record(payload, error, source, self.privacy)
        self.stats.dead_lettered += 1
        self._produce(self.dlq_topic, value, None, on_delivery, headers)

    def send_and_wait(self, events: Iterable[Any], timeout: float = 30.0, source: str | None = None) -> SendResult:
        """Send events and wait until Kafka acknowledged each (or failed it).

        Invalid events are dead-lettered and reported in ``rejected``; the DLQ writes are
        acknowledged too before this returns.
        """
        result = SendResult()
        pending = 0
        events = list(events)
        if self.privacy:
            self.privacy.prefetch(events, self.keys.for_identities)

        def report(index: int, event_id: str | None, target: dict):
            def on_delivery(err: KafkaError | None, msg: Message) -> None:
                nonlocal pending
                pending -= 1
                self._count_delivery(err, msg)
                delivery = Delivery(event_id, msg.topic(), msg.partition(), msg.offset(), err.str() if err else None)
                (result.failed if err else target)[index] = delivery
            return on_delivery

        for index, event in enumerate(events):
            record = event.to_record() if hasattr(event, "to_record") else event
            event_id = record.get("event_id") if isinstance(record, dict) else None
            pending += 1
            try:
                value, key = self.encode(record)
            except ContractError as e:
                result.rejected[index] = e
                self.dead_letter(event, e, source, report(index, event_id, {}))
                continue
            self._produce(self.topic, value, key, report(index, event_id, result.accepted))
        deadline = time.monotonic() + timeout
        while pending > 0 and time.monotonic() < deadline:
            self._producer.poll(0.05)
        if pending > 0:
            raise ProducerError(f"{pending} events not acknowledged by Kafka within {timeout}s; is the broker up?")
        return result

    def _produce(self, topic: str, value: bytes, key: bytes | None,
                 on_delivery: Callable | None, headers: list | None = None) -> None:
        try:
            self._producer.produce(topic, value, key, on_delivery=on_delivery, headers=headers)
        except BufferError:
            self._wait_for_room(topic, value, key, on_delivery, headers)
        self.stats.sent += 1
        self._since_poll += 1
        if self._since_poll >= POLL_EVERY:
            self._since_poll = 0
            self._producer.poll(0)

    def _wait_for_room(self, topic, value, key, on_delivery, headers) -> None:
        deadline = time.monotonic() + self._block_timeout
        while True:
            self._producer.poll(0.05)
            try:
                self._producer.produce(topic, value, key, on_delivery=on_delivery, headers=headers)
                return
            except BufferError:
                if time.monotonic() > deadline:
                    raise BackpressureTimeout(
                        f"the producer queue ({len(self._producer)} messages) stayed full for "
                        f"{self._block_timeout}s: Kafka at {self.settings.kafka_address} is slow or down. "
                        "Check `cdp status`; raise CDP_PRODUCER_BLOCK_TIMEOUT_S to wait longer."
                    ) from None

    def _count_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is None:
            self.stats.acked += 1
        else:
            self.stats.failed += 1
            self.stats.last_error = f"{msg.topic()}[{msg.partition()}]: {err.str()}"

    # -- lifecycle -------------------------------------------------------------------

    def poll(self, timeout: float = 0) -> int:
        return self._producer.poll(timeout)

    def flush(self, timeout: float = 60.0) -> None:
        """Wait for every queued event; raise if any is undelivered or failed."""
        remaining = self._producer.flush(timeout)
        if remaining:
            raise ProducerError(f"{remaining} events still undelivered after {timeout}s; is Kafka up? (`cdp status`)")
        if self.stats.failed:
            raise ProducerError(f"{self.stats.failed} events failed delivery; last: {self.stats.last_error}")

    def close(self) -> None:
        """Drop whatever is still queued (each counted as a failed delivery) and serve the
        reports, which releases the delivery callbacks: librdkafka holds them outside
        Python's garbage collector, so a producer left with undelivered messages would
        otherwise live, and retry its broker, until the interpreter exits. Also closes the
        key store's Redis client. Leaving a ``with`` block calls it after flushing; call
        :meth:`flush` first for anything that must be delivered."""
        if self._closed:
            return
        self._closed = True
        self._producer.purge()
        self._producer.flush(5.0)  # serves the purge's reports, local, so at once (1 s fell short under load)
        self._producer.close()  # else the handle reconnects to its broker until the garbage collector finds it
        self.encoder.close()

    def __len__(self) -> int:
        return len(self._producer)

    def __enter__(self) -> InteractionProducer:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self.flush()
            else:
                self._producer.flush(5.0)
        finally:
            self.close()
