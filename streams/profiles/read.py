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
from streams.profiles.codec import decode_partial
from streams.profiles.fold import Partial, merge
from streams.profiles.view import profile_view
from streams.signals.rules import configured_signal_rules
from streams.store import DEDUP_SUFFIX, RECENT_EVENTS, ProfileStore

# KEYS: the node's root key, the audit outbox stream. ARGV: node, members prefix, partials
# prefix, dedup-field suffix, the audit record. Resolves the node, reads its customer's
# partials (not their dedup memories) and appends the record, with the customer id as
# subject and whether it was found as outcome, in one atomic call: one round trip, and no
# profile leaves Redis without its audit record.
_READ_AUDITED = """
local root = redis.call('GET', KEYS[1]) or ARGV[1]
local members = redis.call('SMEMBERS', ARGV[2] .. root)
if #members == 0 then members = {root} end
local blobs, suffix = {}, ARGV[4]
for _, node in ipairs(members) do
  local fields = redis.call('HGETALL', ARGV[3] .. node)
  for i = 1, #fields, 2 do
    if string.sub(fields[i], -#suffix) ~= suffix then blobs[#blobs + 1] = fields[i + 1] end
  end
end
redis.call('XADD', KEYS[2], '*', 'e', ARGV[5], 's', root, 'o', #blobs > 0 and 'ok' or 'not_found')
return {root, blobs}
"""


class ProfileReader:
    """Reads profiles for the API and the CLI; cheap to keep for the life of a process."""

    def __init__(self, redis: Redis, settings: Settings):
        self.namer = NodeNamer(settings.routing_key_secret.get_secret_value().encode())
        self.store = ProfileStore(redis, settings.topic_prefix)
        self.signal_rules = configured_signal_rules(settings)  # lifecycle and churn risk are evaluated at read time
        self._read_audited = redis.register_script(_READ_AUDITED)

    def customer_partial(self, identity: str) -> tuple[str, Partial]:
        """(customer id, merged partial) for ``identity`` (see :meth:`NodeNamer.parse`)."""
        customer_id, members = self.store.resolve(self.namer.parse(identity))
        return customer_id, _merged(self.store.read_partials(members), identity)

    def read(self, identity: str, now: int | None = None) -> dict[str, Any]:
        """The profile as of ``now`` (µs since the epoch; default: the clock)."""
        customer_id, partial = self.customer_partial(identity)
        return profile_view(partial, customer_id, now_us() if now is None else now, self.signal_rules)

    def read_audited(self, identity: str, outbox: str, record: bytes, now: int | None = None) -> dict[str, Any]:
        """:meth:`read`, appending ``record`` (an encoded audit record, see
        :mod:`panorama.security.audit_outbox`) to the stream ``outbox`` in the same Redis
        call, with the customer id as its subject and ``ok`` or ``not_found`` as its
        outcome. Raises ProfileNotFound after the record was written."""
        node = self.namer.parse(identity)
        keys = self.store.keys
        root, blobs = self._read_audited(keys=[keys.root(node), outbox],
                                         args=[node, keys.members_prefix, keys.partial(""), DEDUP_SUFFIX, record])
        partial = _merged([decode_partial(blob) for blob in blobs], identity)
        return profile_view(partial, root.decode(), now_us() if now is None else now, self.signal_rules)

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


def _merged(partials: list[Partial], identity: str) -> Partial:
    """The customer's partials merged; ProfileNotFound when it has none."""
    if not partials:
        raise ProfileNotFound(f"no customer has the identity {identity!r}")
    return reduce(merge, partials)
