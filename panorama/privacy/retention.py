"""Retention per event type: how long each store keeps an event, by its ``type``.

A policy is a file named by ``CDP_RETENTION_FILE`` (TOML, or JSON when it ends in
``.json``): event type (a canonical type or ``track``) or ``*`` (every other type) →
a whole number of days, or ``"keep"``. Without a file, or without ``*``, events are kept::

    "*" = "keep"
    page = 90
    screen = 90
    track = 365
    order_placed = "keep"

An event is expired when its ``occurred_at`` is more than its type's days before now.
``occurred_at`` and not ``received_at`` because that is the event's age for the people
it describes and what the analytics store is partitioned by; a backfill of old events is
expired as soon as it lands, which is what the policy says. :func:`apply` removes expired
events from the analytics store (``projections.retention``: physically) and from the
profile store's recent-event lists (:func:`expire_recent_events`), and audits the run.
The Kafka log is not touched: see :func:`kafka_note` and ``docs/security.md``.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from redis import Redis

from panorama.clock import now_us
from panorama.errors import ConfigError
from panorama.settings import Settings
from schemas.contract import CANONICAL_TYPES

DAY_US = 24 * 3600 * 1_000_000
KEEP = "keep"
EVENT_TYPES = frozenset(CANONICAL_TYPES) | {"track"}
SCAN_BATCH = 500


@dataclass(frozen=True)
class RetentionPolicy:
    """Days per type (None: keep); ``default`` applies to every type not named."""

    days: dict[str, int | None] = field(default_factory=dict)
    default: int | None = None

    def days_for(self, event_type: str) -> int | None:
        return self.days[event_type] if event_type in self.days else self.default

    @property
    def keeps_everything(self) -> bool:
        return self.default is None and all(d is None for d in self.days.values())

    @property
    def longest(self) -> int | None:
        """The longest retention in days, None when some type is kept for ever."""
        every = [*self.days.values(), self.default]
        return None if None in every else max(every)

    @property
    def shortest(self) -> int | None:
        """The shortest finite retention in days, None when nothing expires."""
        return min((d for d in (*self.days.values(), self.default) if d is not None), default=None)

    def cutoffs(self, now: int) -> tuple[dict[str, int], int | None]:
        """(type -> cutoff µs for named types with days, cutoff for every other type or
        None); an event is expired when its ``occurred_at`` is before its cutoff."""
        named = {t: now - d * DAY_US for t, d in self.days.items() if d is not None}
        return named, None if self.default is None else now - self.default * DAY_US

    def as_dict(self) -> dict[str, int | str]:
        shown = {t: KEEP if d is None else d for t, d in sorted(self.days.items())}
        return {"*": KEEP if self.default is None else self.default} | shown


def parse_policy(document: dict[str, Any], source: str = "retention policy") -> RetentionPolicy:
    """Validate a decoded policy; ConfigError naming the entry and the problem."""
    if not isinstance(document, dict):
        raise ConfigError(f"{source}: must map event types to days or \"keep\"")
    days: dict[str, int | None] = {}
    for name, value in document.items():
        if name != "*" and name not in EVENT_TYPES:
            raise ConfigError(f"{source}: {name!r} is not an event type; use one of {', '.join(sorted(EVENT_TYPES))} or '*'")
        if value == KEEP:
            days[name] = None
        elif isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            days[name] = value
        else:
            raise ConfigError(f"{source}: {name}: {value!r} must be a whole number of days >= 1 or \"keep\"")
    default = days.pop("*", None)
    return RetentionPolicy(days, default)


def load_policy(path: Path | None) -> RetentionPolicy:
    """The policy in ``path`` (TOML, or JSON for ``.json``); keep everything when None."""
    if path is None:
        return RetentionPolicy()
    try:
        text = path.read_text("utf-8")
        document = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except OSError as e:
        raise ConfigError(f"CDP_RETENTION_FILE: cannot read {path}: {e.strerror}") from None
    except (ValueError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"CDP_RETENTION_FILE: {path} is not valid {'JSON' if path.suffix == '.json' else 'TOML'}: {e}") from None
    return parse_policy(document, f"CDP_RETENTION_FILE ({path.name})")


def expired(policy: RetentionPolicy, event_type: str, occurred_at: int, now: int) -> bool:
    days = policy.days_for(event_type)
    return days is not None and occurred_at < now - days * DAY_US


def expire_recent_events(redis: Redis, namespace: str, policy: RetentionPolicy, now: int) -> int:
    """Remove expired entries from every recent-events set (``{ns}:ev:*``, scored by
    ``occurred_at``, members carry the type); returns the entries removed. Only members
    older than the shortest retention are read."""
    if policy.shortest is None:
        return 0
    removed = 0
    for keys in _batches(redis.scan_iter(match=f"{namespace}:ev:*", count=SCAN_BATCH), SCAN_BATCH):
        pipe = redis.pipeline(transaction=False)
        for key in keys:
            pipe.zrangebyscore(key, "-inf", f"({now - policy.shortest * DAY_US}")
        candidates = pipe.execute()
        pipe = redis.pipeline(transaction=False)
        for key, members in zip(keys, candidates):
            stale = [m for m in members if _expired_member(policy, m, now)]
            if stale:
                pipe.zrem(key, *stale)
        removed += sum(pipe.execute())
    return removed


def _expired_member(policy: RetentionPolicy, member: bytes, now: int) -> bool:
    entry = orjson.loads(member)
    return expired(policy, entry["type"], entry["occurred_at"], now)


def _batches(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def kafka_note(policy: RetentionPolicy, topic_retention_ms: int | None) -> str:
    """What the policy means for the Kafka log, whose retention is per topic, not per type."""
    longest = policy.longest
    topic = "for ever" if topic_retention_ms is None or topic_retention_ms < 0 else f"{topic_retention_ms / 86_400_000:g} days"
    if policy.keeps_everything:
        return f"the interaction log keeps events {topic}; the policy keeps everything"
    if longest is None:
        return (f"the interaction log keeps events {topic}: a type is kept for ever, so the topic must be too; "
                "expired events stay in the log (personal fields sealed) and a replay re-inserts them until the next "
                "`cdp privacy retention apply`")
    if topic_retention_ms is None or topic_retention_ms < 0 or topic_retention_ms > longest * 86_400_000:
        return (f"the interaction log keeps events {topic}, longer than the longest policy ({longest} days): "
                f"set its retention.ms to {longest * 86_400_000} to bound the log by the policy")
    return f"the interaction log keeps events {topic}, within the longest policy ({longest} days)"


def topic_retention_ms(settings: Settings, timeout: float = 10.0) -> int | None:
    """The interaction log's ``retention.ms`` as the broker has it (-1: for ever)."""
    from confluent_kafka.admin import AdminClient, ConfigResource

    from panorama.kafka_config import client_config

    resource = ConfigResource(ConfigResource.Type.TOPIC, settings.topics.interactions)
    admin = AdminClient(client_config(settings))  # held until the answer: a dropped client cancels it
    [future] = admin.describe_configs([resource], request_timeout=timeout).values()
    entry = future.result(timeout).get("retention.ms")
    return int(entry.value) if entry is not None and entry.value is not None else None


