"""Prometheus metrics of a profile worker, read from its :class:`WorkerStats` at scrape
time (no second set of counters to keep in step)."""

from __future__ import annotations

import time

from prometheus_client import start_http_server
from prometheus_client.core import REGISTRY, CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from streams.worker import ProfileWorker

HELP = {  # one per WorkerStats field (a unit test holds them together)
    "events": "events folded and stored",
    "duplicates": "events dropped by the dedup memory (same event id seen before)",
    "dead_lettered": "undecodable messages sent to the DLQ",
    "batches": "partition batches committed to Redis with their offset",
    "merges": "customers merged by identity links",
    "regroups": "components recomputed in event time because a late link lost its place there",
    "fenced": "batches refused because another worker had moved the partition's position",
    "signals": "lifecycle / churn-risk changes committed (to the outbox)",
    "published": "outbox records (signals, merges, unmerges) acknowledged by Kafka",
}


class WorkerCollector:
    def __init__(self, worker: ProfileWorker):
        self.worker = worker
        self._last = (time.monotonic(), 0)

    def collect(self):
        stats = self.worker.stats
        for name, help_text in HELP.items():
            yield CounterMetricFamily(f"cdp_profile_worker_{name}", help_text, value=getattr(stats, name))
        histogram = self.worker.latency
        yield HistogramMetricFamily("cdp_profile_worker_latency_seconds", "event received_at -> stored in Redis",
                                    buckets=histogram.buckets(), sum_value=histogram.total)
        now, events = time.monotonic(), stats.events
        (then, before), self._last = self._last, (now, events)
        yield GaugeMetricFamily("cdp_profile_worker_events_per_second", "events stored per second since the last scrape",
                                value=(events - before) / (now - then) if now > then else 0.0)
        lag = GaugeMetricFamily("cdp_profile_worker_lag", "messages behind the end of each owned partition",
                                labels=["partition"])
        for partition, behind in self.worker.lag().items():
            lag.add_metric([str(partition)], behind)
        yield lag


def serve_metrics(worker: ProfileWorker, port: int) -> None:
    """Expose the worker's metrics on ``http://0.0.0.0:port/metrics`` (a daemon thread)."""
    REGISTRY.register(WorkerCollector(worker))
    start_http_server(port)
