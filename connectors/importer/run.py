"""`cdp import`: stream a file through a row connector into the interaction log.

Constant memory: rows are read, mapped and encoded a chunk at a time (``chunks.py``), by
this process or by worker processes (``parallel.py``, for files large enough to repay
starting them), and this process alone produces them, in file order, to Kafka (the
producer's bounded queue applies back-pressure); rejected rows go straight to the
rejects file. The report counts rows read, events Kafka acknowledged and rows rejected,
each rejection with its row number, field and reason.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from connectors import registry
from connectors.importer.chunks import ImportTask, encode_in_process, fewer_collections
from connectors.importer.columnar_layouts import has_layout
from connectors.importer.mapping import load_mapping
from connectors.importer.parallel import encode_in_workers
from connectors.importer.readers import file_format
from panorama.clock import now_us
from panorama.errors import ConnectorError
from panorama.settings import Settings
from producers import InteractionProducer

SHOWN_REJECTIONS = 20
# Below this size a file is imported in this process: starting a worker (a fresh
# interpreter importing the platform) costs about as much as encoding this many bytes.
PARALLEL_FROM_BYTES = 4 << 20


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


def default_workers(path: Path, columnar: bool = False) -> int:
    """Worker processes for ``path``: none for a small file, on one core, or when the
    columnar path does the work (``columnar``: measured 95k rows/s in this process against
    53-62k with 2 workers, which each read the whole file, start cold and share the cores
    with the broker); else one per core: this process only produces (measured: 3.6 of a
    row path's 57 µs of CPU time per row with 2 workers), so the workers can have the cores."""
    cores = os.cpu_count() or 1
    return 0 if columnar or cores == 1 or path.stat().st_size < PARALLEL_FROM_BYTES else cores


def import_file(settings: Settings, path: Path, connector_name: str, mapping_file: Path | None = None,
                progress: Callable[[int, int], None] | None = None, workers: int | None = None,
                columnar: bool = True) -> ImportReport:
    """Import ``path``; ``progress(bytes_read, rows_read)`` is called after every chunk.
    ``workers`` processes map and encode (None: :func:`default_workers`; 0: this process
    alone). ``columnar=False`` keeps every row on the row path (the reference the columnar
    path is measured and tested against; the result is the same). Raises ConnectorError
    for an unusable file or connector, ProducerError if Kafka did not acknowledge every
    event."""
    connector_cls = registry.get(connector_name)
    if connector_cls.input_format != "row":
        raise ConnectorError(f"{connector_name} is not an import connector; try one of: "
                             + ", ".join(n for n in registry.names() if registry.get(n).input_format == "row"))
    if not path.is_file():
        raise ConnectorError(f"{path} does not exist")
    file_format(path)
    mapping = load_mapping(mapping_file)
    connector_cls(mapping.settings)  # a bad setting fails here, before any worker starts
    task = ImportTask(settings, path, connector_name, mapping, now_us(), columnar)
    if workers is None:
        workers = default_workers(path, columnar and has_layout(connector_cls) and file_format(path) != "jsonl")
    report = ImportReport(path, rejects_file=rejects_path(path))
    with (fewer_collections(), InteractionProducer(settings) as producer,
          report.rejects_file.open("w", newline="", encoding="utf-8") as out):
        rejects = csv.writer(out)
        rejects.writerow(["row", "field", "code", "problem"])
        results = encode_in_workers(task, workers) if workers else encode_in_process(task)
        for result in results:
            producer.send_encoded_many(result.events)
            rejects.writerows(result.rejects)
            report.rows_rejected += len(result.rejects)
            room = SHOWN_REJECTIONS - len(report.first_rejections)
            report.first_rejections.extend((row, field, problem) for row, field, _, problem in result.rejects[:room])
            report.rows_read += result.rows
            if progress is not None:
                progress(result.position, report.rows_read)
        producer.flush()
        report.events_produced = producer.stats.acked
    if progress is not None:
        progress(path.stat().st_size, report.rows_read)
    return report
