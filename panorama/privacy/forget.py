"""``cdp privacy forget``: the right to erasure by crypto-shredding.

Steps, in this order (each safe to run again; a re-run after a failure completes the rest):

1. resolve the identity to its customer and every identity node of it (Redis graph);
2. mark every node's subject forgotten and delete its data key (key store): every personal
   field of every past event in Kafka — and every sealed DLQ copy — becomes unreadable,
   without rewriting the log; producers refuse new events of those identities;
3. wait until running processes saw it (``privacy_refresh_s``) and the consumers (profile
   worker, analytics sink) are past the log's end as of step 2, so no batch decoded before
   the forget lands after the erasure (a group no process consumes in is not waited for:
   it reads later, and drops the customer's events then);
4. remove the customer's rows from ClickHouse physically;
5. delete its Redis state and rewrite Redis's files on disk;
6. record the request in the audit log.

What remains afterwards is listed in ``panorama/privacy/__init__.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from confluent_kafka import Consumer, ConsumerGroupState, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient
from redis import Redis

from panorama.clock import now_us
from panorama.kafka_config import client_config
from panorama.log_reader import watermarks
from panorama.privacy.keystore import KeyStore
from panorama.privacy.redis_state import compact, erase_customer
from panorama.security.audit import AuditLog
from panorama.settings import Settings
from projections.backend import Backend
from streams.profiles.read import ProfileReader

CONSUMER_GROUPS = (".profile-builder", ".projections.events")  # suffixes of the groups to wait for


@dataclass
class ForgetReport:
    customer_id: str
    identities: int
    data_keys_deleted: int = 0
    event_rows_deleted: int = 0
    redis_keys_deleted: int = 0
    rewritten: list[str] = field(default_factory=list)
    consumers_behind: list[str] = field(default_factory=list)  # consumer groups not yet past the forget


def forget(settings: Settings, identity: str, actor: str, reason: str | None,
           open_store: Callable[[Settings], Backend], redis: Redis | None = None, wait_s: float = 60.0) -> ForgetReport:
    """Forget the customer ``identity`` belongs to (see the module docstring). ``open_store``
    opens the analytics store (a context manager). Raises on failure, after auditing it."""
    redis = redis or Redis.from_url(settings.redis_address)
    reader = ProfileReader(redis, settings)
    customer_id, members = reader.store.resolve(reader.namer.parse(identity))
    subjects = [node.rsplit(":", 1)[1] for node in members]
    report = ForgetReport(customer_id, len(members))
    with AuditLog(settings) as audit:
        try:
            report.data_keys_deleted = KeyStore.from_settings(settings, redis).forget(subjects, now_us())
            time.sleep(settings.privacy_refresh_s + 0.2)
            report.consumers_behind = wait_for_consumers(settings, wait_s)
            with open_store(settings) as backend:
                from projections.erasure import erase_customer as erase_rows

                report.event_rows_deleted = erase_rows(backend, subjects, customer_id)
            report.redis_keys_deleted = erase_customer(reader.store, customer_id, members)
            report.rewritten = compact(redis)
        except Exception as e:
            audit.record(actor, "privacy.forget", customer_id, reason, "failed",
                         {"step_error": type(e).__name__, **_counts(report)})
            raise
        audit.record(actor, "privacy.forget", customer_id, reason, "ok", _counts(report))
    return report


def _counts(report: ForgetReport) -> dict:
    return {k: v for k, v in asdict(report).items() if k != "customer_id"}


def wait_for_consumers(settings: Settings, timeout: float) -> list[str]:
    """Block until every consumer group of the platform that has committed anything has
    committed the log's current end; returns the groups still behind after ``timeout`` —
    at once for a group no process consumes in (a local sink that ran until it caught up
    and stopped would never move, and waiting for it only delays the erasure)."""
    topic = settings.topics.interactions
    ends = {p: high for p, (_low, high) in watermarks(settings, topic).items()}
    deadline = time.monotonic() + timeout
    admin = AdminClient(client_config(settings))
    behind = []
    for suffix in CONSUMER_GROUPS:
        name = settings.topic_prefix + suffix
        group = Consumer(client_config(settings) | {"group.id": name, "enable.auto.commit": False})
        try:
            while True:
                committed = group.committed([TopicPartition(topic, p) for p in ends], timeout=10)
                if all(tp.offset < 0 for tp in committed):
                    break  # this consumer never ran here
                if all(tp.offset >= ends[tp.partition] or ends[tp.partition] == 0 for tp in committed):
                    break
                if time.monotonic() > deadline or not _consumed(admin, name):
                    behind.append(name)
                    break
                time.sleep(0.2)
        finally:
            group.close()
    return behind


def _consumed(admin: AdminClient, group: str) -> bool:
    """Whether some process is a member of ``group`` (True when the broker cannot say)."""
    try:
        state = admin.describe_consumer_groups([group])[group].result(timeout=10).state
    except KafkaException:
        return True
    return state not in (ConsumerGroupState.EMPTY, ConsumerGroupState.DEAD)
