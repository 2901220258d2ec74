"""Every topic the platform owns, with explicit partitions, replication and retention.

The interaction log is the source of truth: retained forever, never compacted. The DLQ
keeps rejected input (with its reason) for ``dlq_retention_days``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from panorama.errors import StackError
from panorama.kafka_config import client_config
from panorama.settings import Settings

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication: int
    config: dict[str, str] = field(default_factory=dict)


def topic_specs(settings: Settings) -> list[TopicSpec]:
    rf = settings.replication_factor
    min_isr = str(min(2, rf))
    return [
        TopicSpec(
            settings.topics.interactions, settings.interactions_partitions, rf,
            {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1",
             "min.insync.replicas": min_isr, "compression.type": "producer"},
        ),
        TopicSpec(
            settings.topics.dlq, max(1, settings.interactions_partitions // 2), rf,
            {"cleanup.policy": "delete", "retention.ms": str(settings.dlq_retention_days * DAY_MS),
             "min.insync.replicas": min_isr},
        ),
        TopicSpec(  # who read or changed what: append-only, never expires (panorama.security.audit)
            settings.topics.audit, 1, rf,
            {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1",
             "min.insync.replicas": min_isr},
        ),
        # Published by the profile workers (streams/README.md): JSON records keyed by customer id,
        # retained forever like the log they are derived from (automation reads them; replays can too).
        *(TopicSpec(name, settings.interactions_partitions, rf,
                    {"cleanup.policy": "delete", "retention.ms": "-1", "min.insync.replicas": min_isr})
          for name in (settings.topics.signals, settings.topics.identity, settings.topics.profiles,
                       settings.topics.segments)),
    ]


def ensure_topics(settings: Settings, timeout: float = 30.0) -> list[str]:
    """Create the missing topics; return the names created. Existing topics are left as
    they are (a partition-count mismatch is reported, never silently changed)."""
    admin = AdminClient(client_config(settings))
    existing = admin.list_topics(timeout=timeout).topics
    specs = topic_specs(settings)
    for spec in specs:
        have = existing.get(spec.name)
        if have is not None and len(have.partitions) != spec.partitions:
            raise StackError(
                f"topic {spec.name} has {len(have.partitions)} partitions, settings ask for {spec.partitions}; "
                "partition counts are never changed automatically (it would move customers between partitions)"
            )
    missing = [s for s in specs if s.name not in existing]
    if not missing:
        return []
    futures = admin.create_topics(
        [NewTopic(s.name, num_partitions=s.partitions, replication_factor=s.replication, config=s.config) for s in missing],
        operation_timeout=timeout,
    )
    for name, future in futures.items():
        try:
            future.result(timeout)
        except KafkaException as e:
            if e.args[0].code() != 36:  # TOPIC_ALREADY_EXISTS: another `cdp up` won the race
                raise StackError(f"creating topic {name} failed: {e}") from e
    return [s.name for s in missing]
