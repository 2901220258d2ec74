"""Reading a live profile: resolve any identity to its customer, merge the customer's
partials (one per routing identity and partition), and present the result.

The merge happens at read time on purpose: partials have a single writer each, so the
workers never coordinate, and a merge or an anonymous history stitched later is part of
the profile from the next read on, with nothing to move.
"""

from __future__ import annotations

from functools import reduce
from typing import Any

from redis import Redis

from panorama.clock import now_us
from panorama.errors import ProfileNotFound
from panorama.settings import Settings
from streams.identity.nodes import NodeNamer
from streams.profiles.fold import Partial, merge
from streams.profiles.view import profile_view
from streams.store import RECENT_EVENTS, ProfileStore


class ProfileReader:
    """Reads profiles for the API and the CLI; cheap to keep for the life of a process."""

    def __init__(self, redis: Redis, settings: Settings):
        self.namer = NodeNamer(settings.routing_key_secret.get_secret_value().encode())
        self.store = ProfileStore(redis, settings.topic_prefix)

    def customer_partial(self, identity: str) -> tuple[str, Partial]:
        """(customer id, merged partial) for ``identity`` (see :meth:`NodeNamer.parse`)."""
        customer_id, members = self.store.resolve(self.namer.parse(identity))
        partials = self.store.read_partials(members)
        if not partials:
            raise ProfileNotFound(f"no customer has the identity {identity!r}")
        return customer_id, reduce(merge, partials)

    def read(self, identity: str, now: int | None = None) -> dict[str, Any]:
        """The profile as of ``now`` (µs since the epoch; default: the clock)."""
        customer_id, partial = self.customer_partial(identity)
        return profile_view(partial, customer_id, now_us() if now is None else now)

    def recent_events(self, identity: str, limit: int = 20) -> list[dict[str, Any]]:
        """The customer's newest events (id, type, occurred_at, channel), newest first; at
        most ``RECENT_EVENTS`` per identity are kept. Raises ProfileNotFound."""
        if not 1 <= limit <= RECENT_EVENTS:
            raise ValueError(f"limit: must be between 1 and {RECENT_EVENTS}, got {limit}")
        _, members = self.store.resolve(self.namer.parse(identity))
        events = self.store.recent_events(members, limit)
        if not events:
            raise ProfileNotFound(f"no customer has the identity {identity!r}")
        return events

    def explain(self, identity: str) -> dict[str, Any]:
        return self.store.explain(self.namer.parse(identity))


def read_profile(redis: Redis, settings: Settings, identity: str) -> dict[str, Any]:
    """The profile of the customer ``identity`` belongs to; raises ProfileNotFound."""
    return ProfileReader(redis, settings).read(identity)
