"""Bulk import throughput: rows/s of `cdp import` on a generated order CSV (read, map,
clean, validate, encode, produce, wait for acks) in one process (the default) and with 2
worker processes, beside the producer alone sending the same events already mapped, and beside
the row path (``columnar=False``, the importer before the columnar path) in the same run.
Each note gives the CPU time per row of the importing process and its workers (the
broker's is not counted): on a machine shared with other work that is the steadier figure.

``python -m bench.import_bench [ROWS]`` runs it alone on a private stack and prints the
peak RSS (constant memory: the same for 100,000 and 1,000,000 rows)."""

from __future__ import annotations

import csv
import resource
import tempfile
import time
import uuid
from pathlib import Path

from bench.report import Figure, rate
from connectors.importer.rows import OrderRowConnector
from connectors.importer.run import default_workers, import_file
from panorama.clock import now_us
from panorama.settings import Settings
from producers import InteractionProducer

COLUMNS = ["order_id", "ordered_at", "total", "currency", "email", "phone", "sku", "quantity", "unit_price"]


CUSTOMERS = 20_000  # 10 orders each in the default 200,000 rows


def row(n: int) -> list[str]:
    customer = n % CUSTOMERS
    return [f"o-{n}", "2024-06-10 08:13:20", "19.90", "EUR", f"customer{customer}@example.com",
            f"+4930{customer:07d}", f"SKU-{n % 500}", "2", "9.95"]


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(COLUMNS)
        out.writerows(row(n) for n in range(rows))


def _cpu_seconds() -> float:
    """CPU time of this process and of its children that have ended (import workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _import(settings: Settings, path: Path, rows: int, workers: int, columnar: bool = True) -> tuple[float, float]:
    """(rows/s, CPU µs per row) of one import of ``path``."""
    cpu, started = _cpu_seconds(), time.perf_counter()
    report = import_file(settings, path, "orders", workers=workers, columnar=columnar)
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    assert report.events_produced == rows and report.rows_rejected == 0
    return rows / seconds, cpu / rows * 1e6


def run(settings: Settings, rows: int = 200_000) -> list[Figure]:
    """`cdp import`'s default first (one process, columnar, every customer new: keys created),
    then 2 worker processes and the row path over the same file (keys existing by then, which
    flatters both baselines)."""
    with tempfile.TemporaryDirectory(prefix="cdp-import-bench-") as tmp:
        path = Path(tmp) / "orders.csv"
        write_csv(path, rows)
        alone_rate, alone_cpu = _import(settings, path, rows, default_workers(path, columnar=True))
        parallel_rate, parallel_cpu = _import(settings, path, rows, 2)
        by_rows_rate, by_rows_cpu = _import(settings, path, rows, 0, columnar=False)
        connector = OrderRowConnector()
        events = [connector.to_events(dict(zip(COLUMNS, row(n))), now_us())[0] for n in range(10_000)]

        def produce_alone() -> None:
            with InteractionProducer(settings) as producer:
                for n in range(rows):
                    producer.send(events[n % len(events)] | {"event_id": str(uuid.uuid4())})

        producer_rate = rate(rows, produce_alone)
    return [
        Figure("import CSV orders to Kafka acks, one process (the default), new customers", alone_rate,
               "rows/s", "producer alone, same events", producer_rate,
               f"{rows:,} rows, {CUSTOMERS:,} customers, 1 event per row; CPU {alone_cpu:.1f} µs/row; "
               "target >= 100,000"),
        Figure("import with 2 worker processes, keys existing", parallel_rate, "rows/s", "one process, new customers",
               alone_rate, f"CPU {parallel_cpu:.1f} µs/row"),
        Figure("import in one process: columnar path", alone_rate, "rows/s", "row path (columnar=False), keys existing",
               by_rows_rate, f"CPU {alone_cpu:.1f} vs {by_rows_cpu:.1f} µs/row"),
    ]


if __name__ == "__main__":  # the guard spawned import workers need
    import sys

    from bench.report import peak_rss_mib, print_figures
    from panorama.stack.ephemeral import ephemeral_stack

    with tempfile.TemporaryDirectory(prefix="cdp-import-bench-") as stack, ephemeral_stack(Path(stack)) as bench_settings:
        size = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
        print_figures("import", run(bench_settings, size))
    print(f"peak RSS of the importing process: {peak_rss_mib():,.0f} MiB ({size:,} rows)")
