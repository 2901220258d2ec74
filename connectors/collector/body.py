"""Reading request bodies within limits: size caps before and after gzip.

A body is read chunk by chunk and refused as soon as it passes the cap, so a client
cannot make the collector buffer more than the cap. A gzip body is inflated with a
bounded output size, so a small "gzip bomb" that would inflate to gigabytes is refused
after ``limit`` bytes of work.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator

import orjson

from connectors.collector.errors import BadRequest

# Spec limits of the Segment HTTP API.
EVENT_LIMIT = 32 * 1024
BATCH_LIMIT = 500 * 1024
BATCH_MAX_EVENTS = 2500
# A compressed body larger than the inflated limit is refused unread.
GZIP_WINDOW = zlib.MAX_WBITS | 16


async def read_body(chunks: AsyncIterator[bytes], content_encoding: str | None, limit: int) -> bytes:
    """The (inflated) body, or BadRequest ``body_too_large`` / ``bad_encoding``. Oversize
    is a 400, as in the Segment spec (SDKs treat it as final, like any 4xx but 429)."""
    raw = bytearray()
    async for chunk in chunks:
        raw += chunk
        if len(raw) > limit:
            raise BadRequest("body_too_large", "<body>", f"request body exceeds {limit:,} bytes")
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "identity":
        return bytes(raw)
    if encoding != "gzip":
        raise BadRequest("bad_encoding", "Content-Encoding", f"{encoding!r:.20} is not supported; use gzip or none", status=415)
    return inflate(bytes(raw), limit)


def inflate(data: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(GZIP_WINDOW)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as e:
        raise BadRequest("bad_encoding", "<body>", f"not valid gzip: {e}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise BadRequest("body_too_large", "<body>", f"inflated body exceeds {limit:,} bytes")
    if not inflater.eof:
        raise BadRequest("bad_encoding", "<body>", "gzip stream is truncated")
    return out


def parse_json(body: bytes) -> object:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise BadRequest("invalid_json", "<body>", f"not valid JSON: {e}") from None
