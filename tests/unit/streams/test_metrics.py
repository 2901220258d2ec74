from dataclasses import fields

from streams.metrics import HELP
from streams.stats import WorkerStats


def test_every_worker_stat_is_exported():
    assert set(HELP) == {f.name for f in fields(WorkerStats)}


def test_latency_quantiles_interpolate_inside_buckets_and_skip_warm_up():
    from streams.stats import LatencyHistogram

    histogram = LatencyHistogram(since=1_000)
    histogram.observe_us([500] * 50 + [1_000] * 99 + [1_000 - 90_000], stored_at=1_000 + 8_000)  # 8 ms; the rest warm-up
    assert sum(histogram.counts) == 99
    assert 0.0075 < histogram.quantile(0.5) <= 0.01 and 0.0075 < histogram.quantile(0.99) <= 0.01
    assert LatencyHistogram().quantile(0.99) is None
