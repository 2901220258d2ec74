"""The audit log: who read or changed what, when, why, and how it ended.

Every read of personal data, every key change and every privacy operation is one JSON
event on the append-only topic ``<prefix>.audit`` (delete policy, retained forever, one
partition so the trail has one order). :meth:`AuditLog.record` returns only once Kafka
acknowledged the event (acks=all, idempotent producer, flushed): a caller that gets an
:class:`AuditError` must not go on with the action it was auditing. The API's records are
durable in a Redis outbox first and forwarded (:mod:`.audit_outbox`).

No record may hold raw personal data: subjects are customer ids or keyed hashes of
identities (:func:`pseudonym`), and :meth:`AuditLog.record` refuses a record in which an
e-mail address or a phone number shows (so a mistake fails loudly instead of leaking).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from confluent_kafka import KafkaError, Producer

from panorama.kafka_config import client_config
from panorama.security.errors import AuditError
from panorama.settings import Settings

OUTCOMES = ("ok", "denied", "not_found", "failed")
FIELDS = ("audit_id", "at", "actor", "role", "action", "subject", "reason", "outcome", "details")
_EMAIL = re.compile(r"[^@\s:/]+@[^@\s]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"(?:^|[\s:])\+\d[\d\s().-]{5,}\d")


def pseudonym(settings: Settings, identity: str) -> str:
    """The audit subject for an identity someone looked up (``email:ana@example.com``):
    the same keyed-hash node the profile store uses, so it matches the customer id of a
    customer found under that identity and never shows the identity itself."""
    from streams.identity.nodes import NodeNamer

    return NodeNamer(settings.routing_key_secret.get_secret_value().encode()).parse(identity)


def refuse_personal_data(where: str, value: Any) -> None:
    """Raise :class:`AuditError` naming ``where`` if ``value`` (or anything inside it)
    looks like an e-mail address or a phone number."""
    if isinstance(value, str):
        if _EMAIL.search(value) or _PHONE.search(value):
            raise AuditError(f"audit field {where} looks like personal data (an e-mail or phone); "
                             "use a customer id or panorama.security.audit.pseudonym()")
    elif isinstance(value, dict):
        for key, item in value.items():
            refuse_personal_data(f"{where}.{key}", str(key))
            refuse_personal_data(f"{where}.{key}", item)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            refuse_personal_data(f"{where}[{index}]", item)


def audit_event(actor: str, action: str, subject: str | None = None, reason: str | None = None, outcome: str = "ok",
                details: dict | None = None, role: str | None = None) -> dict[str, Any]:
    """The audit record as written to the topic (checked, not yet sent)."""
    if not actor or not action:
        raise AuditError("an audit record needs an actor and an action")
    if outcome not in OUTCOMES:
        raise AuditError(f"audit outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
    for where, value in (("actor", actor), ("subject", subject), ("reason", reason), ("details", details)):
        refuse_personal_data(where, value)
    return {
        "audit_id": str(uuid.uuid4()), "at": datetime.now(UTC).isoformat(timespec="microseconds"),
        "actor": actor, "role": role, "action": action, "subject": subject, "reason": reason,
        "outcome": outcome, "details": details or {},
    }


class AuditLog:
    """Writes audit events to the topic; keep one per process and :meth:`close` it at the end.
    The API's reads go through the Redis outbox instead (:mod:`.audit_outbox`), whose
    forwarder writes with :meth:`deliver`."""

    def __init__(self, settings: Settings, timeout: float = 10.0):
        self.topic = settings.topics.audit
        self.workspace = settings.topic_prefix
        self._timeout = timeout
        self._producer = Producer(client_config(settings) | {
            "enable.idempotence": True, "acks": "all", "linger.ms": 0, "client.id": "panorama-audit",
            "message.timeout.ms": int(timeout * 1000),
        })

    def record(self, actor: str, action: str, subject: str | None = None, reason: str | None = None,
               outcome: str = "ok", details: dict | None = None, *, role: str | None = None) -> None:
        """Write one audit event and wait until Kafka acknowledged it.

        ``actor`` is who acted (``key:<key id>``, ``cli:<os user>``), ``role`` the role it
        acted under, ``action`` a dotted verb (``profile.read``, ``key.revoke``,
        ``privacy.forget``), ``subject`` the customer id or key id acted on, ``reason``
        the stated purpose. ``details.workspace`` defaults to this process's workspace (its
        topic prefix). Raises :class:`AuditError` when the event was not written.
        """
        event = audit_event(actor, action, subject, reason, outcome, {"workspace": self.workspace} | (details or {}), role)
        self.deliver([event], f"audit event {action}")

    def deliver(self, events: list[dict[str, Any]], what: str) -> None:
        """Write ``events`` (records as :func:`audit_event` makes them), in order, and wait
        until Kafka acknowledged every one; raises :class:`AuditError` naming ``what`` when
        not. Each is keyed by its subject (or actor) and stamped with its ``at``
        (`cdp audit --since` seeks by it)."""
        failures: list[KafkaError] = []
        for event in events:
            at_ms = int(datetime.fromisoformat(event["at"]).timestamp() * 1000)
            self._producer.produce(self.topic, orjson.dumps(event), key=(event["subject"] or event["actor"]).encode(),
                                   timestamp=at_ms, on_delivery=lambda err, _msg: failures.append(err) if err else None)
        if self._producer.flush(self._timeout) or failures:
            problem = failures[0].str() if failures else f"not acknowledged within {self._timeout:g} s"
            raise AuditError(f"{what} was not written to {self.topic}: {problem}")

    def close(self) -> None:
        """Wait for what is in flight (up to the timeout), then shut the producer down: a
        handle left to the garbage collector keeps reconnecting to its broker until the
        interpreter exits (test sessions printed dozens of refused connections after
        their broker stopped). Safe to call twice."""
        if self._producer is None:
            return
        self._producer.flush(self._timeout)
        self._producer.purge()  # what the broker never acknowledged is lost to this writer either way
        self._producer.close()
        self._producer = None

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
