"""Collector throughput and latency: Segment batches of 100 events over HTTP into Kafka.

The collector runs as its own process (uvicorn, as `cdp serve` runs it) so the load
generator does not share its interpreter. Figures: events/s through /v1/batch with a
closed loop of concurrent clients; p50/p99 request latency at a fixed offered load
(open loop: requests start on schedule whether or not earlier ones finished); and the
producer's own rate on the same events, in-process, as the baseline.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import subprocess
import sys
import time
import uuid

import httpx
import orjson

from bench.report import Figure, rate
from connectors.collector.write_keys import WriteKeyStore
from panorama.clock import now_us
from panorama.settings import Settings
from panorama.stack.ephemeral import free_port
from producers import InteractionProducer
from connectors.collector.segment import SegmentConnector

BATCH = 100
_CONTENT_LENGTH = re.compile(rb"(?i)\r\ncontent-length: *(\d+)")
CONCURRENCY = 8
THROUGHPUT_SECONDS = 10.0
LATENCY_SECONDS = 10.0
WORKERS = 2  # collector processes, as `cdp serve --workers 2` runs them (one per core)
OFFERED_LOADS = (15_000, 5_000)  # ev/s: half the 30,000 ev/s target, and a light load for the latency floor


def batch_body(n: int) -> bytes:
    return orjson.dumps({"batch": [
        {"type": "track", "userId": f"user-{(n * BATCH + i) % 5000}", "event": "Product Viewed",
         "properties": {"sku": f"SKU-{i}", "price": 19.9}, "context": {"ip": "10.0.0.1", "userAgent": "bench"}}
        for i in range(BATCH)]})


def start_collector(settings: Settings, port: int, workers: int = WORKERS) -> subprocess.Popen:
    env = os.environ | {"CDP_KAFKA_BOOTSTRAP": settings.kafka_address, "CDP_REDIS_URL": settings.redis_address,
                        "CDP_TOPIC_PREFIX": settings.topic_prefix, "CDP_API_PORT": str(port)}
    code = ("from connectors.collector.workers import serve; from panorama.settings import load_settings; "
            f"serve(load_settings(), workers={workers}, log_level='warning')")
    return subprocess.Popen([sys.executable, "-c", code], env=env)


async def wait_up(url: str, process: subprocess.Popen) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            if process.poll() is not None:
                raise RuntimeError("the collector process exited")
            try:
                await client.get(url + "/metrics")
                return
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise RuntimeError("the collector did not start")


class BatchPoster:
    """Keep-alive HTTP/1.1 connections posting pre-encoded ``/v1/batch`` requests.

    The load generator shares the 2 cores with the collector: httpx spent ~1.2 ms of CPU
    per 100-event request (a third of a core at 30,000 ev/s); writing prepared bytes and
    reading the status line and Content-Length costs a fraction of that. A connection idle
    for 2 s is dropped before uvicorn's 5 s keep-alive closes it under us."""

    IDLE_S = 2.0

    def __init__(self, port: int, key: str, bodies: list[bytes]):
        auth = base64.b64encode(f"{key}:".encode()).decode()
        self.port = port
        self.requests = [(f"POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Basic {auth}\r\n"
                          f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
                         for body in bodies]
        self._idle: list[tuple[float, asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(self, n: int) -> None:
        """Send request ``n`` (modulo the bodies); raise unless the answer is 200."""
        now = time.monotonic()
        while self._idle and now - self._idle[-1][0] > self.IDLE_S:
            self._idle.pop()[2].close()
        reader, writer = self._idle.pop()[1:] if self._idle else await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(self.requests[n % len(self.requests)])
        head = await reader.readuntil(b"\r\n\r\n")
        body = await reader.readexactly(int(_CONTENT_LENGTH.search(head)[1]))
        if head[9:12] != b"200":
            raise RuntimeError(f"collector answered {head[9:12].decode()}: {body[:200]!r}")
        self._idle.append((time.monotonic(), reader, writer))

    def close(self) -> None:
        for _, _, writer in self._idle:
            writer.close()
        self._idle.clear()


async def closed_loop(client: BatchPoster, distinct: int) -> float:
    """Events per second with CONCURRENCY clients posting back to back (the first
    ``distinct`` bodies in turn)."""
    done = 0
    deadline = time.perf_counter() + THROUGHPUT_SECONDS

    async def worker(w: int) -> None:
        nonlocal done
        n = w
        while time.perf_counter() < deadline:
            await client.post(n % distinct)
            done += BATCH
            n += CONCURRENCY

    started = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(CONCURRENCY)))
    return done / (time.perf_counter() - started)


async def open_loop(client: BatchPoster, events_per_s: float) -> tuple[float, float, float]:
    """(p50 ms, p99 ms, achieved ev/s) with requests started on a fixed schedule."""
    interval = BATCH / events_per_s
    latencies: list[float] = []

    async def one(n: int) -> None:
        started = time.perf_counter()
        await client.post(n)
        latencies.append(time.perf_counter() - started)

    tasks = []
    begin = time.perf_counter()
    for n in range(int(LATENCY_SECONDS / interval)):
        await asyncio.sleep(max(0.0, begin + n * interval - time.perf_counter()))
        tasks.append(asyncio.create_task(one(n)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - begin
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    return pick(0.50), pick(0.99), len(latencies) * BATCH / elapsed


def producer_rate(settings: Settings, events: int = 200_000) -> float:
    """The producer alone on the same events (mapped once, outside the timing)."""
    connector = SegmentConnector()
    messages = orjson.loads(batch_body(0))["batch"]
    records = [connector.to_events(m | {"type": "track"}, now_us())[0] for m in messages]

    def send_all() -> None:
        with InteractionProducer(settings) as producer:
            for i in range(events):
                producer.send(records[i % BATCH] | {"event_id": str(uuid.uuid4())})

    return rate(events, send_all)



def run(settings: Settings) -> list[Figure]:
    port = free_port()
    store = WriteKeyStore(settings)
    key = store.create("bench", rate_limit=10_000_000)
    store.close()
    bodies = [batch_body(n) for n in range(50)]
    url = f"http://127.0.0.1:{port}"
    process = start_collector(settings, port)
    try:
        async def measure():
            await wait_up(url, process)
            client = BatchPoster(port, key, bodies)
            try:
                await closed_loop(client, 5)  # warm-up
                throughput = await closed_loop(client, len(bodies))
                latencies = [(load, *await open_loop(client, load)) for load in OFFERED_LOADS]
            finally:
                client.close()
            return throughput, latencies

        throughput, latencies = asyncio.run(measure())
    finally:
        process.terminate()
        process.wait(30)
    baseline = producer_rate(settings)
    figures = [Figure("collector /v1/batch to Kafka acks", throughput, "ev/s", "producer alone, same events", baseline,
                      f"{BATCH}-event batches, {CONCURRENCY} clients, {WORKERS} collector processes; target >= 30,000")]
    for load, p50, p99, achieved in latencies:
        figures += [Figure(f"collector p50 latency at {load:,} ev/s offered", p50, "ms", "", None, f"achieved {achieved:,.0f} ev/s"),
                    Figure(f"collector p99 latency at {load:,} ev/s offered", p99, "ms", "", None, "target < 50 ms at 15,000")]
    return figures
