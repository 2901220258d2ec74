"""Named-type bookkeeping shared by everything that walks a raw ``.avsc`` schema."""

from __future__ import annotations

from typing import Any

_CONTAINERS = ("record", "map", "array")


def named_types(schema: Any, names: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every record defined anywhere in ``schema``, by short and by full name.

    Collected up front because a type may be used by name (``Money``) on a path that is
    visited before the one that defines it.
    """
    names = {} if names is None else names
    if isinstance(schema, list):
        for branch in schema:
            named_types(branch, names)
    elif isinstance(schema, dict):
        kind = schema["type"]
        if kind == "record":
            names[schema["name"]] = schema
            if "namespace" in schema:
                names[f"{schema['namespace']}.{schema['name']}"] = schema
            for field in schema["fields"]:
                named_types(field["type"], names)
        elif kind == "array":
            named_types(schema["items"], names)
        elif kind == "map":
            named_types(schema["values"], names)
    return names


def resolve(schema: Any, names: dict[str, Any]) -> Any:
    """Follow a reference by name; reduce a primitive with a ``logicalType`` to the primitive.

    Logical types are ignored on purpose: records carry timestamps as epoch micros and
    uuids as strings, the fastest form that round-trips byte-exact.
    """
    if isinstance(schema, str):
        return names.get(schema, schema)
    if isinstance(schema, dict) and schema["type"] not in _CONTAINERS:
        return schema["type"]
    return schema
