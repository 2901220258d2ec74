"""The profile read API at a fixed offered load: latency of an authenticated, audited read
(key check, Redis read, audit event acknowledged by Kafka) beside the same server
answering an authenticated request that neither reads a profile nor audits (`/v1/keys/me`),
and beside writing one audit event alone.

`python -m bench.api_bench [--rate 300] [--seconds 5]` runs it on a private stack.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
from redis import Redis

from bench.collector_bench import start_collector, wait_up
from bench.report import Figure, print_figures
from connectors.collector.write_keys import WriteKeyStore
from panorama.errors import ProfileNotFound
from panorama.security.audit import AuditLog
from panorama.security.keys import KeyStore
from panorama.settings import Settings
from panorama.stack.ephemeral import free_port
from panorama.stack.topics import ensure_topics
from streams.profiles.read import ProfileReader
from streams.worker import ProfileWorker


def _one_profile(settings: Settings, url: str) -> str:
    """Post one identify through the collector, fold it with a worker; the customer id."""
    store = WriteKeyStore(settings)
    write_key = store.create("bench")
    store.close()
    httpx.post(url + "/v1/identify", json={"userId": "bench-user", "traits": {"firstName": "Bench"}},
               auth=(write_key, ""), timeout=30).raise_for_status()
    reader = ProfileReader(Redis.from_url(settings.redis_address), settings)
    stop = threading.Event()
    worker = threading.Thread(target=lambda: ProfileWorker(settings).run(should_stop=stop.is_set), daemon=True)
    worker.start()
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                return reader.read("user_id:bench-user")["customer_id"]
            except ProfileNotFound:
                if time.monotonic() > deadline:
                    raise RuntimeError("the worker did not build the profile within 60 s") from None
                time.sleep(0.2)
    finally:
        stop.set()
        worker.join(30)


async def _open_loop(url: str, path: str, key: str, rate: int, seconds: float) -> list[float]:
    """Latencies (µs) of requests sent at ``rate``/s on a fixed schedule, whatever the answers' pace."""
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30,
                                 limits=httpx.Limits(max_connections=64)) as client:
        async def one() -> None:
            started = time.perf_counter()
            answer = await client.get(path)
            answer.raise_for_status()
            latencies.append((time.perf_counter() - started) * 1e6)

        await client.get(path)  # warm the key cache and the connection pool
        tasks, start = [], time.perf_counter()
        for n in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    return latencies


def _p(latencies: list[float], q: int) -> float:
    return statistics.quantiles(latencies, n=100)[q - 1]


def _audit_alone(settings: Settings, count: int = 300) -> list[float]:
    latencies = []
    with AuditLog(settings) as log:
        for n in range(count):
            started = time.perf_counter()
            log.record("key:bench", "profile.read", f"user_id:{n:032x}", role="support")
            latencies.append((time.perf_counter() - started) * 1e6)
    return latencies


def run(settings: Settings, rate: int = 300, seconds: float = 5.0) -> list[Figure]:
    settings = settings.model_copy(update={"topic_prefix": f"bench{uuid.uuid4().hex[:8]}"})
    ensure_topics(settings)
    port = free_port()
    process = start_collector(settings, port)
    url = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(wait_up(url, process))
        customer = _one_profile(settings, url)
        store = KeyStore(settings)
        key, _ = store.create("bench", "support", rate_limit=rate * 10)
        store.close()
        reads = asyncio.run(_open_loop(url, f"/v1/profiles/{customer}", key, rate, seconds))
        bare = asyncio.run(_open_loop(url, "/v1/keys/me", key, rate, seconds))
    finally:
        process.terminate()
        process.wait(30)
    audit = _audit_alone(settings)
    note = f"{rate} req/s offered for {seconds:g} s, one API process"
    return [
        Figure("profile read p50 (key, Redis, audit acked)", _p(reads, 50), "µs", "authenticated /v1/keys/me p50", _p(bare, 50), note),
        Figure("profile read p99", _p(reads, 99), "µs", "authenticated /v1/keys/me p99", _p(bare, 99), note),
        Figure("audit event acknowledged (acks=all), p50", _p(audit, 50), "µs", note="sequential, one at a time"),
        Figure("audit event acknowledged (acks=all), p99", _p(audit, 99), "µs", note="sequential, one at a time"),
    ]


def main() -> None:
    from panorama.stack.ephemeral import ephemeral_stack

    parser = argparse.ArgumentParser(prog="python -m bench.api_bench")
    parser.add_argument("--rate", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cdp-bench-") as tmp, ephemeral_stack(Path(tmp)) as settings:
        print_figures("profile API", run(settings, args.rate, args.seconds))


if __name__ == "__main__":
    main()
