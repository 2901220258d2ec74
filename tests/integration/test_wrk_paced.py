"""The API benchmark's wrk pacing (bench/wrk_paced.lua) against a local server that stalls
now and then: the offered rate is kept, and the stalls show in the latency percentiles
(wrk would hide them if requests waited for a free connection instead of leaving on time)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from bench.wrk_load import offer_wrk, wrk_installed

pytestmark = pytest.mark.skipif(not wrk_installed(), reason="wrk is not installed (make bench-deps)")

STALL_EVERY, STALL_S = 50, 0.030


class StallingServer:
    """Keep-alive HTTP/1.1 on a free port; every ``STALL_EVERY``-th request answers
    ``STALL_S`` late, holding back every request that arrives meanwhile (one event loop)."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.served = 0
        self.port = 0
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        ready.wait(5)

    def _run(self, ready: threading.Event) -> None:
        server = self.loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                self.served += 1
                if self.served % STALL_EVERY == 0:
                    time.sleep(STALL_S)  # blocks the loop, as a GC pause or a slow call would
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


def test_paced_wrk_keeps_the_rate_and_shows_the_stalls():
    server = StallingServer()
    try:
        offered = offer_wrk(server.port, "/", "k", rate=400, seconds=3)
    finally:
        server.stop()
    assert 380 <= offered.rate <= 405, offered
    # 2% of the requests stall 30 ms, and the requests arriving during a stall wait too
    assert offered.p99 >= STALL_S * 1e6 / 2, offered
    assert offered.p50 < STALL_S * 1e6 / 4, offered
    assert offered.lag_max < STALL_S * 1e6, offered  # every request left on time, none hidden
