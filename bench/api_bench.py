"""The profile read API at a fixed offered load: latency of an authenticated, audited read
(key check, one Redis call reading the profile and appending its audit record to the
outbox) beside the same server answering an authenticated request that neither reads a
profile nor audits (`/v1/keys/me`), and beside writing one audit event to Kafka alone.
Also how late the load generator itself sent (its own stalls would show as the server's
tail) and how soon the forwarder had the reads' audit records on the topic.

`python -m bench.api_bench [--rate 300] [--seconds 5]` runs it on a private stack.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
from redis import Redis

from bench.collector_bench import WORKERS, start_collector, wait_up
from bench.report import Figure, print_figures
from connectors.collector.write_keys import WriteKeyStore
from panorama.errors import ProfileNotFound
from panorama.security.audit import AuditLog
from panorama.security.audit_outbox import outbox_key
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


async def _exchange(connection: tuple[asyncio.StreamReader, asyncio.StreamWriter], request: bytes) -> int:
    """Send one keep-alive HTTP/1.1 request, read its whole answer; the status."""
    reader, writer = connection
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status, length = int(head[9:12]), 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status


async def _open_loop(port: int, path: str, key: str, rate: int, seconds: float) -> tuple[list[float], list[float]]:
    """(latencies, send lags) in µs of GETs scheduled at ``rate``/s, each timed from when it
    was due to be sent (so a slow answer delays no later request and a stall is not hidden:
    open loop); the lag is how late the generator wrote it.
    Raw keep-alive HTTP/1.1 on a pool of connections, a new one whenever none is idle: an
    HTTP client library costs more CPU per request than the server's answer."""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n\r\n".encode()
    idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(16)]
    latencies: list[float] = []
    lags: list[float] = []
    failures: list[int] = []

    async def one(due: float) -> None:
        connection = idle.pop() if idle else await asyncio.open_connection("127.0.0.1", port)
        lags.append((time.perf_counter() - due) * 1e6)
        try:
            status = await _exchange(connection, request)
        except (asyncio.IncompleteReadError, ConnectionResetError):
            # the server closed it after 5 s idle (uvicorn's keep-alive timeout): a pool that
            # grew while the server was behind holds such connections; retry once on a new one
            connection[1].close()
            connection = await asyncio.open_connection("127.0.0.1", port)
            status = await _exchange(connection, request)
        latencies.append((time.perf_counter() - due) * 1e6)
        idle.append(connection)
        if status != 200:
            failures.append(status)

    for _ in range(50):  # warm the key cache and every connection
        await one(time.perf_counter())
    latencies.clear()
    lags.clear()
    tasks, start = [], time.perf_counter()
    for n in range(int(rate * seconds)):
        due = start + n / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    for _reader, writer in idle:
        writer.close()
    if failures:
        raise RuntimeError(f"{len(failures)} requests to {path} failed, e.g. HTTP {failures[0]}")
    return latencies, lags


def _load(port: int, path: str, key: str, rate: int, seconds: float, out) -> None:
    """Child process: the load generator, so it never competes with the bench's own loop."""
    out.put(asyncio.run(_open_loop(port, path, key, rate, seconds)))


def _offer(port: int, path: str, key: str, rate: int, seconds: float) -> tuple[list[float], list[float]]:
    spawn = multiprocessing.get_context("spawn")
    out = spawn.Queue()
    child = spawn.Process(target=_load, args=(port, path, key, rate, seconds, out))
    child.start()
    try:
        return out.get(timeout=seconds + 120)
    finally:
        child.join(30)


def _cpu_seconds(root: int) -> float:
    """CPU seconds (user + system) used so far by process ``root`` and its descendants (the
    uvicorn supervisor and its workers). Linux /proc; a figure that other processes on a
    shared machine disturb far less than latency."""
    parents, used = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        pid = int(stat.parent.name)
        parents[pid], used[pid] = int(fields[1]), int(fields[11]) + int(fields[12])
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier += children
    return sum(used.get(pid, 0) for pid in tree) / os.sysconf("SC_CLK_TCK")


def _measured(process: subprocess.Popen, port: int, path: str, key: str, rate: int,
              seconds: float) -> tuple[list[float], list[float], float]:
    """(latencies µs, generator lags µs, server CPU µs per request) of ``path`` under the offered load."""
    before = _cpu_seconds(process.pid)
    latencies, lags = _offer(port, path, key, rate, seconds)
    return latencies, lags, (_cpu_seconds(process.pid) - before) / len(latencies) * 1e6


def _outbox_drained(settings: Settings, within: float = 30.0) -> float:
    """Seconds until the audit outbox is empty (every read's record on the topic)."""
    redis, started = Redis.from_url(settings.redis_address), time.perf_counter()
    try:
        while redis.xlen(outbox_key(settings)) and time.perf_counter() - started < within:
            time.sleep(0.001)
        return time.perf_counter() - started
    finally:
        redis.close()


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
        at_rest = _cpu_seconds(process.pid)
        time.sleep(2.0)
        at_rest = (_cpu_seconds(process.pid) - at_rest) / 2.0 / rate * 1e6
        reads, lags, reads_cpu = _measured(process, port, f"/v1/profiles/{customer}", key, rate, seconds)
        drained = _outbox_drained(settings)
        bare, bare_lags, bare_cpu = _measured(process, port, "/v1/keys/me", key, rate, seconds)
    finally:
        process.terminate()
        process.wait(30)
    audit = _audit_alone(settings)
    note = f"{rate} req/s offered for {seconds:g} s (open loop), {WORKERS} API processes"
    return [
        Figure("profile read p50 (key, Redis read + audit record)", _p(reads, 50), "µs", "authenticated /v1/keys/me p50", _p(bare, 50), note),
        Figure("profile read p99", _p(reads, 99), "µs", "authenticated /v1/keys/me p99", _p(bare, 99), note),
        Figure("profile read: server CPU per request", reads_cpu, "µs", "authenticated /v1/keys/me", bare_cpu,
               f"{note}; all API processes, warm-up requests included"),
        Figure("load generator send lag p99 (reads)", _p(lags, 99), "µs", "same, /v1/keys/me", _p(bare_lags, 99),
               "how late the generator wrote a request after its due time; part of every latency above"),
        Figure("audit outbox empty after the last read", drained * 1e6, "µs", note="every read's record on the topic"),
        Figure("of which API processes at rest (idle CPU / rate)", at_rest, "µs", note="supervisor, pollers, timers; "
               "measured over 2 s with no requests"),
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
