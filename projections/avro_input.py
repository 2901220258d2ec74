"""The ClickHouse side of the Avro path: input structure and ``INSERT ... SELECT``.

Column expressions (``projections/event_columns.py``) name the Avro fields they read as
``{dotted.path}`` placeholders. This module turns them into what ClickHouse's Avro input
format can address:

- through a record that is never null, a path is one input column with a dotted name
  (``{source.channel}`` -> input column ```source.channel```): ClickHouse reads just
  that leaf and skips the rest of the record;
- a nullable record (``["null", Order]``) must be read whole as a ``Nullable(Tuple(...))``
  — ClickHouse does not descend through unions and wants every leaf in the tuple — and
  the path continues as tuple element access (``{order.total.amount_minor}`` ->
  ```order`.`total`.`amount_minor```). Those tuples are parsed in memory during the
  insert, personal leaves included (``order.shipping_address``, ``survey.comment``, ...);
  no column expression reads them, and only the expressions reach the table.

Every input column's type is derived from the schema, so the structure follows the
``.avsc`` files by construction.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from schemas.avro_names import named_types

PLACEHOLDER = re.compile(r"\{([A-Za-z_][\w.]*)\}")
_PRIMITIVES = {"string": "String", "bytes": "String", "int": "Int32", "long": "Int64", "boolean": "Bool",
               "float": "Float32", "double": "Float64"}
_LOGICAL = {("string", "uuid"): "UUID", ("long", "timestamp-micros"): "DateTime64(6, 'UTC')"}


def placeholders(expression: str) -> tuple[str, ...]:
    """The dotted Avro paths an expression reads, in order of first use."""
    return tuple(dict.fromkeys(PLACEHOLDER.findall(expression)))


@dataclass(frozen=True)
class AvroInsert:
    """``INSERT INTO table (columns) SELECT expressions FROM <Avro source>``.

    ``structure`` is what the source is read as; :meth:`sql` puts in the source, which is
    the only part that differs between engines: ``file(path, Avro, structure)`` for chDB,
    ``input(structure)`` plus ``FORMAT Avro`` and the bytes as the body for a server.
    """

    table: str
    columns: tuple[str, ...]
    expressions: tuple[str, ...]
    structure: str

    def sql(self, source: str, settings: str = "") -> str:
        """The statement reading from ``source``; ``settings`` is an optional SETTINGS clause."""
        return (f"INSERT INTO {self.table} ({', '.join(f'`{c}`' for c in self.columns)}){settings}\n"
                "SELECT\n    " + ",\n    ".join(self.expressions) + f"\nFROM {source}")


def avro_insert(table: str, columns: Sequence[tuple[str, str]], schema: dict[str, Any]) -> AvroInsert:
    """The insert of ``columns`` (name, expression with placeholders) from rows of ``schema``."""
    reader = _Reader(schema)
    expressions = tuple(PLACEHOLDER.sub(lambda m: reader.access(m[1]), sql) for _, sql in columns)
    structure = ", ".join(f"`{name}` {type_}" for name, type_ in reader.inputs.items())
    return AvroInsert(table, tuple(name for name, _ in columns), expressions, structure)


class _Reader:
    """Maps placeholder paths to input columns, collecting the columns it needed."""

    def __init__(self, schema: dict[str, Any]):
        self._names = named_types(schema)
        self._schema = schema
        self.inputs: dict[str, str] = {}

    def access(self, path: str) -> str:
        """The ClickHouse expression for ``path``; records the input column it needs."""
        parts = path.split(".")
        node: Any = self._schema
        depth = 0
        while True:  # descend through records that are never null: one dotted input column
            node = self._field_type(node, parts[depth], path)
            depth += 1
            if depth == len(parts) or not _is_record(self._deref(node)):
                break
        column, rest = ".".join(parts[:depth]), parts[depth:]
        self.inputs.setdefault(column, self.clickhouse_type(node))
        self._check_path(node, rest, path)
        return ".".join(f"`{p}`" for p in (column, *rest))

    def _check_path(self, node: Any, rest: list[str], path: str) -> None:
        for part in rest:
            node = self._field_type(_non_null(self._deref(node)), part, path)

    def _field_type(self, node: Any, name: str, path: str) -> Any:
        record = self._deref(node)
        if not _is_record(record):
            raise ValueError(f"column expression reads {path!r}, but {name!r} is not inside a record")
        for field in record["fields"]:
            if field["name"] == name:
                return field["type"]
        raise ValueError(f"column expression reads {path!r}: the schema has no field {name!r} there")

    def _deref(self, node: Any) -> Any:
        return self._names.get(node, node) if isinstance(node, str) else node

    def clickhouse_type(self, node: Any) -> str:
        """The ClickHouse type ClickHouse's Avro input format reads ``node`` into."""
        node = self._deref(node)
        if isinstance(node, list):
            branches = [b for b in node if b != "null"]
            if len(branches) != 1:
                raise ValueError(f"only [null, T] unions are supported, got {node}")
            inner = self.clickhouse_type(branches[0])
            return inner if len(branches) == len(node) else f"Nullable({inner})"
        if isinstance(node, str):
            return _PRIMITIVES[node]
        kind = node["type"]
        logical = _LOGICAL.get((kind, node.get("logicalType")))
        if logical:
            return logical
        if kind == "record":
            return "Tuple(" + ", ".join(f"`{f['name']}` {self.clickhouse_type(f['type'])}" for f in node["fields"]) + ")"
        if kind == "array":
            return f"Array({self.clickhouse_type(node['items'])})"
        if kind == "map":
            return f"Map(String, {self.clickhouse_type(node['values'])})"
        if kind == "fixed":
            return f"FixedString({node['size']})"
        return self.clickhouse_type(kind)


def _is_record(node: Any) -> bool:
    return isinstance(node, dict) and node.get("type") == "record"


def _non_null(node: Any) -> Any:
    return next(b for b in node if b != "null") if isinstance(node, list) else node


def sql_string(text: str) -> str:
    """``text`` as a ClickHouse string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def settings_sql(settings: dict[str, Any]) -> str:
    """``settings`` as the body of a SETTINGS clause: ``name = value, ...``."""
    return ", ".join(f"{name} = {sql_string(value) if isinstance(value, str) else value}"
                     for name, value in settings.items())
