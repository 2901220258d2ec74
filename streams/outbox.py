"""The transactional outbox: records the workers publish (signals, identity changes),
written to Redis *in the same transaction* as the state change that caused them,
published to Kafka afterwards, and deleted only once Kafka acknowledged them.

A crash between the commit and the acknowledgement leaves the record in the outbox; the
next owner of the partition publishes it again, with the same id and the same content
(ids are derived from what the record is about, never from a clock). Consumers therefore
see every record at least once and can recognise a redelivery by its id: effectively
once relative to the Redis commit. A state change that was not committed never reaches
the outbox, so nothing is published for it.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from confluent_kafka import KafkaError, Message, Producer
from redis import Redis

from panorama.errors import StreamError

ID_NAMESPACE = uuid.UUID("6f0d3f5e-8f4e-4b7c-9a55-3c1f0e2b7d11")


def record_id(*parts: str) -> str:
    """A deterministic record id: the same facts always give the same id."""
    return str(uuid.uuid5(ID_NAMESPACE, "\x1f".join(parts)))


def outbox_entry(topic: str, key: str, record: dict[str, Any]) -> tuple[str, bytes]:
    """(field, value) of the outbox hash for ``record`` (which carries its ``id``)."""
    return record["id"], orjson.dumps({"topic": topic, "key": key, "record": record})


class OutboxPublisher:
    """Publishes partitions' outboxes (``{ns}:out:{p}``) with an idempotent producer,
    without waiting: records are handed to the producer, and deleted from Redis on a
    later call, once Kafka acknowledged them. Not thread-safe (the worker's loop owns it)."""

    def __init__(self, redis: Redis, producer_config: dict[str, Any], timeout_s: float = 30.0):
        self.redis = redis
        self._config = producer_config
        self._producer: Producer | None = None
        self.timeout_s = timeout_s
        self._in_flight: set[str] = set()
        self._acked: list[tuple[str, str]] = []  # (outbox key, record id)
        self._errors: list[KafkaError] = []

    def publish(self, outbox_key: str) -> int:
        """Delete every acknowledged record (of any outbox), then send the pending records
        of ``outbox_key`` not yet in flight, in the order they were recorded. Returns how
        many records were deleted. Raises StreamError when Kafka refused one (it stays
        pending: the next owner sends it again, with the same id)."""
        deleted = self._settle(0)
        pending = self.redis.hgetall(outbox_key)
        entries = sorted((orjson.loads(v) for k, v in pending.items() if k.decode() not in self._in_flight),
                         key=lambda e: (e["record"]["recorded_at"], e["record"]["id"]))
        if entries and self._producer is None:
            self._producer = Producer(self._config | {"client.id": "panorama-profile-worker-outbox"})
        for entry in entries:
            record_id_ = entry["record"]["id"]
            self._in_flight.add(record_id_)
            self._producer.produce(entry["topic"], orjson.dumps(entry["record"]), entry["key"].encode(),
                                   on_delivery=self._delivered(outbox_key, record_id_))
        return deleted

    def settle(self) -> int:
        """Without sending anything: delete the records Kafka acknowledged since the last
        call; return how many. Raises StreamError like :meth:`publish`."""
        return self._settle(0)

    def _delivered(self, outbox_key: str, record_id_: str):
        def callback(err: KafkaError | None, _msg: Message) -> None:
            self._in_flight.discard(record_id_)
            if err is not None:
                self._errors.append(err)
            else:
                self._acked.append((outbox_key, record_id_))
        return callback

    def _settle(self, timeout: float) -> int:
        if self._producer is not None and timeout:
            self._producer.flush(timeout)  # what is still in flight after it stays pending in Redis
        elif self._producer is not None:
            self._producer.poll(0)  # runs the delivery callbacks
        if self._errors:
            raise StreamError(f"publishing outbox records: {self._errors[0]}; they stay pending")
        acked, self._acked = self._acked, []
        by_key: dict[str, list[str]] = {}
        for key, record in acked:
            by_key.setdefault(key, []).append(record)
        for key, records in by_key.items():
            self.redis.hdel(key, *records)
        return len(acked)

    def close(self) -> int:
        """Wait for what is in flight and delete what Kafka acknowledged; return how many.
        Shuts the producer down either way (a live handle keeps reconnecting to its broker);
        what Kafka did not acknowledge stays pending in Redis for the next owner."""
        try:
            return self._settle(self.timeout_s)
        finally:
            if self._producer is not None:
                self._producer.purge()
                self._producer.close()
                self._producer = None
