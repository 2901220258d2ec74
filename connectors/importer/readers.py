"""Streaming readers: rows of a CSV, JSON Lines or Parquet file, one at a time, in
constant memory, each with its 1-based row number (the header line is not a row) and the
bytes consumed so far (for the progress bar)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from panorama.errors import ConnectorError, ContractError

PARQUET_BATCH_ROWS = 8192


def file_format(path: Path) -> str:
    suffix = path.suffix.lower().removesuffix(".gz")
    formats = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet"}
    if suffix not in formats:
        raise ConnectorError(f"cannot tell the format of {path.name}: use .csv, .jsonl/.ndjson or .parquet")
    return formats[suffix]


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | ContractError, int]]:
    """(row number, row or the reason it cannot be read, bytes read so far)."""
    kind = file_format(path)
    if kind == "parquet":
        yield from _parquet(path)
        return
    with path.open("rb") as binary:
        text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
        rows = _csv(text) if kind == "csv" else _jsonl(text)
        for number, row in rows:
            yield number, row, binary.tell()


def _csv(text: io.TextIOWrapper) -> Iterator[tuple[int, dict | ContractError]]:
    reader = csv.reader(text)
    header = next(reader, None)
    if header is None:
        return
    header = [h.strip() for h in header]
    width = len(header)
    for number, values in enumerate(reader, 1):
        if len(values) != width:
            if not any(values):
                continue
            yield number, ContractError("<row>", f"has {len(values)} columns, the header has {width}", "malformed_row")
        else:
            yield number, dict(zip(header, values))


def _jsonl(text: io.TextIOWrapper) -> Iterator[tuple[int, dict | ContractError]]:
    for number, line in enumerate(text, 1):
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            yield number, ContractError("<row>", f"not valid JSON: {e}", "malformed_row")
            continue
        yield number, row if isinstance(row, dict) else ContractError("<row>", "must be a JSON object", "malformed_row")


def _parquet(path: Path) -> Iterator[tuple[int, dict | ContractError, int]]:
    try:
        import pyarrow.parquet as pq
    except ImportError as e:
        raise ConnectorError("reading Parquet needs pyarrow: pip install pyarrow") from e
    parquet = pq.ParquetFile(path)
    size = path.stat().st_size
    total = parquet.metadata.num_rows or 1
    number = 0
    for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
        for row in batch.to_pylist():
            number += 1
            yield number, row, size * number // total
