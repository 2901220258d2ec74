"""The segments API: define live segments, list them, read their members, in the calling
key's workspace; every change and every member read is audited.

Roles: marketing and admin define segments and read members; analysts may list and show
definitions. Members are customer ids (keyed hashes); with ``identities=true`` each comes
with its identities, masked as profile reads mask them (a marketing key without the
``pii`` grant sees ``***``). Every member read is audited (``segment.members``, with
whether identities were returned unmasked), as campaign lists are.
"""

from __future__ import annotations

from typing import Annotated, Any

import redis
from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from redis import Redis

from panorama.clock import now_us
from panorama.security.auth import ApiProblem, refusals
from panorama.security.guard import Guard
from panorama.errors import ProfileNotFound
from panorama.security.keys import ApiKey
from panorama.security.masking import mask_profile, sees_personal_data
from panorama.security.routes import body_doc, body_of
from streams.identity.nodes import CUSTOMER_PREFIX
from streams.profiles.read import ProfileReader
from streams.segments.rules import RuleError, SegmentError
from streams.segments.store import SegmentStore

EDIT_ROLES = ("marketing", "admin")
BODY_LIMIT = 64 * 1024  # a rule of MAX_CONDITIONS tests fits with room to spare
SegmentId = Annotated[str, Path(max_length=64, description="the segment id (lowercase letters, digits, '_' or '-')")]


class SegmentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rule: dict[str, Any] = Field(description="the rule (streams/README.md, Live segments)")
    description: str = Field("", max_length=500)


def segments_router(guard: Guard) -> APIRouter:
    client = Redis.from_url(guard.settings.redis_address, socket_timeout=5.0)
    router = APIRouter(prefix="/v1/segments", tags=["segments"], responses=refusals(401, 403, 404, 422, 429, 503))
    editor = Depends(guard.require(*EDIT_ROLES))
    reader = Depends(guard.require(*EDIT_ROLES, "analyst"))

    def store(key: ApiKey) -> SegmentStore:
        return SegmentStore(client, guard.workspace_settings(key).topic_prefix, guard.settings.interactions_partitions)

    def with_identities(key: ApiKey, customer_ids: list[str]) -> list[dict[str, Any]]:
        """Each member with its identities (masked unless the key sees personal data); a
        member erased since it was listed is left out."""
        reader, masked = ProfileReader(client, guard.workspace_settings(key)), not sees_personal_data(key)
        found = []
        for customer_id in customer_ids:
            try:
                profile = reader.read(CUSTOMER_PREFIX + customer_id)
            except ProfileNotFound:
                continue
            found.append({"customer_id": customer_id,
                          "identities": (mask_profile(profile) if masked else profile)["identities"]})
        return found

    def answer(action):
        """Run ``action`` turning the store's refusals into the platform's problems."""
        try:
            return action()
        except RuleError as e:
            raise ApiProblem(422, "invalid_rule", e.problem, field=e.field) from None
        except SegmentError as e:
            raise ApiProblem(404, "not_found", str(e), field="segment_id") from None
        except redis.RedisError:
            raise ApiProblem(503, "segment_store_unavailable", "the segment store did not answer; retry",
                             field="<redis>", headers={"Retry-After": "1"}) from None

    @router.get("", summary="List segments")
    def list_segments(key: ApiKey = reader) -> list[dict[str, Any]]:
        """Every segment of the workspace with its current size."""
        segments = store(key)
        found = answer(segments.list)
        sizes = answer(lambda: segments.sizes([s.id for s in found]))
        return [s.as_dict() | {"size": sizes[s.id]} for s in found]

    @router.get("/{segment_id}", summary="Show a segment")
    def show(segment_id: SegmentId, key: ApiKey = reader) -> dict[str, Any]:
        segments = store(key)
        return answer(lambda: segments.get(segment_id).as_dict() | {"size": segments.size(segment_id)})

    @router.put("/{segment_id}", summary="Create or replace a segment", openapi_extra=body_doc(SegmentBody))
    def save(segment_id: SegmentId, response: Response, key: ApiKey = editor,
             wanted: SegmentBody = Depends(body_of(SegmentBody, BODY_LIMIT))) -> dict[str, Any]:
        """A new or changed rule: every customer is re-evaluated by the workers (201 when new)."""
        segments = store(key)
        existed = answer(lambda: segments.exists(segment_id))
        found, marked = answer(lambda: segments.save(segment_id, wanted.rule, wanted.description, now_us(), replace=True))
        guard.record(key, "segment.save", segment_id, details={"rule": found.rule, "marked_due": marked})
        response.status_code = 200 if existed else 201
        return found.as_dict() | {"marked_due": marked}

    @router.delete("/{segment_id}", summary="Delete a segment")
    def delete(segment_id: SegmentId, key: ApiKey = editor) -> dict[str, Any]:
        """Its members leave it (each leave is published on ``<prefix>.segments``)."""
        found, marked = answer(lambda: store(key).delete(segment_id, now_us()))
        guard.record(key, "segment.delete", segment_id, details={"rule": found.rule, "marked_due": marked})
        return {"deleted": segment_id, "members_leaving": marked}

    @router.get("/{segment_id}/members", summary="A segment's members")
    def members(segment_id: SegmentId, limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
                identities: Annotated[bool, Query(description="each member with its identities (masked per role)")] = False,
                key: ApiKey = Depends(guard.require(*EDIT_ROLES))) -> dict[str, Any]:
        """Up to ``limit`` customer ids, sorted, with the segment's size (audited)."""
        segments = store(key)
        found: list[Any] = answer(lambda: segments.members(segment_id, limit))
        if identities:
            found = answer(lambda: with_identities(key, found))
        guard.record(key, "segment.members", segment_id, details={
            "returned": len(found), "identities": identities, "masked": identities and not sees_personal_data(key)})
        return {"segment_id": segment_id, "size": answer(lambda: segments.size(segment_id)), "members": found}

    return router
