"""The faust-streaming ceiling on the real broker: an agent that only iterates raw
messages, and the same agent updating a Table (memory store, changelog on) per event.

faust is not a dependency of Panorama (see streams/README.md), so this runs under any
interpreter that has it: ``FAUST_PYTHON -m bench.faust_ceiling BOOTSTRAP TOPIC COUNT
{raw|table}`` prints ``events_per_second`` for ``COUNT`` messages already in ``TOPIC``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid


def main(bootstrap: str, topic_name: str, count: int, mode: str) -> None:
    import faust

    app = faust.App(f"ceiling-{uuid.uuid4().hex[:8]}", broker=f"kafka://{bootstrap}", store="memory://",
                    datadir=tempfile.mkdtemp(prefix="faust-ceiling-"), topic_partitions=3, consumer_auto_offset_reset="earliest", web_enabled=False)
    topic = app.topic(topic_name, value_serializer="raw", key_serializer="raw")
    counts = app.Table("counts", default=int) if mode == "table" else None
    seen = {"n": 0, "started": 0.0}

    @app.agent(topic)
    async def consume(stream):
        async for key, _value in stream.items():
            if not seen["n"]:
                seen["started"] = time.perf_counter()
            seen["n"] += 1
            if counts is not None:
                counts[key] += 1
            if seen["n"] >= count:
                print(f"events_per_second {count / (time.perf_counter() - seen['started']):.0f}", flush=True)
                os._exit(0)  # the figure is printed; faust's graceful stop is slow and irrelevant here

    sys.argv = [sys.argv[0], "worker", "-l", "warn", "--without-web"]
    app.main()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
