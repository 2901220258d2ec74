"""Avro single-object bodies of many records at once, built column by column.

The per-record writer (``schemas.avro_writer``) costs a few microseconds per event, most
of it Python appending constant bytes. An import chunk's events share their shape: most
fields are constants of the connector, the rest come from a handful of file columns. So
the record is described once per chunk as a nested dict whose leaves are constants or
:class:`Column` (one value per event), and this module walks the schema once, turning
every leaf into bytes: a constant into one ``bytes`` piece, a column into a binary Arrow
array of each event's encoding (zig-zag varints through numpy, length-prefixed UTF-8,
union branch bytes). The pieces are then joined per event by Arrow. The walk follows the
same schema, field order and defaults as the generated writer; tests hold the two
byte-identical.

Only what the import layouts need is supported: constants of every type the fast writer
supports, string and long/int columns (a null in a nullable string column is the null
branch), a nullable record present on some rows (:class:`Maybe`), one of a few
constants per row (:class:`OneOf`) and an array of zero or one item (:class:`OneItem`). Anything else raises NotImplementedError naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from schemas.avro_names import named_types, resolve
from schemas.avro_writer import nullable_branch, varint

_INT_RANGE = (-(1 << 31), 1 << 31)
_EMPTY = pa.scalar(b"", pa.binary())


@dataclass(frozen=True)
class Column:
    """One value per event: a string array (nulls allowed where the schema is nullable)
    or an int64 array (no nulls)."""

    values: pa.Array


@dataclass(frozen=True)
class Maybe:
    """A nullable record present where ``mask`` is true (a numpy bool array)."""

    mask: np.ndarray
    value: dict[str, Any]


@dataclass(frozen=True)
class OneOf:
    """Per row, one of a few constant values: ``options[choice[row]]``."""

    choice: np.ndarray
    options: list[Any]


@dataclass(frozen=True)
class OneItem:
    """An array holding ``item`` where ``mask`` is true, empty elsewhere."""

    mask: np.ndarray
    item: dict[str, Any]


def varints(values: np.ndarray) -> pa.BinaryArray:
    """Zig-zag varint encodings of an int64 array, one binary value each."""
    values = np.asarray(values, dtype=np.int64)
    zigzag = ((values << 1) ^ (values >> 63)).view(np.uint64)
    sizes = np.ones(len(zigzag), dtype=np.int64)
    rest = zigzag >> np.uint64(7)
    while rest.any():
        sizes += rest != 0
        rest >>= np.uint64(7)
    offsets = np.zeros(len(zigzag) + 1, dtype=np.int32)
    np.cumsum(sizes, out=offsets[1:])
    data = np.empty(int(offsets[-1]), dtype=np.uint8)
    starts, rest = offsets[:-1].astype(np.int64), zigzag.copy()
    for index in range(int(sizes.max(initial=0))):
        live = sizes > index
        more = np.where(sizes > index + 1, np.uint64(0x80), np.uint64(0))
        data[starts[live] + index] = ((rest & np.uint64(0x7F)) | more)[live].astype(np.uint8)
        rest >>= np.uint64(7)
    return pa.Array.from_buffers(pa.binary(), len(zigzag), [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def encode_columns(schema: dict[str, Any], record: dict[str, Any], rows: int, prefix: bytes = b"") -> pa.BinaryArray:
    """``prefix`` + the Avro binary body of each of the ``rows`` records ``record``
    describes. Raises ValueError when a column does not fit its field (an int out of
    range, a null where the schema has none)."""
    pieces = _Pieces(rows)
    pieces.const(prefix)
    _Walker(named_types(schema), pieces).node(schema, record)
    return pieces.join()


class _Pieces:
    """Constant bytes and per-row binary arrays, in order; adjacent constants merged."""

    def __init__(self, rows: int):
        self.rows, self.items = rows, []

    def const(self, data: bytes) -> None:
        if self.items and isinstance(self.items[-1], bytes):
            self.items[-1] += data
        elif data:
            self.items.append(data)

    def column(self, encoded: pa.Array) -> None:
        if len(encoded) != self.rows:
            raise ValueError(f"a column has {len(encoded)} values for {self.rows} rows")
        self.items.append(encoded)

    def join(self) -> pa.BinaryArray:
        """Each row's bytes; a row is null when any of its pieces is."""
        if not any(isinstance(item, pa.Array) for item in self.items):
            return pa.array([b"".join(self.items)] * self.rows, pa.binary())
        parts = [pa.scalar(item, pa.binary()) if isinstance(item, bytes) else item for item in self.items]
        return pc.binary_join_element_wise(*parts, _EMPTY)


