"""What the generated Avro writer and reader share: emitting indented Python source with
fresh variable names, and compiling it into one function."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from schemas.avro_names import named_types


class SourceBuilder:
    """Lines of one generated function for the schema whose named types are ``names``."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.lines: list[str] = []
        self.names = named_types(schema)
        self._ids = itertools.count()

    def var(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}"

    def emit(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)

    def compile(self, function: str, label: str, runtime: dict[str, Any]) -> Callable[..., Any]:
        """The function named ``function`` defined by the emitted lines, with ``runtime``
        as its globals; its source is kept on it as ``.source`` for debugging."""
        source = "\n".join(self.lines)
        namespace = dict(runtime)
        exec(compile(source, f"<{label}>", "exec"), namespace)  # noqa: S102 - our own generated source
        compiled = namespace[function]
        compiled.source = source
        return compiled
