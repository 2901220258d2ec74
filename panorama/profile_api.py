"""The profile read API: one customer's live profile, identities and recent events, served
from Redis for the calling key's workspace, every read audited.

Roles: support and admin see the profile as it is; marketing sees personal fields masked
unless its key holds the ``pii`` grant. A customer of another workspace is simply not in
the workspace's namespace, so the answer is 404, the same as for an id that never existed.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

import orjson
import redis
from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query
from redis import Redis

from panorama.blocking import InlineUnlessSlow
from panorama.errors import ContractError, ProfileNotFound
from panorama.security.auth import ApiProblem, bearer_secret, refusals
from panorama.security.guard import Guard, purpose
from panorama.security.keys import ApiKey
from panorama.security.masking import mask_explanation, mask_profile, sees_personal_data
from streams.identity.nodes import CUSTOMER_PREFIX
from streams.profiles.read import ProfileReader

READ_ROLES = ("support", "marketing", "admin")
MAX_ID, MAX_PURPOSE = 200, 200
REDIS_TIMEOUT = 0.5  # s: a read this slow answers 503 (and holds the loop at most this long)
CustomerId = Annotated[str, Path(max_length=MAX_ID, description="the customer id (as in profiles and `cdp profile get`)")]
Purpose = Annotated[str | None, Header(alias="X-Purpose", max_length=MAX_PURPOSE, description="why you read it (audited)")]


class Profiles:
    """Readers per workspace over one Redis connection pool."""

    def __init__(self, guard: Guard):
        self.guard = guard
        self._redis = Redis.from_url(guard.settings.redis_address, socket_timeout=REDIS_TIMEOUT)
        self._readers: dict[str, ProfileReader] = {}
        self._runner = InlineUnlessSlow()

    def reader(self, key: ApiKey) -> ProfileReader:
        reader = self._readers.get(key.workspace)
        if reader is None:
            reader = self._readers[key.workspace] = ProfileReader(self._redis, self.guard.workspace_settings(key))
        return reader

    async def answer(self, key: ApiKey, action: str, identity: str, why: str | None,
                     read: Callable[[ProfileReader, bytes | None], Any], mask: Callable[[Any], Any] | None = None,
                     *, audited_by_read: bool = False) -> Any:
        """Read (:class:`InlineUnlessSlow`), audit, then answer: an audit failure means no
        data leaves. ``read(reader, record)`` gets the encoded audit record when it writes
        it itself (``audited_by_read``: in the same Redis call as the read), else ``None``."""
        reader, reason = self.reader(key), purpose(why)
        masked = mask is not None and not sees_personal_data(key)
        record = self.guard.outbox_entry(key, action, reason, {"masked": masked}) if audited_by_read else None
        try:
            subject = reader.namer.parse(identity)
            result = await self._runner.run(lambda: read(reader, record))
        except ContractError as e:
            raise ApiProblem(400, e.code, e.problem, field="identity") from None
        except ValueError as e:  # the reader's own bounds, e.g. how many recent events it keeps
            raise ApiProblem(400, "out_of_range", str(e), field=str(e).partition(":")[0]) from None
        except ProfileNotFound:
            if record is None:
                await self.guard.record_async(key, action, subject, reason, "not_found")
            raise ApiProblem(404, "not_found", "no customer with this id or identity in your workspace",
                             field="customer_id") from None
        except redis.RedisError:
            raise ApiProblem(503, "profile_store_unavailable", "the profile store did not answer; retry",
                             field="<redis>", headers={"Retry-After": "1"}) from None
        if record is None:
            customer = result.get("customer_id", subject) if isinstance(result, dict) else subject
            await self.guard.record_async(key, action, customer, reason, details={"masked": masked})
        return mask(result) if masked else result

    async def read(self, key: ApiKey, identity: str, why: str | None) -> dict[str, Any]:
        """The profile of the customer ``identity`` belongs to, read and audited in one Redis
        call (:meth:`ProfileReader.read_audited`)."""
        outbox = self.guard.outbox.key
        return await self.answer(key, "profile.read", identity, why,
                                 lambda r, record: r.read_audited(identity, outbox, record), mask_profile,
                                 audited_by_read=True)

    async def profile(self, key: ApiKey, customer_id: str, why: str | None) -> dict[str, Any]:
        """``GET /v1/profiles/{customer_id}``'s answer, whichever path served the request."""
        return await self.read(key, CUSTOMER_PREFIX + customer_id, why)

    def close(self) -> None:
        self._redis.close()


def install_profile_api(app: FastAPI, guard: Guard) -> None:
    """The profile routes (declared in FastAPI, so documented and validated there) and the
    fast path for the hottest of them (:class:`FastProfileReads`)."""
    profiles = Profiles(guard)
    app.include_router(profile_router(profiles))
    app.add_middleware(FastProfileReads, profiles=profiles)


