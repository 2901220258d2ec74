"""Who is calling: FastAPI dependencies that turn ``Authorization: Bearer <key>`` into the
caller's :class:`ApiKey`, or refuse the request with a JSON error naming the problem.

- 401: no key, a malformed header, an unknown, revoked or rotated-away key, or a write
  (ingest) key. Write keys are built into web pages and apps, so they are public by
  design: the read API does not treat them as credentials at all.
- 403: a valid key whose role may not call the endpoint (:meth:`Guard.require`, audited).
- 429 with ``Retry-After``: the key exceeded its rate (requests/s, a burst of one second),
  or one client address sent too many bad keys (guessing).

Lookups are cached for ``KEY_CACHE_TTL`` seconds, so a revoked key stops working within
that time on every API process.
"""

from __future__ import annotations

from typing import Any

import anyio
import orjson
import redis
from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from connectors.collector.rate_limit import TokenBuckets, retry_after_header
from panorama.security.errors import SecurityError
from panorama.security.keys import ApiKey, CachedKeys, KeyStore
from panorama.settings import Settings

KEY_CACHE_TTL = 5.0
BAD_KEYS_PER_SECOND = 5  # per client address: enough for typos, far too few to guess
bearer = HTTPBearer(auto_error=False, description="an API key: `cdp keys create --role ROLE --name NAME`")


class ApiProblem(SecurityError):
    """Refuse a request: ``status`` and ``{"success": false, "error": {code, field, problem}}``."""

    def __init__(self, status: int, code: str, problem: str, field: str = "Authorization",
                 headers: dict[str, str] | None = None):
        self.status, self.code, self.problem, self.field = status, code, problem, field
        self.headers = headers or {}
        super().__init__(f"{field}: {problem}")

    def body(self) -> dict[str, Any]:
        return {"success": False, "error": {"code": self.code, "field": self.field, "problem": self.problem}}


_WHY = {
    400: "malformed input; the error names the field",
    401: "no key, an unknown or revoked key, or a write key (`error.code` says which)",
    403: "the key's role may not do this",
    404: "no such customer or key in the key's workspace",
    409: "a revoked key cannot be rotated",
    413: "request body too large",
    422: "a parameter or body field is invalid or may not be set; the error names it",
    429: "the key exceeded its rate, or too many bad keys came from this address; retry after `Retry-After` seconds",
    503: "the key store, profile store or audit log did not answer; nothing was read unaudited, retry",
}


def refusals(*statuses: int, why: dict[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the refusals a route can answer (same body as the collector's);
    ``why`` replaces the usual description of a status where the route means something else."""
    from connectors.collector.openapi_schemas import Refused

    return {status: {"model": Refused, "description": (why or {}).get(status, _WHY[status])} for status in statuses}


def invalid_request(error: RequestValidationError) -> ApiProblem:
    """FastAPI's parameter validation failure as the platform's 422 (first problem named)."""
    first = error.errors()[0]
    field = ".".join(str(p) for p in first["loc"][1:]) or str(first["loc"][0])
    return ApiProblem(422, "invalid_field", first["msg"], field=field)


def unauthorised(code: str, problem: str) -> ApiProblem:
    return ApiProblem(401, code, problem, headers={"WWW-Authenticate": 'Bearer realm="panorama"'})


def bearer_secret(authorization: str | None) -> str | None:
    """The key in an ``Authorization: Bearer <key>`` header, as FastAPI's ``HTTPBearer``
    reads it (scheme case-insensitive); ``None`` when there is no such header."""
    scheme, _, secret = (authorization or "").partition(" ")
    secret = secret.strip()
    return secret if scheme.lower() == "bearer" and secret else None


class Authenticator:
    """The API process's key checks: one per app, started and stopped with it."""

    def __init__(self, settings: Settings):
        self.store = KeyStore(settings)
        self.keys = CachedKeys(self.store, ttl=KEY_CACHE_TTL)
        self.buckets = TokenBuckets()

    async def __call__(self, request: Request,
                       credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> ApiKey:
        return await self.check(credentials.credentials if credentials else None,
                                request.client.host if request.client else None)

    async def check(self, secret: str | None, client_host: str | None) -> ApiKey:
        """The key ``secret`` stands for (``None``: no usable bearer header), or an
        :class:`ApiProblem`; the routes that skip FastAPI's dependencies call it directly."""
        if not secret:
            raise unauthorised("missing_key", "send an API key as `Authorization: Bearer <key>`")
        hit, grant = self.keys.cached(secret)
        if not hit:
            try:
                grant = await anyio.to_thread.run_sync(self.keys.fetch, secret)
            except redis.RedisError:
                raise ApiProblem(503, "key_store_unavailable", "cannot check keys now; retry",
                                 headers={"Retry-After": "5"}) from None
        if grant is None or grant.revoked:
            self._count_bad_key(client_host)
            raise unauthorised("revoked_key" if grant else "unknown_key",
                               "this key was revoked" if grant else "no such key (mistyped, or rotated since)")
        if grant.role == "ingest":
            raise unauthorised("write_key_not_accepted", "write (ingest) keys only send events; use an API key")
        wait = self.buckets.take(grant.key_id, grant.rate_limit, 1)
        if wait:
            raise ApiProblem(429, "rate_limited", f"this key may make {grant.rate_limit:,} requests/s",
                             headers={"Retry-After": retry_after_header(wait)})
        return grant

    def _count_bad_key(self, client_host: str | None) -> None:
        address = f"address:{client_host or '?'}"
        wait = self.buckets.take(address, BAD_KEYS_PER_SECOND, 1)
        if wait:
            raise ApiProblem(429, "too_many_bad_keys", "too many unknown keys from this address",
                             headers={"Retry-After": retry_after_header(wait)})

    def close(self) -> None:
        self.store.close()


async def read_json(request: Request, limit: int) -> Any:
    """A JSON request body of at most ``limit`` bytes (413 past it, read no further)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiProblem(413, "body_too_large", f"request body exceeds {limit:,} bytes", field="<body>")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiProblem(413, "body_too_large", f"request body exceeds {limit:,} bytes", field="<body>")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise ApiProblem(400, "malformed", f"not JSON: {e}", field="<body>") from None
