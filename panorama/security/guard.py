"""What every protected route shares: the key checks and the audit log, with the
workspace of the calling key turned into the settings of that workspace's data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends, Request

from panorama.security.audit import AuditLog, refuse_personal_data
from panorama.security.audit_outbox import AuditForwarder, AuditOutbox
from panorama.security.auth import ApiProblem, Authenticator
from panorama.security.errors import AuditError
from panorama.security.keys import ApiKey
from panorama.settings import Settings


class Guard:
    """One per app: :meth:`start` and :meth:`stop` run in its lifespan. ``forward_audit``:
    whether this process copies the audit outbox to the topic (:class:`AuditForwarder`);
    ``cdp serve --workers N`` runs the forwarder in its supervisor instead."""

    def __init__(self, settings: Settings, forward_audit: bool = True):
        self.settings, self.forward_audit = settings, forward_audit
        self.auth = Authenticator(settings)
        self._audit: AuditLog | None = None
        self.outbox: AuditOutbox | None = None
        self._forwarder: AuditForwarder | None = None

    def start(self) -> None:
        self._audit = AuditLog(self.settings)
        self.outbox = AuditOutbox(self.settings)
        if self.forward_audit:
            self._forwarder = AuditForwarder(self.settings)
            self._forwarder.start()

    def stop(self) -> None:
        if self._audit is not None:
            if self._forwarder is not None:
                self._forwarder.stop()
                self._forwarder = None
            self.outbox.close()
            self._audit.close()
            self._audit = None
        self.auth.close()

    def workspace_settings(self, key: ApiKey) -> Settings:
        """A workspace is a namespace: its topics and Redis keys carry the workspace name as
        prefix. The deployment's own prefix is the default workspace."""
        if key.workspace == self.settings.topic_prefix:
            return self.settings
        return self.settings.model_copy(update={"topic_prefix": key.workspace})

    def require(self, *roles: str) -> Callable[..., Any]:
        """A dependency giving the caller's key if its role is one of ``roles``; otherwise 403,
        and the attempt is audited (``access.denied`` with the route's template, never the
        values in it, which a caller could fill with anything)."""

        async def allowed(request: Request, key: ApiKey = Depends(self.auth)) -> ApiKey:
            route = getattr(request.scope.get("route"), "path", "?")
            return await self.admit(key, roles, f"{request.method} {route}")

        return allowed

    async def admit(self, key: ApiKey, roles: tuple[str, ...], route: str) -> ApiKey:
        """``key`` if its role is one of ``roles``; otherwise 403, audited under ``route``
        (``GET /v1/profiles/{customer_id}``)."""
        if key.role not in roles:
            await self.record_async(key, "access.denied", None, outcome="denied", details={"route": route})
            raise ApiProblem(403, "wrong_role", f"role {key.role!r} may not do this; needs {' or '.join(roles)}")
        return key

    def record(self, key: ApiKey, action: str, subject: str | None, reason: str | None = None,
               outcome: str = "ok", details: dict[str, Any] | None = None) -> None:
        """Audit what ``key`` did; 503 (and no answer with data) when the log cannot take it."""
        try:
            self._audit.record(*self._audit_args(key, action, subject, reason, outcome, details), role=key.role)
        except AuditError as e:
            raise audit_unavailable(e) from None

    async def record_async(self, key: ApiKey, action: str, subject: str | None, reason: str | None = None,
                           outcome: str = "ok", details: dict[str, Any] | None = None) -> None:
        """:meth:`record` awaited in the event loop (the profile reads' path): durable once
        the Redis outbox holds it, on the topic shortly after (:mod:`.audit_outbox`)."""
        try:
            await self.outbox.record_async(*self._audit_args(key, action, subject, reason, outcome, details), role=key.role)
        except AuditError as e:
            raise audit_unavailable(e) from None

    def outbox_entry(self, key: ApiKey, action: str, reason: str | None, details: dict[str, Any]) -> bytes:
        """The record of what ``key`` did, for a Redis script that appends it to
        ``self.outbox`` with the subject and outcome it finds."""
        return self.outbox.entry(*self._audit_args(key, action, None, reason, "ok", details), role=key.role)

    @staticmethod
    def _audit_args(key: ApiKey, action: str, subject: str | None, reason: str | None, outcome: str,
                    details: dict[str, Any] | None) -> tuple:
        return (f"key:{key.key_id}", action, subject, reason, outcome,
                {"workspace": key.workspace, "key_name": key.name} | (details or {}))


def audit_unavailable(error: AuditError) -> ApiProblem:
    return ApiProblem(503, "audit_unavailable", f"the audit log did not take the record, so no answer: {error}",
                      field="<audit>", headers={"Retry-After": "5"})

def purpose(text: str | None) -> str | None:
    """The ``X-Purpose`` header, checked to hold no personal data (it goes into the audit log)."""
    if text is None:
        return None
    try:
        refuse_personal_data("reason", text)
    except AuditError:
        raise ApiProblem(400, "personal_data_in_purpose", "X-Purpose must not name the person (no e-mail or phone)",
                         field="X-Purpose") from None
    return text
