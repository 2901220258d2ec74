"""The profile worker's Kafka offset commits, at most one request a second.

The position that counts is the one stored in Redis with the state it produced; the
group's Kafka offsets are a hint, read by lag monitoring and by ``cdp privacy forget``
(which waits until every group has passed the forget). Committing after every partition
batch sent the broker an OffsetCommit per batch — ~80 a second at 5,000 events/s, each
an append to ``__consumer_offsets`` — on the two cores the worker shares with it. Now the
newest offset of each partition waits here and all of them go in one request once
``interval_s`` has passed (or on a revoke and on close), so the hint trails the stored
position by at most about ``interval_s``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from confluent_kafka import Consumer, KafkaException, TopicPartition

log = logging.getLogger(__name__)


class OffsetHints:
    def __init__(self, consumer: Consumer, topic: str, interval_s: float = 1.0,
                 timer: Callable[[], float] = time.monotonic):
        self.consumer, self.topic, self.interval_s, self.timer = consumer, topic, interval_s, timer
        self._pending: dict[int, int] = {}  # partition -> next offset to read
        self._last = timer()

    def advanced(self, partition: int, next_offset: int) -> None:
        """``partition`` is stored up to ``next_offset - 1``."""
        self._pending[partition] = next_offset

    def tick(self) -> None:
        """Commit what is pending when ``interval_s`` has passed since the last commit."""
        if self._pending and self.timer() - self._last >= self.interval_s:
            self.commit()

    def commit(self, partitions: list[int] | None = None, asynchronous: bool = True) -> None:
        """Commit the pending offsets (of ``partitions`` only, when given) now."""
        chosen = list(self._pending) if partitions is None else [p for p in partitions if p in self._pending]
        if not chosen:
            return
        offsets = [TopicPartition(self.topic, p, self._pending.pop(p)) for p in chosen]
        self._last = self.timer()
        try:
            self.consumer.commit(offsets=offsets, asynchronous=asynchronous)
        except KafkaException as e:  # a lost partition, a rebalance: the next owner starts from Redis anyway
            log.debug("offset hint not committed: %s", e)
