"""Random bytes from the OS, drawn a few kilobytes at a time.

``os.urandom`` is a system call that releases the GIL: on the collector's event loop
every event id and every sealed field's nonce paid one, and each release let another
thread take the interpreter for up to its switch interval before the loop got it back
(``random_uuid`` alone showed as an eighth of the collector's request time under
py-spy). The bytes here are the same CSPRNG's, each handed out once: a pool per thread
(no lock), emptied in a forked child so parent and child never share one.
"""

from __future__ import annotations

import os
import threading

POOL_BYTES = 4096


class _Pool(threading.local):
    def __init__(self) -> None:
        self.raw, self.at = b"", 0


_pool = _Pool()


def random_bytes(n: int) -> bytes:
    """``n`` bytes from the OS's CSPRNG, as ``os.urandom(n)`` (never the same bytes twice)."""
    pool, at = _pool, _pool.at
    if at + n > len(pool.raw):
        if n > POOL_BYTES:
            return os.urandom(n)
        pool.raw, at = os.urandom(POOL_BYTES), 0
    pool.at = at + n
    return pool.raw[at:at + n]


def _forget_in_child() -> None:
    global _pool
    _pool = _Pool()


os.register_at_fork(after_in_child=_forget_in_child)
