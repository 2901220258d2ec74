"""Can a newer schema read what an older one wrote? The rule CI enforces on every version.

Avro resolution (spec, "Schema Resolution") lets a reader read a writer's data when every
reader field either exists in the writer or has a default, and shared fields have
promotable types. Rather than re-implementing those rules, the check does what a consumer
will do: write samples with the writer schema, read them with the reader schema.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from io import BytesIO
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer


def check_can_read(
    writer_schema: dict[str, Any],
    reader_schema: dict[str, Any],
    sample_records: Iterable[Mapping[str, Any]],
) -> list[str]:
    """Problems found reading ``sample_records`` written with ``writer_schema`` through
    ``reader_schema``; an empty list means compatible for these samples.

    Samples are written as the writer schema sees them (keys it does not know are
    ignored), so the current examples serve as samples for every older version.
    """
    samples = list(sample_records)
    if not samples:
        return ["no sample records: nothing was checked"]
    writer = parse_schema(writer_schema)
    reader = parse_schema(reader_schema)
    problems = []
    for index, record in enumerate(samples):
        buffer = BytesIO()
        try:
            schemaless_writer(buffer, writer, dict(record))
            buffer.seek(0)
            schemaless_reader(buffer, writer, reader)
        except Exception as exc:  # noqa: BLE001 - every failure is a finding, reported
            problems.append(f"sample {index} (type {record.get('type')!r}): {type(exc).__name__}: {exc}")
    return problems
