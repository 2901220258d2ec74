"""Pooled random bytes: never handed out twice, not shared with a forked child."""

import os

from panorama.random_pool import POOL_BYTES, random_bytes


def test_bytes_are_never_handed_out_twice():
    drawn = [random_bytes(16) for _ in range(3 * POOL_BYTES // 16)]
    assert len(set(drawn)) == len(drawn)
    assert all(len(b) == 16 for b in drawn)
    assert len(random_bytes(POOL_BYTES + 1)) == POOL_BYTES + 1


def test_a_forked_child_does_not_reuse_the_parents_pool():
    random_bytes(16)  # the pool holds unused bytes now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, random_bytes(16))
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 16) != random_bytes(16)