class _Walker:
    def __init__(self, names: dict[str, Any], out: _Pieces):
        self.names, self.out = names, out

    def sub(self, schema: Any, value: Any) -> pa.Array:
        """``value`` encoded apart, as one binary array (for a branch taken on some rows)."""
        walker = _Walker(self.names, _Pieces(self.out.rows))
        walker.node(schema, value)
        return walker.out.join()

    def node(self, schema: Any, value: Any) -> None:
        schema = resolve(schema, self.names)
        if isinstance(schema, list):
            self._union(nullable_branch(schema), value)
            return
        kind = schema if isinstance(schema, str) else schema["type"]
        if isinstance(value, Column):
            self.out.column(self._column(kind, value.values))
        elif isinstance(value, OneOf):
            options = [self._encoded_constant(schema, option) for option in value.options]
            self.out.column(pa.array(options, pa.binary()).take(pa.array(value.choice, pa.int64())))
        elif kind == "record":
            for field in schema["fields"]:
                name = field["name"]
                self.node(field["type"], value.get(name, field["default"]) if "default" in field else value[name])
        elif isinstance(value, OneItem) and kind == "array":
            body = self.sub(schema["items"], value.item)
            self.out.column(_where(value.mask, [b"\x02", body, b"\x00"], b"\x00"))
        elif kind in ("array", "map"):
            self._container(schema, kind, value)
        else:
            self.out.const(_constant(kind, value))

    def _encoded_constant(self, schema: Any, value: Any) -> bytes:
        walker = _Walker(self.names, _Pieces(1))
        walker.node(schema, value)
        return b"".join(walker.out.items)

    def _union(self, branch: Any, value: Any) -> None:
        if value is None:
            self.out.const(b"\x00")
        elif isinstance(value, Maybe):
            self.out.column(_where(value.mask, [b"\x02", self.sub(branch, value.value)], b"\x00"))
        elif isinstance(value, Column) and value.values.null_count:
            present = self.sub(branch, value)  # null where the value is
            self.out.column(pc.fill_null(pc.binary_join_element_wise(pa.scalar(b"\x02", pa.binary()), present, _EMPTY),
                                         pa.scalar(b"\x00", pa.binary())))
        else:
            self.out.const(b"\x02")
            self.node(branch, value)

    def _container(self, schema: dict[str, Any], kind: str, value: Any) -> None:
        if isinstance(value, (Column, Maybe, OneOf, OneItem)):
            raise NotImplementedError(f"a per-row {kind} is not supported by the columnar writer")
        if value:
            self.out.const(varint(len(value)))
            for item in value.items() if kind == "map" else value:
                if kind == "map":
                    self.out.const(_constant("string", item[0]))
                    item = item[1]
                self.node(schema["values"] if kind == "map" else schema["items"], item)
        self.out.const(b"\x00")

    def _column(self, kind: str, values: pa.Array) -> pa.Array:
        if kind == "string":
            lengths = pc.fill_null(pc.binary_length(values), 0).to_numpy(zero_copy_only=False)
            return pc.binary_join_element_wise(varints(lengths), values.cast(pa.binary()), _EMPTY)
        if kind in ("long", "int"):
            if values.null_count:
                raise ValueError(f"a {kind} column has nulls")
            numbers = values.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
            if kind == "int" and len(numbers) and not (_INT_RANGE[0] <= numbers.min() and numbers.max() < _INT_RANGE[1]):
                raise ValueError(f"an int column has values outside [{_INT_RANGE[0]}, {_INT_RANGE[1]})")
            return varints(numbers)
        raise NotImplementedError(f"a {kind} column is not supported by the columnar writer")


def _where(mask: np.ndarray, present: list[Any], absent: bytes) -> pa.Array:
    """Per row: the concatenation of ``present`` where ``mask``, else ``absent``."""
    parts = [pa.scalar(p, pa.binary()) if isinstance(p, bytes) else p for p in present]
    joined = pc.binary_join_element_wise(*parts, _EMPTY)
    return pc.if_else(pa.array(mask, pa.bool_()), joined, pa.scalar(absent, pa.binary()))


def _constant(kind: str, value: Any) -> bytes:
    if kind == "string":
        data = value.encode()
        return varint(len(data)) + data
    if kind in ("long", "int"):
        if type(value) is not int or (kind == "int" and not _INT_RANGE[0] <= value < _INT_RANGE[1]):
            raise ValueError(f"{value!r:.40} is not an Avro {kind}")
        return varint(value)
    if kind == "boolean":
        if type(value) is not bool:
            raise ValueError(f"{value!r:.40} is not an Avro boolean")
        return b"\x01" if value else b"\x00"
    raise NotImplementedError(f"Avro type {kind!r} is not supported by the columnar writer")