@dataclass
class RetentionReport:
    policy: dict[str, int | str]
    event_rows_deleted: int = 0
    recent_events_removed: int = 0
    kafka: str = ""


def apply(settings: Settings, policy: RetentionPolicy, actor: str, open_store: Callable[[Settings], Any],
          topic_retention_ms: int | None, redis: Redis | None = None, now: int | None = None) -> RetentionReport:
    """Remove expired events from the analytics store and Redis; audited (``privacy.retention``),
    also when a step fails (then re-raised)."""
    from panorama.security.audit import AuditLog
    from projections.retention import delete_expired

    now = now_us() if now is None else now
    redis = redis or Redis.from_url(settings.redis_address)
    report = RetentionReport(policy.as_dict(), kafka=kafka_note(policy, topic_retention_ms))
    with AuditLog(settings) as audit:
        try:
            if not policy.keeps_everything:
                with open_store(settings) as backend:
                    report.event_rows_deleted = delete_expired(backend, policy, now)
                report.recent_events_removed = expire_recent_events(redis, settings.topic_prefix, policy, now)
        except Exception as e:
            audit.record(actor, "privacy.retention", None, None, "failed", {"step_error": type(e).__name__})
            raise
        audit.record(actor, "privacy.retention", None, None, "ok",
                     {"policy": report.policy, "event_rows_deleted": report.event_rows_deleted,
                      "recent_events_removed": report.recent_events_removed})
    return report
