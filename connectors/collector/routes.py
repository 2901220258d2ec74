"""HTTP routes of the collector: the Segment tracking API and provider webhooks.

Every answer is decided here: 200 ``{"success": true}`` once Kafka acknowledged every
event (accepted, or dead-lettered with its reason); a 4xx naming the problem for bad
input, a bad key or a rate limit; 503 when Kafka did not answer. A single message that
cannot be mapped is refused with 400; one bad item of a batch is dead-lettered and listed,
because Segment SDKs drop a whole batch on any 4xx.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl

import anyio
import orjson
import redis
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.requests import ClientDisconnect

from connectors import flat_xml, registry
from connectors.base import Connector
from connectors.collector import openapi_schemas as docs
from connectors.collector.body import BATCH_LIMIT, BATCH_MAX_EVENTS, EVENT_LIMIT, parse_json, read_body
from connectors.collector.delivery import AckingProducer, Item, Outcome
from connectors.collector.errors import BadRequest
from panorama.clock import now_us
from panorama.privacy.errors import PrivacyError
from connectors.collector.rate_limit import TokenBuckets, retry_after_header
from connectors.collector.segment import SEGMENT_TYPES, SegmentConnector
from connectors.collector.write_keys import CachedKeys, WriteKey, WriteKeyStore
from panorama.errors import ConnectorConfigError, ContractError, ProducerError, UnknownConnectorError
from panorama.settings import Settings
from schemas.validation import validate

KAFKA_RETRY_AFTER = "5"


class Collector:
    """The collector's state: the producers (one per workspace that sent events), the key
    cache, the rate limits and the connectors built per source. Started and stopped by the
    router's lifespan.

    A write key belongs to one workspace, and its events go to that workspace's topics
    (``<workspace>.interactions``), sealed under that workspace's data keys: the
    deployment's own producer serves the default workspace, others are made on first use.
    Keys of every workspace live in the deployment's key store."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.producer: AckingProducer | None = None  # the default workspace's
        self.keys: CachedKeys | None = None
        self.buckets = TokenBuckets()
        self._producers: dict[str, AckingProducer] = {}
        self._connectors: dict[tuple[str, str, str], Connector] = {}

    def start(self) -> None:
        self.producer = AckingProducer(self.settings)
        self._producers = {self.settings.topic_prefix: self.producer}
        self.keys = CachedKeys(WriteKeyStore(self.settings))

    def stop(self) -> None:
        """Flush and drop the producers (librdkafka keeps reconnecting while one lives)."""
        for producer in self._producers.values():
            producer.close()
        self._producers = {}
        self.producer = None

    def producer_for(self, grant: WriteKey) -> AckingProducer:
        """The producer writing to the topics of ``grant``'s workspace (made on first use)."""
        producer = self._producers.get(grant.workspace)
        if producer is None:
            workspace = self.settings.model_copy(update={"topic_prefix": grant.workspace})
            producer = self._producers[grant.workspace] = AckingProducer(workspace)
        return producer

    # -- steps shared by every route ------------------------------------------------

    async def authorise(self, request: Request, body_key: Any = None) -> WriteKey:
        key = basic_auth_user(request.headers.get("authorization")) or body_key or request.query_params.get("writeKey")
        if not isinstance(key, str) or not key:
            raise BadRequest("missing_write_key", "Authorization",
                             "send the write key as the HTTP Basic user name (or a writeKey field)", status=401,
                             headers={"WWW-Authenticate": 'Basic realm="panorama"'})
        hit, grant = self.keys.cached(key)
        if not hit:
            try:
                grant = await anyio.to_thread.run_sync(self.keys.fetch, key)
            except redis.RedisError as e:
                raise BadRequest("key_store_unavailable", "Authorization", f"cannot check the write key now: {e}",
                                 status=503, headers={"Retry-After": KAFKA_RETRY_AFTER}) from None
        if grant is None or grant.role != "ingest":
            raise BadRequest("invalid_write_key", "Authorization", "unknown write key, or not an ingest key", status=401,
                             headers={"WWW-Authenticate": 'Basic realm="panorama"'})
        return grant

    def throttle(self, grant: WriteKey, events: int) -> None:
        wait = self.buckets.take(f"{grant.workspace}/{grant.name}", grant.rate_limit, events)
        if wait:
            raise BadRequest("rate_limited", "<source>", f"source {grant.name!r} exceeds {grant.rate_limit:,} events/s",
                             status=429, headers={"Retry-After": retry_after_header(wait)})

    def connector(self, grant: WriteKey, cls: type[Connector]) -> Connector:
        """The connector ``cls`` configured for the source of ``grant`` (built once)."""
        cache_key = (grant.workspace, grant.name, cls.name)
        connector = self._connectors.get(cache_key)
        if connector is None:
            config = grant.connector_config.get(cls.name, {})
            if cls is SegmentConnector:
                config = {"source": grant.name} | config
            try:
                connector = cls(config)
            except ConnectorConfigError as e:
                raise BadRequest("connector_not_configured", e.field,
                                 f"source {grant.name!r} has no valid settings for {cls.name}: {e.problem}", status=403) from None
            self._connectors[cache_key] = connector
        return connector

    async def deliver(self, items: list[Item], grant: WriteKey) -> Outcome:
        try:
            return await self.producer_for(grant).deliver(items, grant.name)
        except (PrivacyError, redis.RedisError) as e:  # sealing needs the key store, also after the prefetch
            raise BadRequest("key_store_unavailable", "<redis>", f"personal fields cannot be sealed, retry: {e}",
                             status=503, headers={"Retry-After": KAFKA_RETRY_AFTER}) from None
        except ProducerError as e:
            raise BadRequest("kafka_unavailable", "<kafka>", f"events not acknowledged, retry: {e}", status=503,
                             headers={"Retry-After": KAFKA_RETRY_AFTER}) from None

    # -- the routes' work -------------------------------------------------------------

    async def single(self, kind: str, request: Request) -> dict[str, Any]:
        body = await read_request(request, EVENT_LIMIT)
        message = parse_json(body)
        if not isinstance(message, dict):
            raise BadRequest("malformed", "<body>", f"must be a JSON object, got {type(message).__name__}")
        grant = await self.authorise(request, message.get("writeKey"))
        self.throttle(grant, 1)
        message = message | {"type": kind}
        try:
            [record] = self.connector(grant, SegmentConnector).to_events(message, now_us())
            validate(record)
        except ContractError as e:
            raise BadRequest(e.code, e.field, e.problem) from None
        await self.deliver([Item(0, message, record)], grant)
        return {"success": True}

    async def batch(self, request: Request) -> dict[str, Any]:
        body = await read_request(request, BATCH_LIMIT)
        document = parse_json(body)
        if not isinstance(document, dict) or not isinstance(document.get("batch"), list):
            raise BadRequest("malformed", "batch", "the body must be an object with a `batch` array")
        messages = document["batch"]
        if len(messages) > BATCH_MAX_EVENTS:
            raise BadRequest("batch_too_large", "batch", f"{len(messages):,} messages; at most {BATCH_MAX_EVENTS:,} per batch")
        grant = await self.authorise(request, document.get("writeKey"))
        self.throttle(grant, len(messages))
        shared_context = document.get("context")
        sent_at = document.get("sentAt")  # SDKs stamp the batch, not each message
        check_sizes = len(body) > EVENT_LIMIT  # no item of a smaller body can be over the limit
        connector = self.connector(grant, SegmentConnector)
        received_at = now_us()
        items = []
        for index, message in enumerate(messages):
            try:
                if isinstance(message, dict):
                    if isinstance(shared_context, dict):
                        own = message.get("context")
                        message = message | {"context": shared_context | own if isinstance(own, dict) else shared_context}
                    if sent_at is not None and "sentAt" not in message:
                        message = message | {"sentAt": sent_at}
                if check_sizes and len(orjson.dumps(message)) > EVENT_LIMIT:
                    raise ContractError(f"batch[{index}]", f"message exceeds {EVENT_LIMIT:,} bytes", "event_too_large")
                [record] = connector.to_events(message, received_at)
                items.append(Item(index, message, record))
            except ContractError as e:
                items.append(Item(index, message, None, e))
        return accepted(await self.deliver(items, grant))

    async def webhook(self, name: str, request: Request) -> dict[str, Any]:
        cls = webhook_connector(name)
        body = await read_request(request, BATCH_LIMIT)
        grant = await self.authorise(request)
        connector = self.connector(grant, cls)
        try:
            connector.verify(request.query_params, request.headers, body, url=str(request.url))
            body = connector.unwrap(request.query_params, body)
        except ContractError as e:
            raise refused(e) from None
        try:
            units = connector.split(decode(cls.input_format, body))
        except ContractError as e:
            raise BadRequest(e.code, e.field, e.problem) from None
        self.throttle(grant, max(1, len(units)))
        received_at = now_us()
        items: list[Item] = []
        for index, unit in enumerate(units):
            try:
                items.extend(Item(index, unit, record) for record in connector.to_events(unit, received_at))
            except ContractError as e:
                if len(units) == 1:
                    raise BadRequest(e.code, e.field, e.problem) from None
                items.append(Item(index, unit, None, e))
        return accepted(await self.deliver(items, grant))

    async def webhook_handshake(self, name: str, request: Request) -> str:
        cls = webhook_connector(name)
        connector = self.connector(await self.authorise(request), cls)
        try:
            connector.verify(request.query_params, request.headers, b"", url=str(request.url))
            answer = connector.handshake(request.query_params)
        except ContractError as e:
            raise refused(e) from None
        if answer is None:
            raise BadRequest("no_handshake", "<method>", f"{name} webhooks take POST only", status=405)
        return answer


