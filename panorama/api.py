"""The platform's HTTP API (port 8080 by default): health and metrics today; the
collector, profile and segment endpoints mount here as they arrive."""

from __future__ import annotations

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from connectors.collector import collector_router
from panorama import __version__
from panorama.settings import Settings
from panorama.stack.kafka import kafka_answers
from panorama.stack.redis import redis_answers


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(title="Panorama CDP", version=__version__)
    app.include_router(collector_router(settings))

    @app.get("/health", tags=["operations"])
    def health() -> JSONResponse:
        """200 when Kafka and Redis answer, 503 (with which part failed) otherwise."""
        parts = {
            "kafka": kafka_answers(settings.kafka_address, timeout=1.0),
            "redis": redis_answers(settings.redis_address),
        }
        ok = all(parts.values())
        body = {"status": "ok" if ok else "degraded", "version": __version__, "parts": parts}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["operations"])
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


def serve(settings: Settings) -> None:
    """Run the API in the foreground, the way production runs it."""
    import uvicorn

    uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port, log_level="info")
