"""Looking for personal data everywhere it could hide: the needles (a value in every
encoding someone could store it in) and the haystacks (Kafka, Redis, files, ClickHouse)."""

from __future__ import annotations

import base64
import struct
from pathlib import Path
from urllib.parse import quote, quote_plus

import lz4.block
import zstandard
from redis import Redis

from tests.integration.kafka_reader import read_topic


def needles(*values: str) -> dict[bytes, str]:
    """Every encoding of each value: as is, lower and upper case, base64 (standard and URL
    alphabet, at each of the three alignments), hex, URL-encoded."""
    found: dict[bytes, str] = {}
    for value in values:
        for variant in {value, value.lower(), value.upper()}:
            raw = variant.encode()
            found[raw] = value
            found[raw.hex().encode()] = value
            found[raw.hex().upper().encode()] = value
            found[quote(variant).encode()] = value
            found[quote_plus(variant).encode()] = value
            for pad in range(3):  # the value inside a longer base64 text starts at any of 3 offsets
                encoded = base64.b64encode(b"\0" * pad + raw)[4 if pad else 0:-4]
                found[encoded] = value
                found[encoded.replace(b"+", b"-").replace(b"/", b"_")] = value
    return found


def hits(haystack: bytes, where: str, wanted: dict[bytes, str]) -> list[str]:
    return [f"{wanted[n]!r} as {n[:40]!r} in {where}" for n in wanted if n and n in haystack]


def kafka_hits(settings, topics: list[str], wanted: dict[bytes, str]) -> list[str]:
    found = []
    for topic in topics:
        for m in read_topic(settings, topic):
            blob = (m.key() or b"") + b"|" + (m.value() or b"") + b"|" + b"|".join(v or b"" for _, v in m.headers() or [])
            found += hits(blob, f"{topic}[{m.partition()}]@{m.offset()}", wanted)
    return found


def redis_hits(redis: Redis, wanted: dict[bytes, str]) -> list[str]:
    found = []
    for key in redis.scan_iter(count=5000):
        kind = redis.type(key)
        if kind == b"string":
            parts = [redis.get(key) or b""]
        elif kind == b"hash":
            parts = [x for kv in redis.hgetall(key).items() for x in kv]
        elif kind == b"set":
            parts = list(redis.smembers(key))
        elif kind == b"zset":
            parts = [m for m, _ in redis.zrange(key, 0, -1, withscores=True)]
        elif kind == b"list":
            parts = redis.lrange(key, 0, -1)
        else:
            parts = [repr(redis.dump(key)).encode()]
        found += hits(key + b"|" + b"|".join(parts), f"redis {key[:60]!r}", wanted)
    return found


CHECKSUM, HEADER = 16, 9  # a ClickHouse compressed block: CityHash128, then method, compressed and plain sizes
OTHER_CODECS = range(0x91, 0xA0)  # Multiple, Delta, T64, DoubleDelta, Gorilla, AES, FPC, ...
COMPRESSED_FILES = {".bin", ".cidx"}  # column data, and the primary index (it holds the sort key's values)
_ZSTD = zstandard.ZstdDecompressor()


def _plain(body: bytes, size: int) -> bytes:
    if len(body) != size:
        raise ValueError("an uncompressed block's size does not match its header")
    return body


DECODERS = {  # method byte -> (body, plain size) -> plain bytes; each raises for bytes it cannot read
    0x02: _plain,
    0x82: lambda body, size: lz4.block.decompress(body, uncompressed_size=size),
    0x90: lambda body, size: _ZSTD.decompress(body, max_output_size=size),
}


def clickhouse_plain(data: bytes, where: str) -> bytes:
    """The decompressed contents of a ClickHouse compressed file (a column's .bin, a compact
    part's data.bin, a primary.cidx), or b"" when the file is not one. LZ4 -- the default codec -- keeps a
    repeated run of 4 bytes as a back-reference, so a value can be on disk and yet not in
    the raw bytes: a scan of the raw file alone would miss it."""
    blocks, at = [], 0
    while at < len(data):
        if len(data) - at < CHECKSUM + HEADER:
            return b""
        method, stored, plain = struct.unpack_from("<BII", data, at + CHECKSUM)
        end = at + CHECKSUM + stored
        if stored < HEADER or end > len(data):
            return b""
        if method in OTHER_CODECS:
            raise AssertionError(f"{where}: a block compressed with ClickHouse codec 0x{method:02x} at byte {at}; "
                                 "the scan reads only uncompressed, LZ4 and ZSTD blocks: teach it this codec")
        if method not in DECODERS:
            return b""  # not a compressed file
        try:
            blocks.append(DECODERS[method](data[at + CHECKSUM + HEADER:end], plain))
        except (ValueError, lz4.block.LZ4BlockError, zstandard.ZstdError):
            return b""
        at = end
    return b"".join(blocks)


def file_hits(folder: Path, wanted: dict[bytes, str]) -> list[str]:
    """Every file under the folder, as stored and, for ClickHouse's compressed files, decompressed."""
    found = []
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if path.suffix in COMPRESSED_FILES:
                data += b"|" + clickhouse_plain(data, str(path))
            found += hits(data, str(path), wanted)
    return found
