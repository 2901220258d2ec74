"""Per-source rate limits: a token bucket of events per second, one per collector process.

Each source may burst up to one second of its rate. A request that does not fit is
refused whole with 429 and ``Retry-After`` (whole seconds, as HTTP wants), so an SDK
retries it later instead of dropping part of a batch. With N collector processes the
effective limit is N × the configured one.
"""

from __future__ import annotations

import math
import time


class TokenBuckets:
    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # source -> (tokens, last refill)

    def take(self, source: str, rate: float, events: int) -> float:
        """Take ``events`` tokens; 0.0 if allowed, else the seconds to wait before retrying."""
        now = time.monotonic()
        tokens, last = self._buckets.get(source, (rate, now))
        tokens = min(rate, tokens + (now - last) * rate)
        if events <= tokens:
            self._buckets[source] = (tokens - events, now)
            return 0.0
        self._buckets[source] = (tokens, now)
        return (events - tokens) / rate


def retry_after_header(wait: float) -> str:
    return str(max(1, math.ceil(wait)))
