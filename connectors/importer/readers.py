"""Streaming readers: rows of a CSV, JSON Lines or Parquet file, one at a time, in
constant memory, each with its 1-based row number (the header line is not a row) and the
bytes consumed so far (for the progress bar).

Reading is split in two: :func:`scan_rows` finds each row and its number at the least
cost (a CSV line split into values, a JSON line left as text, a Parquet batch left in
Arrow), and :func:`build_row` turns what it found into the row dict. An import worker
scans the whole file, to number rows as everyone else does, but builds only the rows of
its own chunks.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from panorama.errors import ConnectorError, ContractError

# Small batches: an import worker converts to Python only the batches its chunks touch.
PARQUET_BATCH_ROWS = 1024

Scanned = tuple[int, Any, int]  # (row number, what build_row takes, bytes read so far)


def file_format(path: Path) -> str:
    suffix = path.suffix.lower().removesuffix(".gz")
    formats = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet"}
    if suffix not in formats:
        raise ConnectorError(f"cannot tell the format of {path.name}: use .csv, .jsonl/.ndjson or .parquet")
    return formats[suffix]


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | ContractError, int]]:
    """(row number, row or the reason it cannot be read, bytes read so far)."""
    for number, found, position in scan_rows(path):
        yield number, build_row(found), position


def scan_rows(path: Path) -> Iterator[Scanned]:
    kind = file_format(path)
    if kind == "parquet":
        yield from _parquet(path)
        return
    with path.open("rb") as binary:
        text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
        number = 0
        try:
            for number, row in _csv(text) if kind == "csv" else _jsonl(text):
                yield number, row, binary.tell()
        except UnicodeDecodeError as e:
            raise ConnectorError(f"{path.name} is not UTF-8 text: {e.reason} in the rows after row {number}; "
                                 "convert it (e.g. iconv -f latin1 -t utf-8) and import it again") from None


def build_row(found: Any) -> dict[str, Any] | ContractError:
    """The row (or the reason it cannot be read) from what :func:`scan_rows` found."""
    return found if isinstance(found, ContractError) else found.build()


class CsvRow:
    __slots__ = ("header", "values")

    def __init__(self, header: list[str], values: list[str]):
        self.header, self.values = header, values

    def build(self) -> dict[str, Any]:
        return dict(zip(self.header, self.values))


class _JsonRow:
    __slots__ = ("line",)

    def __init__(self, line: str):
        self.line = line

    def build(self) -> dict[str, Any] | ContractError:
        try:
            row = orjson.loads(self.line)
        except orjson.JSONDecodeError as e:
            return ContractError("<row>", f"not valid JSON: {e}", "malformed_row")
        return row if isinstance(row, dict) else ContractError("<row>", "must be a JSON object", "malformed_row")


class ChunkTable:
    """A chunk's rows as Arrow string columns, built on demand by name: what the columnar
    import reads instead of row dicts. :func:`chunk_table` says when a chunk has one."""

    def __init__(self, names: list[str], column: Any):
        self.names, self._column = names, column

    def column(self, name: str) -> Any:
        return self._column(name)


def chunk_table(found: list[Any]) -> ChunkTable | None:
    """The table of ``found`` (what :func:`scan_rows` found for a chunk's rows, all read
    without error): CSV rows, or Parquet rows whose columns are all strings, so that each
    value is what :func:`build_row` would give. None otherwise."""
    import pyarrow as pa

    if all(type(row) is CsvRow for row in found):
        index = {name: i for i, name in enumerate(found[0].header)}  # a repeated name: the last wins, as in build()
        values = list(zip(*(row.values for row in found)))  # a list: Arrow reads one 15 times faster than a tuple
        return ChunkTable(list(index), lambda name: pa.array(list(values[index[name]]), pa.string()))
    if not all(type(row) is _ParquetRow for row in found):
        return None
    slices: list[tuple[Any, int, int]] = []  # (record batch, first row, rows)
    for row in found:
        if slices and slices[-1][0] is row.batch.arrow and slices[-1][1] + slices[-1][2] == row.index:
            slices[-1] = (row.batch.arrow, slices[-1][1], slices[-1][2] + 1)
        else:
            slices.append((row.batch.arrow, row.index, 1))
    schema = slices[0][0].schema
    if any(batch.schema != schema for batch, _, _ in slices) or \
            not all(pa.types.is_string(t) or pa.types.is_large_string(t) for t in schema.types):
        return None
    index = {name: i for i, name in enumerate(schema.names)}
    return ChunkTable(list(index), lambda name: pa.concat_arrays(
        [batch.column(index[name]).slice(start, rows).cast(pa.string()) for batch, start, rows in slices]))


class _ParquetRow:
    """Row ``index`` of a batch converted to Python on the first row built from it."""

    __slots__ = ("batch", "index")

    def __init__(self, batch: _ParquetBatch, index: int):
        self.batch, self.index = batch, index

    def build(self) -> dict[str, Any]:
        return self.batch.rows()[self.index]


class _ParquetBatch:
    __slots__ = ("arrow", "python")

    def __init__(self, arrow: Any):
        self.arrow, self.python = arrow, None

    def rows(self) -> list[dict[str, Any]]:
        if self.python is None:
            self.python = self.arrow.to_pylist()
        return self.python


def _csv(text: io.TextIOWrapper) -> Iterator[tuple[int, CsvRow | ContractError]]:
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
            yield number, CsvRow(header, values)


def _jsonl(text: io.TextIOWrapper) -> Iterator[tuple[int, _JsonRow]]:
    for number, line in enumerate(text, 1):
        if line.strip():
            yield number, _JsonRow(line)


def _parquet(path: Path) -> Iterator[Scanned]:
    try:
        import pyarrow.parquet as pq
    except ImportError as e:
        raise ConnectorError("reading Parquet needs pyarrow: pip install pyarrow") from e
    parquet = pq.ParquetFile(path)
    size = path.stat().st_size
    total = parquet.metadata.num_rows or 1
    number = 0
    for arrow in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
        batch = _ParquetBatch(arrow)
        for index in range(arrow.num_rows):
            number += 1
            yield number, _ParquetRow(batch, index), size * number // total
