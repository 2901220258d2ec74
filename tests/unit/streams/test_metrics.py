from dataclasses import fields

from streams.metrics import HELP
from streams.stats import WorkerStats


def test_every_worker_stat_is_exported():
    assert set(HELP) == {f.name for f in fields(WorkerStats)}
