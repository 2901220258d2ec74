"""Answering only after Kafka acknowledged: one shared producer whose delivery reports
resolve asyncio futures.

The producer is polled from the event loop itself (a task that runs while deliveries are
outstanding), not from a thread: delivery callbacks run one per message, and a poll thread
must win the GIL back from the busy event loop for each of them (up to the 5 ms switch
interval every time), which measured 5-10x slower under load. Each request waits on one
future that the last of its delivery reports resolves.

Encoding, on the other hand, runs in a worker thread: sealing personal fields may call
the key store (Redis: a customer's first data key, the forgotten list, the refresh after
a forget), and a blocking call on the loop would stall every request. The key store is
not thread-safe, so one request at a time seals (``_sealing``); sends stay on the loop,
because the producer polls, and so runs delivery callbacks, from inside ``produce``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import anyio
from confluent_kafka import KafkaError, Message

from connectors.privacy_keys import keys_ready, prefetch_keys
from panorama.errors import ContractError, ProducerError
from panorama.settings import Settings
from producers import InteractionProducer

IDLE_POLL_S = 0.001  # poll cadence while deliveries are outstanding
# Every request waits for its acks, so the producer's linger is latency the client sees;
# under load the batches fill before it runs out anyway.
LINGER_MS = 2


@dataclass(frozen=True, slots=True)
class Item:
    """One input of a request: its position, the raw input, and either the record it
    mapped to or the reason it could not be mapped."""

    index: int
    raw: Any
    record: dict[str, Any] | None
    error: ContractError | None = None


@dataclass
class Outcome:
    """What happened to one request's events once Kafka answered for all of them."""

    accepted: int = 0
    dead_lettered: list[tuple[int, ContractError]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


class _Pending:
    """Counts outstanding delivery reports of one request; the last resolves the future."""

    def __init__(self, future: asyncio.Future, outcome: Outcome, count: int):
        self.future, self.outcome, self.count = future, outcome, count

    def on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self.outcome.failures.append(f"{msg.topic()}[{msg.partition()}]: {err.str()}")
        self.count -= 1
        if self.count == 0 and not self.future.done():
            self.future.set_result(None)


class AckingProducer:
    """Create inside the running event loop; use :meth:`deliver`; :meth:`close` at shutdown."""

    def __init__(self, settings: Settings, ack_timeout: float = 30.0):
        self._producer = InteractionProducer(settings, **{"linger.ms": min(LINGER_MS, settings.producer_linger_ms)})
        self._ack_timeout = ack_timeout
        self._outstanding = 0
        self._work = asyncio.Event()
        self._sealing = asyncio.Lock()  # one request at a time uses the key store (in a worker thread)
        self._pump_task = asyncio.get_running_loop().create_task(self._pump(), name="collector-delivery-poll")

    async def _pump(self) -> None:
        """Serve delivery reports while any are expected; sleep otherwise."""
        while True:
            await self._work.wait()
            served = self._producer.poll(0)
            if self._outstanding <= 0:
                self._work.clear()
            await asyncio.sleep(0 if served else IDLE_POLL_S)

    async def deliver(self, items: list[Item], source: str) -> Outcome:
        """Send each item: its record to the interaction log, or, when mapping already
        failed (``error``) or the record fails the contract now, its raw input to the DLQ
        with the reason. Returns once Kafka acknowledged (or failed) every one; raises
        ProducerError if Kafka did not answer in time or the queue stayed full."""
        outcome = Outcome()
        if not items:
            return outcome
        pending = _Pending(asyncio.get_running_loop().create_future(), outcome, len(items))
        producer = self._producer
        self._outstanding += 1
        self._work.set()
        try:
            async with self._sealing:  # held until sent: dead-lettering seals too, on the loop
                records = [item.record for item in items if item.record is not None]
                if not keys_ready(producer, records):
                    await anyio.to_thread.run_sync(prefetch_keys, producer, records)
                encoded = self._encode(items)
                for item, result in zip(items, encoded):
                    if isinstance(result, tuple):
                        producer.send_encoded(*result, pending.on_delivery)
                        outcome.accepted += 1
                    else:
                        producer.dead_letter(item.raw, result, source, pending.on_delivery)
                        outcome.dead_lettered.append((item.index, result))
            await asyncio.wait_for(asyncio.shield(pending.future), self._ack_timeout)
        except TimeoutError:
            raise ProducerError(f"Kafka did not acknowledge within {self._ack_timeout}s") from None
        finally:
            self._outstanding -= 1
        if outcome.failures:
            raise ProducerError(f"{len(outcome.failures)} events failed delivery; first: {outcome.failures[0]}")
        return outcome

    def _encode(self, items: list[Item]) -> list[tuple[bytes, bytes] | ContractError]:
        """(value, key) of each item, or why it goes to the DLQ. CPU only, on the loop: the
        items' data keys were fetched (or created) first, in a worker thread unless every one
        was cached already (``keys_ready``), because the key store's Redis calls block (up to ``CDP_PRIVACY_REDIS_TIMEOUT_S`` each); running the
        encoding there too cost a third of the throughput in thread hand-offs. Key-store
        failures (PrivacyError, RedisError, ProducerError) propagate to the caller."""
        producer = self._producer
        results: list[tuple[bytes, bytes] | ContractError] = []
        for item in items:
            if item.error is not None:
                results.append(item.error)
                continue
            try:
                results.append(producer.encode(item.record))
            except ContractError as e:
                results.append(e)
        return results

    def close(self, timeout: float = 10.0) -> None:
        """Stop polling and flush (on the loop's thread: callbacks must not run elsewhere)."""
        self._pump_task.cancel()
        self._producer.flush(timeout)
        self._producer.close()
