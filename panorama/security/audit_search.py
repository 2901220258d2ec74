"""Reading the audit trail back: search the topic (`cdp audit`, `GET /v1/audit`) and load
it into ClickHouse's ``audit_log`` table (`cdp audit --load`).

The topic is the record; ClickHouse is a copy for SQL. Searching reads the topic from
the first offset at or after ``since`` (Kafka finds it by timestamp) to its end.

The API's audit forwarder delivers at least once (:mod:`.audit_outbox`): a record sent
again after a crash carries the same ``audit_id`` and follows its first copy within a
forwarding batch or two, so reading keeps the first of each id among the most recent
``DEDUP_WINDOW`` ids; ``audit_log`` folds copies by its sorting key ``(at, audit_id)``.
"""

from __future__ import annotations

import re
import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from confluent_kafka import Consumer, TopicPartition

from panorama.kafka_config import client_config
from panorama.security.errors import AuditError
from panorama.settings import Settings

_RELATIVE = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
DEDUP_WINDOW = 100_000  # ids remembered: far more than the forwarder's batch (1,000) times a few


def parse_since(text: str) -> datetime:
    """``2026-11-24``, ``2026-11-24T20:00:00Z`` or a relative ``30m`` / ``12h`` / ``7d``."""
    match = _RELATIVE.match(text.strip())
    if match:
        try:
            return datetime.now(UTC) - timedelta(**{_UNITS[match[2]]: int(match[1])})
        except OverflowError:
            raise AuditError(f"since: {text!r} reaches before year 1") from None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise AuditError(f"since: {text!r} is neither an ISO-8601 date/time nor a duration like 30m, 12h, 7d") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class AuditQuery:
    actor: str | None = None
    action: str | None = None
    subject: str | None = None
    since: datetime | None = None
    limit: int = 100
    workspace: str | None = None

    def matches(self, event: dict[str, Any]) -> bool:
        """Exact actor, subject and workspace (``details.workspace``); an action ending in
        ``.*`` matches its family (``key.*``)."""
        if self.workspace and (event.get("details") or {}).get("workspace") != self.workspace:
            return False
        if self.actor and event.get("actor") != self.actor:
            return False
        if self.subject and event.get("subject") != self.subject:
            return False
        if self.action:
            family = self.action.removesuffix("*")
            if not (event.get("action") == self.action or (self.action.endswith(".*") and event.get("action", "").startswith(family))):
                return False
        return not self.since or datetime.fromisoformat(event["at"]) >= self.since


def read_audit(settings: Settings, since: datetime | None = None, timeout: float = 10.0) -> Iterator[dict[str, Any]]:
    """Every audit event from ``since`` (or the beginning) to the current end of the topic,
    each once (a redelivered copy is skipped by its ``audit_id``)."""
    return first_of_each_id(_read_topic(settings, since, timeout))


def first_of_each_id(events: Iterable[dict[str, Any]], window: int = DEDUP_WINDOW) -> Iterator[dict[str, Any]]:
    """``events`` without a later copy of any of the ``window`` most recent ``audit_id``s."""
    seen: set[str] = set()
    recent: deque[str] = deque()
    for event in events:
        audit_id = event["audit_id"]
        if audit_id in seen:
            continue
        seen.add(audit_id)
        recent.append(audit_id)
        if len(recent) > window:
            seen.discard(recent.popleft())
        yield event


def _read_topic(settings: Settings, since: datetime | None, timeout: float) -> Iterator[dict[str, Any]]:
    topic = settings.topics.audit
    consumer = Consumer(client_config(settings) | {"group.id": f"cdp-audit-{uuid.uuid4()}", "enable.auto.commit": False})
    try:
        metadata = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
        if metadata is None or metadata.error is not None:
            raise AuditError(f"audit topic {topic} does not exist (run `cdp topics` or `cdp up`)")
        partitions = [TopicPartition(topic, p, int(since.timestamp() * 1000) if since else 0) for p in metadata.partitions]
        if since:  # the first offset at or after `since`; -1 where nothing is that recent
            partitions = consumer.offsets_for_times(partitions, timeout=timeout)
        ends = {}
        for tp in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, tp.partition), timeout=timeout)
            tp.offset = tp.offset if since else low
            if 0 <= tp.offset < high:
                ends[tp.partition] = high
        consumer.assign([tp for tp in partitions if tp.partition in ends])
        while ends:
            msg = consumer.poll(timeout)
            if msg is None:
                raise AuditError(f"audit topic {topic} stopped answering before its end")
            if msg.error():
                raise AuditError(f"reading {topic}: {msg.error().str()}")
            if msg.offset() + 1 >= ends.get(msg.partition(), 0):
                ends.pop(msg.partition(), None)
            yield orjson.loads(msg.value())
    finally:
        consumer.close()


def search_audit(settings: Settings, query: AuditQuery) -> list[dict[str, Any]]:
    """The newest ``query.limit`` matching events, oldest first."""
    found: deque[dict[str, Any]] = deque(maxlen=max(1, query.limit))
    found.extend(event for event in read_audit(settings, query.since) if query.matches(event))
    return sorted(found, key=lambda event: event["at"])


def load_audit(settings: Settings, backend: Any, batch: int = 10_000) -> int:
    """Copy the audit events newer than the newest row of ``audit_log`` into it; returns
    how many rows were inserted (the newest one again among them: FINAL folds it)."""
    import pyarrow as pa

    newest = backend.query("SELECT max(at) FROM audit_log").scalar()
    since = newest.replace(tzinfo=UTC) if isinstance(newest, datetime) and newest.year > 1970 else None
    loaded, rows = 0, []
    for event in read_audit(settings, since):
        rows.append(event)
        if len(rows) >= batch:
            loaded += _insert(backend, rows, pa)
            rows = []
    return loaded + (_insert(backend, rows, pa) if rows else 0)


def _insert(backend: Any, events: list[dict[str, Any]], pa: Any) -> int:
    columns = {
        "audit_id": pa.array([e["audit_id"] for e in events]),
        "at": pa.array([datetime.fromisoformat(e["at"]) for e in events], pa.timestamp("us", tz="UTC")),
        **{name: pa.array([e.get(name) or "" for e in events]) for name in ("actor", "role", "action", "subject", "reason", "outcome")},
        "details": pa.array([orjson.dumps(e.get("details") or {}).decode() for e in events]),
    }
    backend.insert("audit_log", pa.table(columns))
    return len(events)
