"""Avro single-object encoding of interactions.

Wire format (Avro spec, "Single object encoding")::

    C3 01 | CRC-64-AVRO fingerprint of the writer schema's canonical form, 8 bytes LE | body

so any consumer finds the writer schema from the bytes alone, without a registry server.

At the dict boundary timestamps are ints (epoch microseconds, UTC) and ``event_id`` is a
``str``: that is what round-trips byte-exact at the lowest cost (see ``schemas/README.md``
for the measurements). :class:`schemas.models.Interaction` converts from and to datetimes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from io import BytesIO
from typing import Any

from fastavro import parse_schema, schemaless_reader

from panorama.errors import ContractError, UnknownSchemaError
from schemas.avro_reader import CorruptAvro, compile_reader
from schemas.avro_writer import compile_writer, locate_error
from schemas.contract import SchemaVersion, schema_versions

MARKER = b"\xc3\x01"
HEADER_SIZE = len(MARKER) + 8


def without_logical_types(schema: Any) -> Any:
    """The schema fastavro reads with: same canonical form, plain ints and strings out."""
    if isinstance(schema, list):
        return [without_logical_types(s) for s in schema]
    if isinstance(schema, dict):
        return {k: without_logical_types(v) for k, v in schema.items() if k != "logicalType"}
    return schema


class InteractionCodec:
    """Encodes records with the newest schema; decodes bytes written by any known version.

    Build one per process and reuse it: schemas are parsed and the writer is generated in
    the constructor. ``encode``/``decode`` keep no state, so one codec can be shared by
    threads.
    """

    def __init__(self, versions: Sequence[SchemaVersion] | None = None):
        versions = tuple(versions or schema_versions())
        self._current = versions[-1]
        self._header = MARKER + self._current.fingerprint
        self._encode = compile_writer(self._current.schema, self._header)
        self._read_current = compile_reader(self._current.schema)
        self._writers = {
            v.fingerprint: parse_schema(without_logical_types(v.schema)) for v in versions
        }
        self._reader = self._writers[self._current.fingerprint]
        self._versions = {v.fingerprint: v.version for v in versions}

    @property
    def fingerprint(self) -> bytes:
        """The 8-byte CRC-64-AVRO fingerprint (little-endian) of the schema ``encode`` writes."""
        return self._current.fingerprint

    @property
    def version(self) -> int:
        return self._current.version

    def encode(self, record: Mapping[str, Any]) -> bytes:
        """Single-object bytes of ``record``.

        Raises ContractError naming the dotted field path when the record does not fit the
        schema. Semantic rules are :func:`schemas.validation.validate`'s job, not this one's.
        """
        try:
            return self._encode(record)
        except Exception as exc:  # noqa: BLE001 - any failure of the generated writer
            raise self._encode_error(record, exc) from exc

    def decode(self, data: bytes) -> dict[str, Any]:
        """The record in ``data``, resolved into the current schema.

        Raises UnknownSchemaError for bytes that are not single-object encoded or carry a
        fingerprint this build does not know, ContractError for a truncated or corrupt body.
        Bytes of the current schema go through the generated reader; older versions
        through fastavro's schema resolution.
        """
        writer = self._writer_for(data)
        try:
            if writer is self._reader:
                record, end = self._read_current(data, HEADER_SIZE)
            else:
                buffer = BytesIO(data)
                buffer.seek(HEADER_SIZE)
                record = schemaless_reader(buffer, writer, self._reader)
                end = buffer.tell()
        except (IndexError, UnicodeDecodeError, CorruptAvro, EOFError, ValueError) as exc:
            raise ContractError("<body>", f"corrupt or truncated Avro body: {exc!r}", "corrupt_body") from exc
        if end != len(data):
            raise ContractError("<body>", f"{len(data) - end} trailing bytes after the record", "corrupt_body")
        return record

    def _writer_for(self, data: bytes) -> Any:
        if data[:2] != MARKER or len(data) < HEADER_SIZE:
            raise UnknownSchemaError(
                f"not Avro single-object encoded (expected marker c301 and 8 fingerprint "
                f"bytes, got {bytes(data[:HEADER_SIZE]).hex()!r}); was it written by another encoder?"
            )
        fingerprint = bytes(data[2:HEADER_SIZE])
        writer = self._writers.get(fingerprint)
        if writer is None:
            known = ", ".join(f"v{n}={fp.hex()}" for fp, n in self._versions.items())
            raise UnknownSchemaError(
                f"writer schema fingerprint {fingerprint.hex()} is unknown (known: {known}); "
                "the event was written by a newer Panorama: upgrade this consumer, or add "
                "the writer's .avsc to schemas/avro/interaction/"
            )
        return writer

    def _encode_error(self, record: Any, exc: Exception) -> ContractError:
        found = locate_error(self._current.schema, record)
        if found is None:
            return ContractError("<record>", f"cannot be encoded: {exc!r}", "schema_mismatch")
        path, problem = found
        return ContractError(path, problem, "schema_mismatch")
