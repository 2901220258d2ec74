"""Profile reads run on the event loop while quick, in a worker thread for a while after
one was slow (so a stalled Redis cannot hold the loop read after read)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from panorama.blocking import InlineUnlessSlow


def where(pause: float = 0.0):
    def read() -> int:
        time.sleep(pause)
        return threading.get_ident()
    return read


def test_quick_reads_stay_on_the_loop_and_a_slow_one_sends_the_next_to_a_thread_for_a_spell():
    async def scenario() -> list[bool]:
        runner, loop_thread = InlineUnlessSlow(budget=0.02, spell=0.3), threading.get_ident()
        on_loop = [await runner.run(where()) == loop_thread]
        on_loop.append(await runner.run(where(0.05)) == loop_thread)  # slow, yet answered where it ran
        on_loop += [await runner.run(where()) == loop_thread for _ in range(2)]
        await asyncio.sleep(0.35)
        on_loop.append(await runner.run(where()) == loop_thread)
        return on_loop

    assert asyncio.run(scenario()) == [True, True, False, False, True]


def test_a_failing_read_raises_where_it_ran_and_a_slow_failure_still_starts_a_spell():
    def slow_failure() -> None:
        time.sleep(0.05)
        raise ConnectionError("stalled")

    async def scenario() -> bool:
        runner, loop_thread = InlineUnlessSlow(budget=0.02, spell=5.0), threading.get_ident()
        with pytest.raises(ConnectionError):
            await runner.run(slow_failure)
        return await runner.run(where()) == loop_thread

    assert asyncio.run(scenario()) is False
