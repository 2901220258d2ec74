"""A real profile worker that stops itself (SIGSTOP) on its way to store a batch: it has
read, decoded and folded the batch and is about to write it to Redis. The test continues
it (SIGCONT) once another worker owns its partitions and has stored past that batch, so
the write it then attempts is the stale one of a zombie. It prints ``fenced N`` (the
batches the store refused) when that write returns, and works on as a normal member.

    python -m tests.integration.streams.zombie_worker   # settings from the CDP_* environment
"""

from __future__ import annotations

import os
import signal

from panorama.settings import Settings
from streams.worker import ProfileWorker
from tests.integration.streams.population import SESSION_TIMEOUT_MS

PAUSE_AT_COMMIT = 3  # mid-stream: two batches stored, the stream's end still far


class PausingWorker(ProfileWorker):
    def __init__(self, settings: Settings):
        super().__init__(settings, batch_size=200, session_timeout_ms=SESSION_TIMEOUT_MS)
        self._commits = 0

    def _commit(self, prepared) -> None:
        self._commits += 1
        if self._commits != PAUSE_AT_COMMIT:
            super()._commit(prepared)
            return
        os.kill(os.getpid(), signal.SIGSTOP)
        refused = self.stats.fenced
        super()._commit(prepared)
        print(f"fenced {self.stats.fenced - refused}", flush=True)


if __name__ == "__main__":
    PausingWorker(Settings()).run()
