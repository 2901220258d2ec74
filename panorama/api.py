"""The platform's HTTP API (port 8080 by default): the collector (write keys), the profile
read API, segments, read-only SQL for analysts, key management and the audit log (API keys
with roles), health and metrics.

Nothing but ``/health`` answers without a key, even on the local stack: see
``panorama.security`` for the roles and ``docs/openapi.json`` for every route.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from connectors.collector import collector_router
from panorama import __version__
from panorama.gc_pauses import quiet_full_collections
from panorama.profile_api import install_profile_api
from panorama.segments_api import segments_router
from panorama.sql_api import sql_router
from panorama.security.auth import ApiProblem, invalid_request, refusals
from panorama.security.guard import Guard
from panorama.security.routes import security_router
from panorama.settings import Settings
from panorama.stack.kafka import kafka_answers
from panorama.stack.redis import redis_answers


def create_app(settings: Settings, forward_audit: bool = True) -> FastAPI:
    """The app; ``forward_audit=False`` when another process of the same API forwards the
    audit outbox (the supervisor of ``cdp serve --workers N``)."""
    guard = Guard(settings, forward_audit)

    @asynccontextmanager
    async def lifespan(_app):
        guard.start()
        quiet_full_collections()  # ~100 ms stalls of every read in flight otherwise
        try:
            yield
        finally:
            guard.stop()

    app = FastAPI(title="Panorama CDP", version=__version__, lifespan=lifespan)
    app.include_router(collector_router(settings))
    install_profile_api(app, guard)
    app.include_router(segments_router(guard))
    app.include_router(sql_router(guard))
    app.include_router(security_router(guard))

    @app.exception_handler(ApiProblem)
    async def refused(_request: Request, problem: ApiProblem) -> JSONResponse:
        return JSONResponse(problem.body(), status_code=problem.status, headers=problem.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        return await refused(request, invalid_request(error))

    @app.get("/health", tags=["operations"])
    def health() -> JSONResponse:
        """200 when Kafka and Redis answer, 503 (with which part failed) otherwise; no key
        needed (load balancers probe it) and nothing in it is private."""
        parts = {
            "kafka": kafka_answers(settings, timeout=1.0),
            "redis": redis_answers(settings.redis_address),
        }
        ok = all(parts.values())
        body = {"status": "ok" if ok else "degraded", "version": __version__, "parts": parts}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["operations"], responses=refusals(401, 403, 429, 503), dependencies=[Depends(guard.require("admin", "auditor"))])
    def metrics() -> Response:
        """Prometheus metrics; scrape with an admin or auditor key (`authorization` in the scrape config)."""
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


def serve(settings: Settings) -> None:
    """Run the API in the foreground, the way production runs it. No access log: it would
    write every query string (``?identity=email:…``, personal data) and costs CPU per request."""
    import uvicorn

    uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port, log_level="info", access_log=False)
