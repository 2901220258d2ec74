"""The JSON record topics as rows of the customer tables, built as columns.

One mapper per topic (the record formats are in ``/work/briefs/contracts.md`` and
``streams/README.md``); each appends rows to a :class:`Rows` buffer, which turns them into
one ``pyarrow.Table`` per target table for a columnar insert:

=====================  ==============================================================
``<prefix>.identity``  ``identity_links``: a merge points the winner and every moved
                       node at the winner; an unmerge points each side at its root.
                       The newest decision about an identity wins
                       (:func:`decision_version`).
``<prefix>.signals``   ``customer_signals`` (history, one row per ``seq``), plus the
                       customer's own node linked to itself at ``version`` 0.
``<prefix>.profiles``  ``profile_versions``, plus the same self-link.
``<prefix>.segments``  ``segment_membership``.
=====================  ==============================================================

The self-links exist because a customer who never merged appears in no identity
record, yet its events must resolve to it (``customer_events``); version 0 loses to
every merge or unmerge that says otherwise. A redelivered record yields the same rows,
sorting key and version included, so ReplacingMergeTree folds them.

A record that does not have the contract's shape raises :class:`RecordError` naming
the field and the problem; the sink stops on it rather than skip it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pyarrow as pa

from panorama.errors import ProjectionError

TIMESTAMP = pa.timestamp("us", tz="UTC")

# Column order and Arrow types of what the sink writes; tests hold them to the DDL.
COLUMNS: dict[str, tuple[tuple[str, pa.DataType], ...]] = {
    "identity_links": (("kind", pa.string()), ("identity_hash", pa.string()), ("customer_id", pa.string()),
                       ("version", pa.uint64()), ("deleted", pa.uint8())),
    "customer_signals": (("customer_id", pa.string()), ("seq", pa.uint64()), ("stage", pa.string()),
                         ("previous_stage", pa.string()), ("churn_risk", pa.uint8()), ("churn_level", pa.string()),
                         ("reasons", pa.string()), ("recorded_at", TIMESTAMP)),
    "profile_versions": (("customer_id", pa.string()), ("version", pa.uint64()), ("first_seen_at", TIMESTAMP),
                         ("last_seen_at", TIMESTAMP), ("lifecycle_stage", pa.string()), ("orders", pa.uint32()),
                         ("revenue_minor", pa.int64()), ("currency", pa.string()), ("traits", pa.string()),
                         ("deleted", pa.uint8())),
    "segment_membership": (("segment_id", pa.string()), ("customer_id", pa.string()), ("is_member", pa.uint8()),
                           ("changed_at", TIMESTAMP), ("version", pa.uint64())),
}


class RecordError(ProjectionError):
    """A record is not in its topic's format."""


class Rows:
    """Rows per table, appended record by record, handed out as Arrow tables."""

    def __init__(self) -> None:
        self._rows: dict[str, list[tuple]] = {table: [] for table in COLUMNS}

    def add(self, table: str, *row: Any) -> None:
        self._rows[table].append(row)

    def __len__(self) -> int:
        return sum(map(len, self._rows.values()))

    def tables(self) -> dict[str, pa.Table]:
        """``{table: columns}`` of every table that received rows."""
        found = {}
        for table, rows in self._rows.items():
            if rows:
                columns = COLUMNS[table]
                found[table] = pa.table([pa.array(list(values), type) for (_, type), values
                                         in zip(columns, zip(*rows))], names=[name for name, _ in columns])
        return found


def _get(record: dict, name: str, *types: type, nullable: bool = False) -> Any:
    if name not in record:
        raise RecordError(f"field {name!r} is missing")
    value = record[name]
    if value is None and nullable:
        return None
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        expected = " or ".join(t.__name__ for t in types) + (" or null" if nullable else "")
        raise RecordError(f"field {name!r} must be {expected}, got {type(value).__name__}")
    return value


def _natural(record: dict, name: str) -> int:
    value = _get(record, name, int)
    if value < 0:
        raise RecordError(f"field {name!r} must not be negative, got {value}")
    return value