async def read_request(request: Request, limit: int) -> bytes:
    try:
        return await read_body(request.stream(), request.headers.get("content-encoding"), limit)
    except ClientDisconnect:
        raise BadRequest("client_disconnected", "<body>", "the client went away before sending the whole body") from None


def basic_auth_user(header: str | None) -> str | None:
    """The user name of an HTTP Basic ``Authorization`` header (the write key)."""
    if not header or not header[:6].lower() == "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[0] or None


def webhook_connector(name: str) -> type[Connector]:
    try:
        cls = registry.get(name)
    except UnknownConnectorError as e:
        raise BadRequest("unknown_connector", "connector", str(e), status=404) from None
    if cls.input_format == "row" or cls is SegmentConnector:
        raise BadRequest("unknown_connector", "connector", f"{name} is not a webhook connector", status=404)
    return cls


def refused(e: ContractError) -> BadRequest:
    """A request whose signature or envelope a connector refused: 401 for a signature that
    does not match, 400 for anything else (a body that does not decrypt, a missing field)."""
    return BadRequest(e.code, e.field, e.problem, status=401 if e.code == "bad_signature" else 400)


def decode(input_format: str, body: bytes) -> Any:
    """A webhook body as the connector's ``to_events`` expects it."""
    if input_format == "json":
        return parse_json(body)
    if input_format == "xml":
        try:
            return flat_xml.parse(body)
        except ContractError as e:
            raise BadRequest(e.code, e.field, e.problem) from None
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise BadRequest("malformed", "<body>", "body is not UTF-8") from None
    return dict(parse_qsl(text, keep_blank_values=True))


