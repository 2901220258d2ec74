"""Blocking calls from an event loop without paying a thread hop on every call."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


class InlineUnlessSlow:
    """Runs blocking reads on the event loop while they are quick, in the loop's thread pool
    for ``spell`` seconds after one was not.

    A profile read with its audit record is one script call to a local Redis; the hop to a
    worker thread and back cost more than such a call (the thread switches and the GIL
    handed between them: ~130 µs of ~440 µs per request, measured in process). Blocking the loop is only
    acceptable while Redis answers: a read slower than ``budget`` seconds (a stalled or
    overloaded Redis, or a starved process) sends the reads to threads for a while, so a
    stall holds the loop, and the collector serving on it, for at most one read (bounded by
    the socket timeout) per spell. The pool is the loop's own executor: anyio's hop, with its
    capacity limiter, cost half as much again."""

    def __init__(self, budget: float = 0.1, spell: float = 5.0):
        self.budget, self.spell = budget, spell
        self._threaded_until = 0.0

    async def run(self, read: Callable[[], Any]) -> Any:
        if time.monotonic() < self._threaded_until:
            return await asyncio.get_running_loop().run_in_executor(None, read)
        started = time.monotonic()
        try:
            return read()
        finally:
            ended = time.monotonic()
            if ended - started > self.budget:
                self._threaded_until = ended + self.spell