class FastProfileReads:
    """ASGI middleware answering ``GET /v1/profiles/{customer_id}``, the hot read, without
    FastAPI's router, dependency injection, validation and response encoding (about half
    of such a request's CPU went there). The same checks run in the same order: key, role
    (403 audited under the route template), the read, its audit. A request it does not
    take whole (another route, an id or ``X-Purpose`` over its length limit) goes on to
    the FastAPI route, so every refusal of invalid input stays the framework's."""

    def __init__(self, app: Any, profiles: Profiles):
        self.app, self.profiles = app, profiles

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        wanted = _hot_read(scope)
        if wanted is None:
            return await self.app(scope, receive, send)
        customer_id, authorization, why = wanted
        guard, client = self.profiles.guard, scope.get("client")
        try:
            key = await guard.auth.check(bearer_secret(authorization), client[0] if client else None)
            await guard.admit(key, READ_ROLES, PROFILE_ROUTE)
            status, body = 200, orjson.dumps(await self.profiles.profile(key, customer_id, why))
            headers: dict[str, str] = {}
        except ApiProblem as problem:
            status, body, headers = problem.status, orjson.dumps(problem.body()), problem.headers
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            *((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items())]})
        await send({"type": "http.response.body", "body": body})


PROFILE_ROUTE = "GET /v1/profiles/{customer_id}"
_PREFIX = "/v1/profiles/"


def _hot_read(scope: dict[str, Any]) -> tuple[str, str | None, str | None] | None:
    """(customer id, Authorization, X-Purpose) of a ``GET /v1/profiles/{customer_id}`` whose
    parameters are within their limits; ``None`` for anything else."""
    path = scope.get("path", "")
    if scope["type"] != "http" or scope["method"] != "GET" or not path.startswith(_PREFIX):
        return None
    customer_id = path[len(_PREFIX):]
    if not customer_id or "/" in customer_id or len(customer_id) > MAX_ID:
        return None
    authorization = why = None
    for name, value in scope["headers"]:  # the first of each, as Starlette's Headers.get
        if name == b"authorization" and authorization is None:
            authorization = value.decode("latin-1")
        elif name == b"x-purpose" and why is None:
            why = value.decode("latin-1")
    if why is not None and len(why) > MAX_PURPOSE:
        return None
    return customer_id, authorization, why


def profile_router(profiles: Profiles) -> APIRouter:
    guard = profiles.guard

    @asynccontextmanager
    async def lifespan(_app):
        try:
            yield
        finally:
            profiles.close()

    router = APIRouter(prefix="/v1/profiles", tags=["profiles"], lifespan=lifespan,
                       responses=refusals(400, 401, 403, 404, 422, 429, 503))
    reader_key = Depends(guard.require(*READ_ROLES))

    @router.get("", summary="Find a profile by identity")
    async def find(identity: Annotated[str, Query(max_length=320, description="email:…, phone:…, user_id:…, anonymous_id:…, "
                                            "device_id:…, external:<source>:…, customer:<id>")],
             why: Purpose = None, key: ApiKey = reader_key) -> dict[str, Any]:
        """The live profile of the customer this identity belongs to."""
        return await profiles.read(key, identity, why)

    @router.get("/{customer_id}", summary="Get a profile")
    async def get(customer_id: CustomerId, why: Purpose = None, key: ApiKey = reader_key) -> dict[str, Any]:
        """The live profile of a customer: identities, traits, counters, orders, consent."""
        return await profiles.profile(key, customer_id, why)

    @router.get("/{customer_id}/identity", summary="Explain a customer's identity")
    async def explain(customer_id: CustomerId, why: Purpose = None, key: ApiKey = reader_key) -> dict[str, Any]:
        """The customer's identities and every merge or refused link that shaped it."""
        identity = CUSTOMER_PREFIX + customer_id
        return await profiles.answer(key, "profile.identity", identity, why, lambda r, _: r.explain(identity), mask_explanation)

    @router.get("/{customer_id}/events", summary="A customer's recent events")
    async def events(customer_id: CustomerId, limit: Annotated[int, Query(ge=1, description="at most what the store keeps per identity")] = 20, why: Purpose = None,
               key: ApiKey = reader_key) -> dict[str, Any]:
        """The newest events (id, type, time, channel), newest first."""
        identity = CUSTOMER_PREFIX + customer_id
        found = await profiles.answer(key, "profile.events", identity, why, lambda r, _: r.recent_events(identity, limit))
        return {"customer_id": customer_id, "events": found}

    return router
