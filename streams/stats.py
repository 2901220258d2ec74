"""What a profile worker counts, read by :mod:`streams.metrics` at scrape time."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

# seconds; the collector stamps received_at, so this is "accepted -> visible in a profile"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0,
                   2.5, 5.0, 10.0, 60.0)


@dataclass
class WorkerStats:
    events: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    batches: int = 0
    merges: int = 0
    regroups: int = 0
    fenced: int = 0
    signals: int = 0
    published: int = 0


@dataclass
class LatencyHistogram:
    """Cumulative-on-read histogram of event received -> stored, in seconds (one list
    increment per event: cheaper than a prometheus_client Histogram.observe)."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    total: float = 0.0
    since: int = 0  # events received before this instant (µs) are not observed: a benchmark's warm-up

    def observe_us(self, received_at: list[int], stored_at: int) -> None:
        counts = self.counts
        for at in received_at:
            if at < self.since:
                continue
            seconds = max(0, stored_at - at) / 1e6
            counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
            self.total += seconds

    def buckets(self) -> list[tuple[str, int]]:
        """(upper bound, cumulative count) pairs, ending with +Inf, as Prometheus wants them."""
        out, running = [], 0
        for bound, count in zip([*map(str, LATENCY_BUCKETS), "+Inf"], self.counts):
            running += count
            out.append((bound, running))
        return out

    def quantile(self, q: float) -> float | None:
        """The ``q`` quantile in seconds, interpolated linearly inside its bucket (as
        Prometheus' histogram_quantile does); None when nothing was observed."""
        total = sum(self.counts)
        if not total:
            return None
        rank, lower = q * total, 0.0
        for (bound, cumulative), count in zip(self.buckets(), self.counts):
            upper = float(bound) if bound != "+Inf" else lower
            if cumulative >= rank:
                return lower + (upper - lower) * (1 - (cumulative - rank) / count) if count else upper
            lower = upper
        return lower