def _node(node: Any, field: str) -> tuple[str, str]:
    """``kind:hash`` -> (kind, hash); an external kind keeps its own colon."""
    kind, sep, digest = node.rpartition(":") if isinstance(node, str) else ("", "", "")
    if not (sep and kind and digest):
        # the shape, not the value: a malformed node could be a plaintext email
        shape = f"a {type(node).__name__}" if not isinstance(node, str) else f"a string of {len(node)} characters"
        raise RecordError(f"field {field!r} must hold identity nodes 'kind:hash', got {shape}")
    return kind, digest


def _nodes(record: dict, name: str) -> list[str]:
    values = _get(record, name, list)
    for value in values:
        _node(value, name)
    return values


def _link_to_self(rows: Rows, customer_id: str) -> None:
    rows.add("identity_links", *_node(customer_id, "customer_id"), customer_id, 0, 0)


def identity(record: dict, rows: Rows) -> None:
    action = _get(record, "action", str)
    version = _natural(record, "recorded_at")
    if action == "merge":
        winner = _get(record, "winner", str)
        sides = [(winner, [winner, *_nodes(record, "moved")])]
    elif action == "unmerge":
        customers, members = _get(record, "customers", list), _get(record, "sides", list)
        if len(customers) != 2 or len(members) != 2:
            raise RecordError(f"fields 'customers' and 'sides' must hold two entries each, got {len(customers)} "
                              f"and {len(members)}")
        sides = list(zip(customers, members))
    else:
        raise RecordError(f"field 'action' must be 'merge' or 'unmerge', got {action!r}")
    version = decision_version(version, sum(len(nodes) for _, nodes in sides))
    for customer_id, nodes in sides:
        _node(customer_id, "customer_id")
        for node in nodes:
            rows.add("identity_links", *_node(node, "moved" if action == "merge" else "sides"), customer_id, version, 0)


SIZE_SLOTS = 4096  # recorded_at (µs) x 4096 fits UInt64 until the year 2112


def decision_version(recorded_at: int, nodes: int) -> int:
    """The ``identity_links`` version of a decision: its time, then the number of nodes it
    placed. A worker stamps every decision of a batch with one ``recorded_at``, and the
    records of one batch may reach the sink in any order (they are keyed by different
    winners); within such a batch a chain of merges only grows components, and a merge
    moves every node of its loser, so the later decision about a node is the larger one."""
    return recorded_at * SIZE_SLOTS + min(nodes, SIZE_SLOTS - 1)


def signal(record: dict, rows: Rows) -> None:
    customer_id = _get(record, "customer_id", str)
    risk = _get(record, "churn_risk", dict)
    if _natural(risk, "score") > 100:
        raise RecordError(f"field 'score' must be at most 100, got {risk['score']}")
    rows.add("customer_signals", customer_id, _natural(record, "seq"), _get(record, "stage", str),
             _get(record, "previous_stage", str, nullable=True) or "", risk["score"],
             _get(risk, "level", str), orjson.dumps(_get(risk, "reasons", list)).decode(),
             _get(record, "recorded_at", int))
    _link_to_self(rows, customer_id)


def profile(record: dict, rows: Rows) -> None:
    """A ``deleted`` record (the customer was merged into another, or forgotten) links
    nothing: the identity records say where its identities went."""
    customer_id, deleted = _get(record, "customer_id", str), _get(record, "deleted", bool)
    rows.add("profile_versions", customer_id, _natural(record, "version"),
             _get(record, "first_seen_at", int, nullable=True), _get(record, "last_seen_at", int, nullable=True),
             _get(record, "lifecycle_stage", str), _natural(record, "orders"), _get(record, "revenue_minor", int),
             _get(record, "currency", str), orjson.dumps(_get(record, "traits", dict)).decode(), int(deleted))
    if not deleted:
        _link_to_self(rows, customer_id)


def segment(record: dict, rows: Rows) -> None:
    rows.add("segment_membership", _get(record, "segment_id", str), _get(record, "customer_id", str),
             int(_get(record, "is_member", bool)), _get(record, "changed_at", int), _natural(record, "version"))


Mapper = Callable[[dict, Rows], None]


def mappers(topics: Any) -> dict[str, Mapper]:
    """``{topic name: mapper}`` for ``Settings.topics``."""
    return {topics.identity: identity, topics.signals: signal, topics.profiles: profile, topics.segments: segment}
