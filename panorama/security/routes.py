"""HTTP routes of the security layer: key management for admins (in their own workspace),
the audit log for auditors, and ``/v1/keys/me`` for any key to see what it grants.

Request bodies are parsed against models that forbid unknown fields, so a body naming a
``workspace``, ``key_id``, ``revoked_at`` or (on update) a ``role`` is refused with 422,
not silently applied or ignored: a key's role, workspace and grants are fixed at creation
and the workspace is always the admin's own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from connectors.collector.openapi_schemas import request_body
from panorama.security.audit_search import AuditQuery, parse_since, search_audit
from panorama.security.auth import ApiProblem, read_json, refusals
from panorama.security.errors import AuditError, KeyStoreError
from panorama.security.guard import Guard
from panorama.security.keys import ROLES, ApiKey

BODY_LIMIT = 4 * 1024
KeyId = Annotated[str, Path(max_length=40, pattern=r"^k_[0-9a-f]+$")]


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    role: str = Field(description=f"one of {', '.join(r for r in ROLES if r != 'ingest')}")
    grants: list[str] = Field(default_factory=list, description="e.g. pii")
    rate_limit: int | None = Field(None, gt=0, description="requests per second")


class KeyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=100)
    rate_limit: int | None = Field(None, gt=0)


def body_of(model: type[BaseModel], limit: int = BODY_LIMIT) -> Callable[[Request], Awaitable[Any]]:
    """A dependency parsing the JSON body as ``model`` (413 past ``limit`` bytes, 422 naming
    the first bad or unknown field). List it after the key so a caller without one gets 401."""

    async def parsed(request: Request) -> Any:
        try:
            return model.model_validate(await read_json(request, limit))
        except ValidationError as e:
            first = e.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "<body>"
            problem = "may not be set here" if first["type"] == "extra_forbidden" else first["msg"]
            raise ApiProblem(422, "invalid_field", problem, field=field) from None

    return parsed


def body_doc(model: type[BaseModel]) -> dict[str, Any]:
    return request_body(model.model_json_schema())


def security_router(guard: Guard) -> APIRouter:
    router = APIRouter(prefix="/v1", responses=refusals(401, 403, 404, 409, 413, 422, 429, 503))
    admin = Depends(guard.require("admin"))
    keys = guard.auth.store

    def own_key(caller: ApiKey, key_id: str) -> ApiKey:
        record = keys.get(key_id)
        if record is None or record.workspace != caller.workspace:
            raise ApiProblem(404, "not_found", "no key with this id in your workspace", field="key_id")
        return record

    def refused(e: KeyStoreError) -> ApiProblem:
        field, _, problem = str(e).partition(": ")
        return ApiProblem(422, "invalid_field", problem or str(e), field=field)

    @router.get("/keys/me", tags=["keys"], summary="The calling key")
    def me(caller: ApiKey = Depends(guard.auth)) -> dict[str, Any]:
        """What the calling key is: id, name, workspace, role, grants, rate limit."""
        return caller.public()

    @router.get("/keys", tags=["keys"], summary="List the workspace's keys")
    def list_keys(caller: ApiKey = admin) -> list[dict[str, Any]]:
        return [r.public() for r in keys.list(caller.workspace)]

    @router.post("/keys", tags=["keys"], summary="Create a key", status_code=201, openapi_extra=body_doc(KeyCreate))
    def create(caller: ApiKey = admin, wanted: KeyCreate = Depends(body_of(KeyCreate))) -> dict[str, Any]:
        """A new key in the admin's own workspace; the key is in this answer only."""
        if wanted.role == "ingest":
            raise ApiProblem(422, "invalid_field", "write keys are made with `cdp keys create --role ingest`", field="role")
        try:
            key, record = keys.create(wanted.name, wanted.role, caller.workspace, tuple(wanted.grants), wanted.rate_limit)
        except KeyStoreError as e:
            raise refused(e) from None
        guard.record(caller, "key.create", record.key_id, details={"role": record.role, "grants": list(record.grants)})
        return {"key": key, **record.public()}

    @router.patch("/keys/{key_id}", tags=["keys"], summary="Rename a key or change its rate", openapi_extra=body_doc(KeyUpdate))
    def update(key_id: KeyId, caller: ApiKey = admin, wanted: KeyUpdate = Depends(body_of(KeyUpdate))) -> dict[str, Any]:
        """Only the name and the rate limit change; role, workspace and grants never do."""
        own_key(caller, key_id)
        try:
            record = keys.update(key_id, wanted.name, wanted.rate_limit)
        except KeyStoreError as e:
            raise refused(e) from None
        guard.record(caller, "key.update", key_id, details={"rate_limit": record.rate_limit})
        return record.public()

    @router.post("/keys/{key_id}/rotate", tags=["keys"], summary="Rotate a key")
    def rotate(key_id: KeyId, caller: ApiKey = admin) -> dict[str, Any]:
        """A new secret for the key (in this answer only); the old one stops working."""
        own_key(caller, key_id)
        try:
            key, record = keys.rotate(key_id)
        except KeyStoreError as e:
            raise ApiProblem(409, "revoked", str(e), field="key_id") from None
        guard.record(caller, "key.rotate", key_id)
        return {"key": key, **record.public()}

    @router.delete("/keys/{key_id}", tags=["keys"], summary="Revoke a key")
    def revoke(key_id: KeyId, caller: ApiKey = admin) -> dict[str, Any]:
        own_key(caller, key_id)
        record = keys.revoke(key_id)
        guard.record(caller, "key.revoke", key_id)
        return record.public()

    @router.get("/audit", tags=["audit"], summary="Search the audit log")
    def audit(caller: ApiKey = Depends(guard.require("auditor")),
              actor: Annotated[str | None, Query(max_length=200)] = None,
              action: Annotated[str | None, Query(max_length=100, description="e.g. profile.read or key.*")] = None,
              subject: Annotated[str | None, Query(max_length=200)] = None,
              since: Annotated[str, Query(max_length=40, description="ISO date/time or 30m, 12h, 7d; bounds the scan")] = "30d",
              limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
        """The newest matching audit events of the auditor's workspace, oldest first. The
        topic is scanned from ``since`` (30 days back unless given): it is kept forever."""
        try:
            query = AuditQuery(actor, action, subject, parse_since(since), limit, caller.workspace)
        except AuditError as e:
            raise ApiProblem(422, "invalid_field", str(e), field="since") from None
        try:
            events = search_audit(guard.settings, query)
        except AuditError as e:
            raise ApiProblem(503, "audit_unavailable", str(e), field="<audit>", headers={"Retry-After": "5"}) from None
        guard.record(caller, "audit.search", None, details={"returned": len(events)})
        return events

    return router

