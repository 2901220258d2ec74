"""Hypothesis strategies derived from the .avsc itself, so they follow every new field."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from schemas.avro_names import named_types, resolve
from schemas.contract import CANONICAL_TYPES, PAYLOAD_FIELDS, current_schema

_PRIMITIVES = {
    "string": st.text(max_size=12),
    "int": st.integers(-(2**31), 2**31 - 1),
    "long": st.integers(-(2**63), 2**63 - 1),
    "boolean": st.booleans(),
}


def from_schema(schema: Any, names: dict[str, Any]) -> st.SearchStrategy[Any]:
    schema = resolve(schema, names)
    if isinstance(schema, list):
        branch = next(b for b in schema if b != "null")
        return st.none() | from_schema(branch, names)
    if isinstance(schema, str):
        return _PRIMITIVES[schema]
    if schema["type"] == "record":
        return st.fixed_dictionaries({f["name"]: from_schema(f["type"], names) for f in schema["fields"]})
    if schema["type"] == "map":
        return st.dictionaries(st.text(max_size=8), from_schema(schema["values"], names), max_size=3)
    return st.lists(from_schema(schema["items"], names), max_size=3)


def interaction_records() -> st.SearchStrategy[dict[str, Any]]:
    """Avro-valid records of every canonical type, the type's payload filled, others null."""
    schema = current_schema()
    names = named_types(schema)
    fields = {f["name"]: f for f in schema["fields"]}

    def for_type(type_: str) -> st.SearchStrategy[dict[str, Any]]:
        payload = CANONICAL_TYPES[type_]
        parts = {n: from_schema(f["type"], names) for n, f in fields.items() if n not in PAYLOAD_FIELDS}
        parts |= {n: st.none() for n in PAYLOAD_FIELDS}
        parts["type"] = st.just(type_)
        if payload:
            parts[payload] = from_schema(resolve(fields[payload]["type"], names)[1], names)
        return st.fixed_dictionaries(parts)

    return st.sampled_from(sorted(CANONICAL_TYPES)).flatmap(for_type)