def accepted(outcome: Outcome) -> dict[str, Any]:
    body: dict[str, Any] = {"success": True}
    if outcome.dead_lettered:
        body["dead_lettered"] = [{"index": i, "code": e.code, "field": e.field, "problem": e.problem}
                                 for i, e in outcome.dead_lettered]
    return body


def answering(handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Response]]:
    """Turn a handler's result into JSON and its BadRequest into the 4xx/503 answer."""

    @functools.wraps(handler)
    async def wrapper(*args: Any, **kwargs: Any) -> Response:
        try:
            result = await handler(*args, **kwargs)
        except BadRequest as e:
            return JSONResponse(e.body(), status_code=e.status, headers=e.headers)
        if isinstance(result, str):
            return PlainTextResponse(result)
        return JSONResponse(result)

    return wrapper


def collector_router(settings: Settings) -> APIRouter:
    collector = Collector(settings)

    @asynccontextmanager
    async def lifespan(_app):
        collector.start()
        try:
            yield
        finally:
            collector.stop()

    router = APIRouter(prefix="/v1", tags=["collector"], lifespan=lifespan)
    common = {"response_model": docs.Accepted, "responses": docs.ERROR_RESPONSES}

    def add_single(kind: str) -> None:
        @answering
        async def handler(request: Request):
            return await collector.single(kind, request)

        handler.__doc__ = f"Segment `{kind}` call: 200 once Kafka acknowledged the event."
        router.add_api_route(f"/{kind}", handler, methods=["POST"], name=f"segment_{kind}", summary=f"Segment {kind}",
                             openapi_extra=docs.request_body(docs.message_schema(kind)), **common)

    for kind in SEGMENT_TYPES:
        add_single(kind)

    @router.post("/batch", summary="Segment batch", openapi_extra=docs.request_body(docs.batch_schema()), **common)
    @answering
    async def batch(request: Request):
        """Up to 2,500 messages; bad items are dead-lettered with their reason and listed."""
        return await collector.batch(request)

    @router.post("/webhooks/{connector}", summary="Provider webhook",
                 openapi_extra=docs.request_body({"type": "object"}), **common)
    @answering
    async def webhook(connector: str, request: Request):
        """A provider's push, mapped by the connector of that name (`cdp connectors list`).
        Authenticate with Basic auth or `?writeKey=`; body as the provider sends it."""
        return await collector.webhook(connector, request)

    @router.get("/webhooks/{connector}", summary="Provider URL verification", response_class=PlainTextResponse,
                responses=docs.JSON_ERROR_RESPONSES)
    @answering
    async def webhook_handshake(connector: str, request: Request):
        """Answer a provider's GET verification of the webhook URL (WeChat's `echostr`)."""
        return await collector.webhook_handshake(connector, request)

    return router
