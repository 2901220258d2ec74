"""What may link customers (:class:`LinkRules`), the order links are judged in, and the
decisions the graph records: a merge, a refused link, a regroup (components recomputed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from panorama.errors import ConfigError
from panorama.settings import Settings
from streams.identity.nodes import KIND_RANK, kind_of, rank

# At most this many nodes of a kind in one customer. A second user_id means two accounts:
# never merged automatically. Kinds not listed are unlimited.
DEFAULT_LIMITS: Mapping[str, int] = {"user_id": 1, "email": 5, "phone": 5, "device_id": 10}

REFUSALS_SHOWN = 20  # a regroup's log entry lists this many of its refusals (a shared device may have thousands)
Key = tuple[int, str]  # (occurred_at, event_id) of a link: when it happened, ties broken by event
Pair = tuple[str, str]  # two nodes, strongest first (see :func:`pair_of`)


def pair_of(a: str, b: str) -> Pair:
    return (a, b) if rank(a) <= rank(b) else (b, a)


def order(pair: Pair, key: Key) -> tuple:
    """Where a link candidate stands in event time: by ``key``, then (one event links its
    strongest node to each other one) by the ranks of its nodes."""
    return key[0], key[1], rank(pair[0]), rank(pair[1])


@dataclass(frozen=True)
class LinkRules:
    """Which identity kinds may link customers, and per-kind caps against over-merging."""

    limits: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    linking_kinds: frozenset[str] | None = None  # None: every kind links

    def links(self, node: str) -> bool:
        kind = kind_of(node)
        return self.linking_kinds is None or kind in self.linking_kinds or (
            kind.startswith("external:") and "external" in self.linking_kinds)

    def violation(self, members: Iterable[str]) -> str | None:
        counts = Counter(kind_of(n) for n in members)
        for kind, count in sorted(counts.items()):
            limit = self.limits.get(kind)
            if limit is not None and count > limit:
                return f"would hold {count} {kind} identities (limit {limit})"
        return None


def configured_link_rules(settings: Settings) -> LinkRules:
    """The rules of ``CDP_IDENTITY_LIMITS`` (over :data:`DEFAULT_LIMITS`) and
    ``CDP_IDENTITY_LINKING_KINDS``; a ConfigError names an unknown kind or a bad limit."""
    for kind, limit in settings.identity_limits.items():
        _known_kind("CDP_IDENTITY_LIMITS", kind, external="external:<source>")
        if limit is not None and limit < 1:
            raise ConfigError(f"CDP_IDENTITY_LIMITS: {kind}: a limit is at least 1, got {limit}; to keep a kind from "
                              "linking customers at all, leave it out of CDP_IDENTITY_LINKING_KINDS")
    kinds = settings.identity_linking_kinds
    for kind in kinds or ():
        if kind != "external":
            _known_kind("CDP_IDENTITY_LINKING_KINDS", kind, external="external")
    limits = {kind: limit for kind, limit in {**DEFAULT_LIMITS, **settings.identity_limits}.items() if limit is not None}
    return LinkRules(limits=limits, linking_kinds=None if kinds is None else frozenset(kinds))


def _known_kind(variable: str, kind: str, external: str) -> None:
    if kind not in KIND_RANK and not (kind.startswith("external:") and len(kind) > len("external:")):
        raise ConfigError(f"{variable}: unknown identity kind {kind!r}; the kinds are {', '.join(KIND_RANK)} "
                          f"and {external}")


@dataclass(frozen=True)
class Merge:
    """Component ``loser`` joined ``winner`` because ``event_id`` carried both ``via`` nodes."""

    event_id: str
    occurred_at: int
    winner: str
    loser: str
    moved: tuple[str, ...]  # the loser's members, now the winner's
    via: tuple[str, str]

    @property
    def roots(self) -> tuple[str, ...]:
        return self.winner, self.loser

    def as_dict(self) -> dict[str, Any]:
        return {"action": "merge", "event_id": self.event_id, "occurred_at": self.occurred_at, "winner": self.winner,
                "loser": self.loser, "moved": list(self.moved), "via": list(self.via)}


@dataclass(frozen=True)
class Refusal:
    """``event_id`` would have linked ``via`` but the result broke a limit or joined a
    pair an operator unmerged."""

    event_id: str
    occurred_at: int
    roots: tuple[str, str]
    via: tuple[str, str]
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"action": "refused", "event_id": self.event_id, "occurred_at": self.occurred_at,
                "roots": list(self.roots), "via": list(self.via), "reason": self.reason}


@dataclass(frozen=True)
class Regroup:
    """The components around ``via`` were recomputed from their recorded links in event
    time, because ``event_id`` brought a link older than others already applied there and
    that link was refused (or an operator blocked ``via``). ``components`` are the
    components that changed, each root (customer id) first; ``previous`` the roots of the
    components they replace; ``refused`` the replay's refusals among their nodes."""

    event_id: str
    occurred_at: int
    via: tuple[str, str]
    components: tuple[tuple[str, ...], ...]
    previous: tuple[str, ...]
    refused: tuple[Refusal, ...]

    @property
    def roots(self) -> tuple[str, ...]:
        """Every customer id the regroup created or ended."""
        return tuple(sorted({c[0] for c in self.components} | set(self.previous)))

    def as_dict(self) -> dict[str, Any]:
        return {"action": "regroup", "event_id": self.event_id, "occurred_at": self.occurred_at,
                "via": list(self.via), "customers": [c[0] for c in self.components],
                "components": [list(c) for c in self.components], "previous": list(self.previous),
                "refused": [r.as_dict() for r in self.refused[:REFUSALS_SHOWN]], "refused_total": len(self.refused)}


Decision = Merge | Refusal | Regroup
