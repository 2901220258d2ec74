"""A :class:`Partial` to and from the bytes kept in Redis (orjson).

Two blobs per partial: the aggregate a reader needs, and the dedup memory only the
owning worker reads, so profile reads do not parse hundreds of event ids.
"""

from __future__ import annotations

import orjson

from streams.profiles.fold import Partial

_SETS = ("identities", "products", "categories")
_REGISTERS = ("last_order", "loyalty_balance")
_REGISTER_MAPS = ("traits", "tickets", "surveys", "consent")


def encode_partial(partial: Partial) -> tuple[bytes, bytes]:
    """(aggregate, dedup memory) as JSON bytes."""
    body = {k: v for k, v in vars(partial).items() if k != "recent"}
    for name in _SETS:
        body[name] = sorted(body[name])
    return orjson.dumps(body), orjson.dumps(partial.recent)


def decode_partial(aggregate: bytes, recent: bytes | None = None) -> Partial:
    body = orjson.loads(aggregate)
    for name in _SETS:
        body[name] = set(body[name])
    for name in _REGISTERS:
        if body[name] is not None:
            body[name] = tuple(body[name])
    for name in _REGISTER_MAPS:
        body[name] = {k: tuple(reg) for k, reg in body[name].items()}
    return Partial(**body, recent=orjson.loads(recent) if recent else {})
