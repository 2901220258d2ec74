"""Encode/decode/validate rates of the codec on the example records.

Run: ``python -m schemas.benchmark`` (single core, figures in events per second).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from io import BytesIO

from fastavro import parse_schema, schemaless_writer

from schemas.codec import InteractionCodec, without_logical_types
from schemas.contract import current_schema
from schemas.examples import example_records
from schemas.validation import validate

TYPES = ("track", "order_placed")


def rate(call: Callable[[], object], seconds: float = 1.0) -> float:
    """Calls per second of ``call``, measured over about ``seconds``."""
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(1000):
            call()
        count += 1000
    return count / elapsed


def main() -> None:
    codec = InteractionCodec()
    generic = parse_schema(without_logical_types(current_schema()))
    print(f"{'type':14} {'bytes':>5} {'encode/s':>10} {'decode/s':>10} {'validate/s':>11} {'fastavro enc/s':>15}")
    for type_ in TYPES:
        record = example_records()[type_]
        data = codec.encode(record)
        figures = (
            rate(lambda: codec.encode(record)),
            rate(lambda: codec.decode(data)),
            rate(lambda: validate(record)),
            rate(lambda: schemaless_writer(BytesIO(), generic, record)),
        )
        print(f"{type_:14} {len(data):5} " + " ".join(f"{f:>10,.0f}" for f in figures))


if __name__ == "__main__":
    main()
