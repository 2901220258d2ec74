"""Looking for personal data everywhere it could hide: the needles (a value in every
encoding someone could store it in) and the haystacks (Kafka, Redis, files, ClickHouse)."""

from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import quote, quote_plus

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


def file_hits(folder: Path, wanted: dict[bytes, str]) -> list[str]:
    return [hit for path in folder.rglob("*") if path.is_file() for hit in hits(path.read_bytes(), str(path), wanted)]
