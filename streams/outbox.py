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
    """Publishes the outbox of a partition (``{ns}:out:{p}``) with an idempotent producer."""

    def __init__(self, redis: Redis, producer_config: dict[str, Any], timeout_s: float = 30.0):
        self.redis = redis
        self._config = producer_config
        self._producer: Producer | None = None
        self.timeout_s = timeout_s
        self.published = 0

    def publish(self, outbox_key: str) -> int:
        """Send every pending record of ``outbox_key`` in the order it was recorded, wait for
        Kafka to acknowledge all of them, then delete them. Raises StreamError (records stay
        pending) when Kafka refuses or does not answer in time."""
        pending = self.redis.hgetall(outbox_key)
        if not pending:
            return 0
        entries = sorted((orjson.loads(v) for v in pending.values()),
                         key=lambda e: (e["record"]["recorded_at"], e["record"]["id"]))
        if self._producer is None:
            self._producer = Producer(self._config | {"client.id": "panorama-profile-worker-outbox"})
        errors: list[KafkaError] = []

        def delivered(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                errors.append(err)

        for entry in entries:
            self._producer.produce(entry["topic"], orjson.dumps(entry["record"]), entry["key"].encode(),
                                   on_delivery=delivered)
        if self._producer.flush(self.timeout_s) or errors:
            raise StreamError(f"publishing {len(entries)} outbox records: "
                              f"{errors[0] if errors else 'not acknowledged in time'}; they stay pending")
        self.redis.hdel(outbox_key, *(e["record"]["id"] for e in entries))
        self.published += len(entries)
        return len(entries)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(self.timeout_s)
