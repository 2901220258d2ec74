"""Bulk import throughput: rows/s of `cdp import` on a generated order CSV (read, map,
clean, validate, encode, produce, wait for acks), beside the producer alone sending the
same events already mapped."""

from __future__ import annotations

import csv
import tempfile
import uuid
from pathlib import Path

from bench.report import Figure, rate
from connectors.importer.rows import OrderRowConnector
from connectors.importer.run import import_file
from panorama.clock import now_us
from panorama.settings import Settings
from producers import InteractionProducer

COLUMNS = ["order_id", "ordered_at", "total", "currency", "email", "phone", "sku", "quantity", "unit_price"]


def row(n: int) -> list[str]:
    customer = n % 20_000
    return [f"o-{n}", "2024-06-10 08:13:20", "19.90", "EUR", f"customer{customer}@example.com",
            f"+4930{customer:07d}", f"SKU-{n % 500}", "2", "9.95"]


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(COLUMNS)
        out.writerows(row(n) for n in range(rows))


def run(settings: Settings, rows: int = 200_000) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="cdp-import-bench-") as tmp:
        path = Path(tmp) / "orders.csv"
        write_csv(path, rows)
        report = None

        def do_import() -> None:
            nonlocal report
            report = import_file(settings, path, "orders")

        import_rate = rate(rows, do_import)
        connector = OrderRowConnector()
        events = [connector.to_events(dict(zip(COLUMNS, row(n))), now_us())[0] for n in range(10_000)]

        def produce_alone() -> None:
            with InteractionProducer(settings) as producer:
                for n in range(rows):
                    producer.send(events[n % len(events)] | {"event_id": str(uuid.uuid4())})

        producer_rate = rate(rows, produce_alone)
    assert report is not None and report.events_produced == rows and report.rows_rejected == 0
    return [Figure("import CSV orders to Kafka acks", import_rate, "rows/s", "producer alone, same events", producer_rate,
                   f"{rows:,} rows, 1 event per row; target >= 100,000")]
