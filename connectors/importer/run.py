"""`cdp import`: stream a file through a row connector into the interaction log.

Constant memory: rows are read, mapped, encoded and queued one at a time (the producer's
bounded queue applies back-pressure); rejected rows go straight to the rejects file.
The report counts rows read, events Kafka acknowledged and rows rejected, each rejection
with its row number, field and reason.
"""

from __future__ import annotations

import csv
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from connectors import registry
from connectors.importer.mapping import load_mapping
from connectors.importer.readers import file_format, read_rows
from connectors.privacy_keys import prefetch_keys
from panorama.clock import now_us
from panorama.errors import ConnectorError, ContractError
from panorama.settings import Settings
from producers import InteractionProducer

SHOWN_REJECTIONS = 20
# Rows mapped before their events are encoded, so the privacy keys of a chunk's customers
# are fetched in one round trip (connectors.privacy_keys). Larger chunks measured slower:
# their live records make every garbage collection longer (2,000 rows: 14-15k rows/s,
# 500: 17-20k, 100-250: 18-24k, same stack, alternating).
CHUNK_ROWS = 200


@dataclass
class ImportReport:
    path: Path
    rows_read: int = 0
    events_produced: int = 0
    rows_rejected: int = 0
    rejects_file: Path | None = None
    first_rejections: list[tuple[int, str, str]] = field(default_factory=list)  # (row, field, problem)


def rejects_path(path: Path) -> Path:
    return path.with_name(path.name + ".rejected.csv")


def import_file(settings: Settings, path: Path, connector_name: str, mapping_file: Path | None = None,
                progress: Callable[[int, int], None] | None = None) -> ImportReport:
    """Import ``path``; ``progress(bytes_read, rows_read)`` is called every few thousand
    rows. Raises ConnectorError for an unusable file or connector, ProducerError if Kafka
    did not acknowledge every event."""
    connector_cls = registry.get(connector_name)
    if connector_cls.input_format != "row":
        raise ConnectorError(f"{connector_name} is not an import connector; try one of: "
                             + ", ".join(n for n in registry.names() if registry.get(n).input_format == "row"))
    if not path.is_file():
        raise ConnectorError(f"{path} does not exist")
    file_format(path)
    mapping = load_mapping(mapping_file)
    connector = connector_cls(mapping.settings)
    rename = mapping.renamer()
    report = ImportReport(path, rejects_file=rejects_path(path))
    received_at = now_us()
    with (_fewer_collections(), InteractionProducer(settings) as producer,
          report.rejects_file.open("w", newline="", encoding="utf-8") as out):
        rejects = csv.writer(out)
        rejects.writerow(["row", "field", "code", "problem"])

        def reject(number: int, e: ContractError) -> None:
            report.rows_rejected += 1
            rejects.writerow([number, e.field, e.code, e.problem])
            if len(report.first_rejections) < SHOWN_REJECTIONS:
                report.first_rejections.append((number, e.field, e.problem))

        rows = read_rows(path)
        while chunk := list(islice(rows, CHUNK_ROWS)):
            mapped: list[tuple[int, list[dict] | ContractError]] = []
            for number, row, _ in chunk:
                if not isinstance(row, ContractError):
                    try:
                        row = connector.to_events(rename(row), received_at)
                    except ContractError as e:
                        row = e
                mapped.append((number, row))
            _send_chunk(producer, mapped, reject)
            report.rows_read += len(chunk)
            if progress is not None:
                progress(chunk[-1][2], report.rows_read)
        producer.flush()
        report.events_produced = producer.stats.acked
    if progress is not None:
        progress(path.stat().st_size, report.rows_read)
    return report


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Run the import with the garbage collector working in larger steps: every row
    allocates a few dozen containers, and with the default thresholds collections took a
    sixth of the import (alternating runs: 23.1-23.3k -> 27.3-28.3k rows/s). Objects that
    exist before the import are frozen out of collections; cycles are still collected,
    and the settings are restored afterwards (they are process-wide)."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(20_000, 50, 50)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def _send_chunk(producer: InteractionProducer, mapped: list[tuple[int, list[dict] | ContractError]],
                reject: Callable[[int, ContractError], None]) -> None:
    """Encode and queue the events of one chunk's rows, in row order; a row that could not
    be mapped, or whose event fails the contract, is rejected whole (none of its events is
    sent)."""
    prefetch_keys(producer, [record for _, records in mapped if isinstance(records, list) for record in records])
    encode, send = producer.encode, producer.send_encoded
    for number, records in mapped:
        try:
            if isinstance(records, ContractError):
                raise records
            encoded = [encode(record) for record in records]
        except ContractError as e:
            reject(number, e)
            continue
        for value, key in encoded:
            send(value, key)
