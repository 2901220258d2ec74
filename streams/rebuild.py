"""Rebuild this namespace's live profiles from the interaction log (wired into `cdp replay`).

Drops every Redis key derived from the log (:meth:`streams.store.Keys.families`:
positions, partials, recent events, the identity graph and its merge log, due timers),
then runs a profile worker in the profile-builder group until the stored position of
every partition reaches the end the log had when the rebuild started. Kept: operator
decisions (unmerges and the pairs they blocked, so a replay does not merge them again),
the last published signals (a rebuild publishes only real changes), the outbox.

Running workers need not be stopped: their next commit finds the position gone, is
fenced (:class:`panorama.errors.FencedError`), and they reload from Redis like the
rebuild does; the group shares the partitions between all of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from redis import Redis

from panorama.log_reader import watermarks
from panorama.settings import Settings
from streams.store import Keys, ProfileStore
from streams.worker import ProfileWorker

Progress = Callable[[int, int], None]  # (events stored so far, events in the log)


def drop_profile_state(redis: Redis, keys: Keys) -> int:
    """Delete every key of the derived families; return how many."""
    dropped = 0
    for pattern in keys.families():
        batch = []
        for key in redis.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) == 1000:
                dropped += redis.unlink(*batch)
                batch = []
        if batch:
            dropped += redis.unlink(*batch)
    return dropped


def log_ends(settings: Settings) -> dict[int, int]:
    """The offset after the last message of each interactions partition, now."""
    return {p: high for p, (_low, high) in watermarks(settings, settings.topics.interactions).items()}


def rebuild_profiles(settings: Settings, progress: Progress | None = None) -> int:
    """Drop this namespace's profile state and rebuild it from the log; return the number
    of log messages the rebuilt state covers."""
    redis = Redis.from_url(settings.redis_address)
    store = ProfileStore(redis, settings.topic_prefix)
    drop_profile_state(redis, store.keys)
    ends = log_ends(settings)
    total = sum(ends.values())
    topic = settings.topics.interactions
    last_report = [0.0]

    def done() -> bool:
        stored = sum(min(store.offset(topic, p) + 1, end) for p, end in ends.items())
        if progress is not None and (stored == total or time.monotonic() - last_report[0] > 1.0):
            last_report[0] = time.monotonic()
            progress(stored, total)
        return stored >= total

    if not done():
        ProfileWorker(settings).run(should_stop=done)
    return total
