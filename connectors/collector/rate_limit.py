"""Token buckets: per-source event limits in the collector, per-key and per-address request
limits in the API (one set per process).

Each name may burst up to one second of its rate. A request that does not fit is
refused whole with 429 and ``Retry-After`` (whole seconds, as HTTP wants), so an SDK
retries it later instead of dropping part of a batch. With N collector processes the
effective limit is N × the configured one.

Memory is bounded: at most ``max_entries`` buckets, least recently used evicted first.
A bucket refills completely within one second, so evicting one idle that long forgets
nothing; only a flood of more than ``max_entries`` names active within the same second
evicts live buckets (each evicted name starts again from a full one-second burst).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict

MAX_BUCKETS = 100_000


class TokenBuckets:
    def __init__(self, max_entries: int = MAX_BUCKETS) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries: must be at least 1, got {max_entries}")
        self._max = max_entries
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # name -> (tokens, last refill)

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, source: str, rate: float, events: int) -> float:
        """Take ``events`` tokens; 0.0 if allowed, else the seconds to wait before retrying."""
        now = time.monotonic()
        tokens, last = self._buckets.get(source, (rate, now))
        tokens = min(rate, tokens + (now - last) * rate)
        allowed = events <= tokens
        self._buckets[source] = (tokens - events if allowed else tokens, now)
        self._buckets.move_to_end(source)
        if len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        return 0.0 if allowed else (events - tokens) / rate


def retry_after_header(wait: float) -> str:
    return str(max(1, math.ceil(wait)))
