"""`cdp import`: stream a file through a row connector into the interaction log.

Constant memory: rows are read, mapped, encoded and queued one at a time (the producer's
bounded queue applies back-pressure); rejected rows go straight to the rejects file.
The report counts rows read, events Kafka acknowledged and rows rejected, each rejection
with its row number, field and reason.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from connectors import registry
from connectors.base import now_micros
from connectors.importer.mapping import load_mapping
from connectors.importer.readers import file_format, read_rows
from panorama.errors import ConnectorError, ContractError
from panorama.settings import Settings
from producers import InteractionProducer

SHOWN_REJECTIONS = 20


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
    received_at = now_micros()
    with InteractionProducer(settings) as producer, report.rejects_file.open("w", newline="", encoding="utf-8") as out:
        rejects = csv.writer(out)
        rejects.writerow(["row", "field", "code", "problem"])
        encode, send = producer.encode, producer.send_encoded
        for number, row, position in read_rows(path):
            report.rows_read += 1
            try:
                if isinstance(row, ContractError):
                    raise row
                encoded = [encode(record) for record in connector.to_events(rename(row), received_at)]
            except ContractError as e:
                report.rows_rejected += 1
                rejects.writerow([number, e.field, e.code, e.problem])
                if len(report.first_rejections) < SHOWN_REJECTIONS:
                    report.first_rejections.append((number, e.field, e.problem))
                continue
            for value, key in encoded:
                send(value, key)
            if progress is not None and report.rows_read % 5000 == 0:
                progress(position, report.rows_read)
        producer.flush()
        report.events_produced = producer.stats.acked
    if progress is not None:
        progress(path.stat().st_size, report.rows_read)
    return report
