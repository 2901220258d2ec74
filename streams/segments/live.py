"""Live segments in the signal sweep: the pure per-customer evaluation, and what the sweep
writes in its transaction when membership or the pseudonymous profile moved.

Records, queued in the partition's outbox with the state (formats also in streams/README.md,
"Live segments"; the ClickHouse record sink reads them, projections/records.py):

* ``<prefix>.segments``: ``{id, segment_id, customer_id, is_member, version, changed_at,
  recorded_at}``, one per enter or leave; ``version`` counts the changes of (segment,
  customer), so the id ``uuid5(segment, customer, version)`` is the same for a redelivery
  and never reused: a customer cannot enter twice without leaving in between.
* ``<prefix>.profiles``: the profile content of :func:`streams.segments.view.profile_content`
  with ``version`` (per customer) when its digest moved.

A customer merged into another stops being a customer: the sweep that evaluates the
winner finds the loser's state among the winner's identities and publishes its leaves
and a final profile record with ``deleted: true``. The state keeps the versions, so an
unmerge that makes it a customer again continues them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from streams.outbox import outbox_entry, record_id
from streams.profiles.fold import Partial
from streams.segments.store import Segment, SegmentStore
from streams.segments.view import deleted_content, fingerprint, profile_content, segment_fields
from streams.signals.rules import SignalRules, Signals, evaluate


@dataclass(frozen=True)
class Evaluation:
    """Everything the sweep learns about one customer at ``now``."""

    signals: Signals
    segments: frozenset[str]
    profile: dict[str, Any]
    next_change: int | None  # the earliest instant at which any of it may change with no event


def evaluate_customer(customer_id: str, partial: Partial, now: int, rules: SignalRules,
                      segments: list[Segment]) -> Evaluation:
    """Signals, segment membership and profile content of a customer: a pure function."""
    signals = evaluate(partial, now, rules)
    members, instants = set(), [] if signals.next_change is None else [signals.next_change]
    if segments:
        fields = segment_fields(partial, signals)
        for segment in segments:
            if segment.condition.matches(fields, now):
                members.add(segment.id)
            instants.extend(segment.condition.boundaries(fields, now))
    return Evaluation(signals, frozenset(members), profile_content(customer_id, partial, signals),
                      min(instants, default=None))


class LiveSegments:
    """The sweep's view of the definitions (reloaded when their version moves) and its
    writer of membership, state and records."""

    def __init__(self, store: SegmentStore, segments_topic: str, profiles_topic: str):
        self.store = store
        self.keys = store.keys
        self.segments_topic = segments_topic
        self.profiles_topic = profiles_topic
        self.live: list[Segment] = []
        self._known: list[str] = []  # every defined id, tombstones included
        self._version: bytes | None = None
        self.records = 0  # committed by the sweep

    def refresh(self, version: bytes | None) -> None:
        """Reload the definitions if ``version`` (the stored counter) moved since the last load."""
        if version != self._version:
            definitions = self.store.definitions()
            self.live = [s for s in definitions.values() if not s.deleted]
            self._known = list(definitions)
            self._version = version

    def current(self, version: bytes | None) -> bool:
        """Whether the definitions loaded are those of ``version`` (read under WATCH by the
        sweep's commit: a change in between aborts it, so no stale rule is committed)."""
        return version == self._version

    def write(self, pipe, outbox_key: str, now: int, customer_id: str, segments: frozenset[str],
              profile: dict[str, Any], raw_state: bytes | None) -> int:
        """Queue on ``pipe`` (inside MULTI) what changed for ``customer_id`` since
        ``raw_state``; returns how many records were queued."""
        state = orjson.loads(raw_state) if raw_state else {"p": [0, None], "s": {}}
        records = []
        digest = fingerprint(profile)
        if digest != state["p"][1]:
            version = state["p"][0] + 1
            state["p"] = [version, digest]
            records.append((self.profiles_topic, {"id": record_id(self.keys.ns, "profile", customer_id, str(version)),
                                                  "version": version, **profile, "recorded_at": now}))
        for segment_id in dict.fromkeys([*self._known, *state["s"]]):
            was, version = state["s"].get(segment_id, (0, 0))
            member = segment_id in segments
            if member == bool(was):
                continue
            state["s"][segment_id] = [int(member), version + 1]
            (pipe.sadd if member else pipe.srem)(self.keys.members(segment_id), customer_id)
            records.append((self.segments_topic, {
                "id": record_id(self.keys.ns, "segment", segment_id, customer_id, str(version + 1)),
                "segment_id": segment_id, "customer_id": customer_id, "is_member": member, "version": version + 1,
                "changed_at": now, "recorded_at": now}))
        if records:
            pipe.set(self.keys.state(customer_id), orjson.dumps(state))
            for topic, record in records:
                pipe.hset(outbox_key, *outbox_entry(topic, customer_id, record))
        return len(records)

    def retire(self, pipe, outbox_key: str, now: int, node: str, raw_state: bytes | None) -> int:
        """``node`` was a customer and is now part of another: it leaves every segment and
        its profile record says deleted (nothing when it never was one, or already retired)."""
        if raw_state is None:
            return 0
        return self.write(pipe, outbox_key, now, node, frozenset(), deleted_content(node), raw_state)
