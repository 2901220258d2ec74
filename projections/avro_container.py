"""Kafka messages -> one Avro Object Container File, so ClickHouse decodes the events.

Decoding Avro in Python costs tens of microseconds per event; ClickHouse's own Avro
input format decodes in C++. Re-framing needs only byte operations, because:

- a message is single-object encoded: ``C3 01`` + 8-byte writer fingerprint + the Avro
  binary body (``schemas/codec.py``), and every body of one writer schema is a valid
  record of that schema once the 10-byte header is sliced off;
- an Avro record is nothing but its fields concatenated, so a record
  ``{customer_key, kafka_partition, kafka_offset, <every field of the interaction>}``
  is the encoded Kafka metadata followed by the unchanged body — the per-row metadata
  the sink needs costs a few prepended bytes, not a decode;
- an Object Container File is a header (magic, a metadata map carrying the writer schema,
  a 16-byte sync marker) and blocks of (row count, byte size, rows, sync marker).

``kafka_offset`` is an Avro ``fixed`` of 8 little-endian bytes instead of a ``long``: one
``int.to_bytes`` call instead of a varint loop in Python (ClickHouse reads it back with
``reinterpretAsUInt64``).
"""

from __future__ import annotations

import json
import os
from typing import Any

from schemas.codec import HEADER_SIZE

KAFKA_FIELDS: tuple[dict[str, Any], ...] = (
    {"name": "customer_key", "type": "string", "doc": "the Kafka message key"},
    {"name": "kafka_partition", "type": "int"},
    {"name": "kafka_offset", "type": {"type": "fixed", "name": "KafkaOffset", "size": 8}, "doc": "little-endian"},
)
ROW_NAME = "SinkRow"


def zigzag(n: int) -> bytes:
    """An Avro ``int``/``long``: zigzag, then base-128 varint, least significant group first."""
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def row_schema(interaction: dict[str, Any]) -> dict[str, Any]:
    """The interaction record with the Kafka fields in front: what one container row holds."""
    clash = {f["name"] for f in KAFKA_FIELDS} & {f["name"] for f in interaction["fields"]}
    if clash:
        raise ValueError(f"the interaction schema has fields named like the sink's Kafka fields: {sorted(clash)}")
    return {**interaction, "name": ROW_NAME, "fields": [*KAFKA_FIELDS, *interaction["fields"]]}


class ContainerWriter:
    """Frames single-object bodies of one writer schema as an Object Container File.

    ``row()`` turns one message into one container row; ``container()`` wraps rows into
    the bytes ClickHouse reads with ``FORMAT Avro``. Keeps no state between batches.
    """

    def __init__(self, interaction_schema: dict[str, Any]):
        self.schema = row_schema(interaction_schema)
        self._sync = os.urandom(16)
        self._header = _header(self.schema, self._sync)
        self._lengths = [zigzag(n) for n in range(256)]
        self._partitions = [zigzag(n) for n in range(1024)]

    def row(self, key: bytes | None, partition: int, offset: int, message: bytes) -> bytes:
        """The container row of one message: Kafka fields, then the body without its header."""
        key = key or b""
        length = self._lengths[len(key)] if len(key) < 256 else zigzag(len(key))
        part = self._partitions[partition] if partition < 1024 else zigzag(partition)
        return b"".join((length, key, part, offset.to_bytes(8, "little"), memoryview(message)[HEADER_SIZE:]))

    def container(self, rows: list[bytes]) -> bytes:
        """One file: the header, then all ``rows`` as a single block."""
        block = b"".join(rows)
        return b"".join((self._header, zigzag(len(rows)), zigzag(len(block)), block, self._sync))

    def containers(self, rows: list[bytes], parts: int) -> list[bytes]:
        """``rows`` as ``parts`` files of consecutive rows (sizes differ by at most one)."""
        size, extra = divmod(len(rows), parts)
        bounds = [i * size + min(i, extra) for i in range(parts + 1)]
        return [self.container(rows[start:end]) for start, end in zip(bounds, bounds[1:])]


def _header(schema: dict[str, Any], sync: bytes) -> bytes:
    metadata = {b"avro.schema": json.dumps(schema, separators=(",", ":")).encode(), b"avro.codec": b"null"}
    out = bytearray(b"Obj\x01")
    out += zigzag(len(metadata))
    for key, value in metadata.items():
        out += zigzag(len(key)) + key + zigzag(len(value)) + value
    out += zigzag(0) + sync
    return bytes(out)
