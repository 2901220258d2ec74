"""The API's audit outbox: an audit record is durable once Redis holds it, and reaches the
audit topic afterwards.

Waiting for Kafka's acknowledgement in every request put the broker's pauses (GC, request
handling on a shared core) into the read's latency: at 1,000 reads/s the acknowledgement
wait was most of the p99. Instead a read's record is appended to one Redis stream,
``<prefix>:audit:outbox`` (for the profile read in the very script call that reads the
profile, see :meth:`streams.profiles.read.ProfileReader.read_audited`), the answer leaves
once Redis replied, and an :class:`AuditForwarder` (a thread of the API process, or of the
supervisor of ``cdp serve --workers N``) copies the stream to ``<prefix>.audit`` (acks=all,
idempotent producer), deleting entries only after Kafka acknowledged them. Redis refusing
the record refuses the read (503).

A record's ``audit_id`` is drawn when it is written to the stream and travels with it, so
a forwarder that dies between Kafka's acknowledgement and the delete sends the same record
again with the same id; readers of the topic keep one record per id
(:func:`panorama.security.audit_search.read_audit`, ClickHouse's ``audit_log`` ordered by
``(at, audit_id)``). The same at-least-once-then-dedup scheme as the workers' outbox
(:mod:`streams.outbox`), on a stream because records here arrive a thousand a second and
are forwarded in arrival order.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

import orjson
from redis import Redis, RedisError

from panorama.blocking import InlineUnlessSlow
from panorama.security.audit import AuditLog, audit_event
from panorama.security.errors import AuditError
from panorama.settings import Settings

log = logging.getLogger(__name__)

REDIS_TIMEOUT = 0.5  # s: the socket timeout of the outbox's Redis client
# Fields of a stream entry: the record, and when a script filled them in, its subject and outcome.
RECORD, SUBJECT, OUTCOME = b"e", b"s", b"o"
# Compare-and-renew and compare-and-release of the forwarding lease (its value is the holder's token).
_RENEW = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


def outbox_key(settings: Settings) -> str:
    return f"{settings.topic_prefix}:audit:outbox"


def stream_record(fields: dict[bytes, bytes]) -> dict[str, Any]:
    """The audit record a stream entry holds, with the subject and outcome a script set."""
    event = orjson.loads(fields[RECORD])
    if SUBJECT in fields:
        event["subject"], event["outcome"] = fields[SUBJECT].decode(), fields[OUTCOME].decode()
    return event


class AuditOutbox:
    """Writes audit records to the outbox stream of the deployment ``settings`` names."""

    def __init__(self, settings: Settings):
        self.key = outbox_key(settings)
        self.redis = Redis.from_url(settings.redis_address, socket_timeout=REDIS_TIMEOUT)
        self._runner = InlineUnlessSlow()

    @staticmethod
    def entry(actor: str, action: str, subject: str | None = None, reason: str | None = None, outcome: str = "ok",
              details: dict | None = None, *, role: str | None = None) -> bytes:
        """The encoded record (checked by :func:`audit_event`) for a stream entry's
        ``RECORD`` field; a script that learns the subject and outcome adds them."""
        return orjson.dumps(audit_event(actor, action, subject, reason, outcome, details, role))

    async def record_async(self, *args: Any, **kwargs: Any) -> None:
        """Append one record (:meth:`entry`'s arguments); returns once Redis holds it.
        Raises :class:`AuditError` when Redis did not take it."""
        entry = self.entry(*args, **kwargs)
        try:
            await self._runner.run(lambda: self.redis.xadd(self.key, {RECORD: entry}))
        except RedisError as e:
            raise AuditError(f"audit record not written to the Redis outbox {self.key}: {type(e).__name__}") from None

    def close(self) -> None:
        self.redis.close()


class AuditForwarder:
    """Copies the outbox stream to the audit topic from a thread (one per API process, or
    one in the supervisor of several workers, :mod:`connectors.collector.workers`).

    Only the holder of a lease (``<outbox>:lease``, ``lease`` seconds, renewed while it
    forwards) sends, so the topic keeps the stream's order. It always reads from the
    oldest entry still in the stream, so records a stopped or killed holder sent without
    deleting go out again, same id. Kafka failing leaves entries in the stream
    (Redis memory grows with the backlog) and the forwarder retries after ``pause``. After
    a batch that was not full it waits ``linger`` seconds, so that at a thousand records a
    second it sends a few hundred at a time: the broker shares the cores with the API, and
    at 1,000 reads/s it spent 1.5 s of CPU per 8 s forwarding batches of ~20 records, 0.5 s
    with batches of ~250 (the forwarder's own CPU per record fell from ~24 to ~8 µs). The
    records are durable in Redis meanwhile; they reach the topic up to ``linger`` later."""

    def __init__(self, settings: Settings, lease: float = 3.0, batch: int = 1000, pause: float = 1.0,
                 timeout: float = 10.0, linger: float = 0.25):
        self.key = outbox_key(settings)
        self.lease_key = self.key + ":lease"
        self.lease, self.batch, self.pause, self.linger = lease, batch, pause, linger
        self._token = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._redis = Redis.from_url(settings.redis_address, socket_timeout=lease)  # > the XREAD block
        self._renew, self._release = self._redis.register_script(_RENEW), self._redis.register_script(_RELEASE)
        self._log = AuditLog(settings, timeout)
        self._timeout = timeout
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="audit-forwarder", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop forwarding and give the lease up (entries not yet acknowledged stay in the stream)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self._timeout + self.lease)
        try:
            self._release(keys=[self.lease_key], args=[self._token])
        except RedisError:
            pass  # the lease runs out by itself
        self._redis.close()
        self._log.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self._hold():
                    if self.forward() < self.batch:
                        self._stop.wait(self.linger)  # let records gather: fewer, larger batches cost less CPU
                else:
                    self._stop.wait(self.lease / 3)
            except (RedisError, AuditError) as e:
                log.warning("audit forwarder: %s; retrying in %g s", e, self.pause)
                self._stop.wait(self.pause)
            except Exception:  # a bug must not end forwarding silently: the records would pile up unseen
                log.exception("audit forwarder failed; retrying in %g s", self.pause)
                self._stop.wait(self.pause)

    def _hold(self) -> bool:
        ms = int(self.lease * 1000)
        return bool(self._renew(keys=[self.lease_key], args=[self._token, ms])
                    or self._redis.set(self.lease_key, self._token, nx=True, px=ms))

    def forward(self) -> int:
        """Send the oldest entries of the stream (at most ``batch``, waiting up to a third of
        the lease for one), wait for Kafka's acknowledgement, delete them; how many went.
        Raises :class:`AuditError` (they stay) when Kafka did not take them all."""
        found = self._redis.xread({self.key: "0-0"}, count=self.batch, block=int(self.lease * 1000 / 3))
        if not found:
            return 0
        entries = found[0][1]
        self._log.deliver([stream_record(fields) for _, fields in entries], f"{len(entries)} forwarded audit records")
        return self._redis.xdel(self.key, *(entry_id for entry_id, _ in entries))

