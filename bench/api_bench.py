"""The profile read API at a fixed offered load: latency of an authenticated, audited read
(key check, one Redis call reading the profile and appending its audit record to the
outbox) beside the same server answering an authenticated request that neither reads a
profile nor audits (`/v1/keys/me`), and beside writing one audit event to Kafka alone.
Also the rate achieved, how late the load generator itself sent (its own stalls would
show as the server's tail), its CPU per request, and how soon the forwarder had the reads'
audit records on the topic.

The load comes from wrk (:mod:`bench.wrk_load`) when it is installed (`make bench` installs
it), else from the Python open-loop generator below, and the output says which.

`python -m bench.api_bench [--rate 300] [--seconds 5] [--workers 2] [--generator wrk|python]`
runs it on a private stack.
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
from bench.report import Figure, console, print_figures
from bench.wrk_load import Offered, offer_wrk, wrk_installed
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


async def _open_loop(port: int, path: str, key: str, rate: int, seconds: float) -> Offered:
    """GETs scheduled at ``rate``/s, each timed from when it was due to be sent (so a slow
    answer delays no later request and a stall is not hidden: open loop), with how late the
    generator wrote it. Raw keep-alive HTTP/1.1 on a pool of connections, a new one whenever
    none is idle: an HTTP client library costs more CPU per request than the server's answer."""
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
    tasks, start, cpu = [], time.perf_counter(), time.process_time()
    for n in range(int(rate * seconds)):
        due = start + n / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    for _reader, writer in idle:
        writer.close()
    if failures:
        raise RuntimeError(f"{len(failures)} requests to {path} failed, e.g. HTTP {failures[0]}")
    return Offered("Python asyncio, open loop", len(latencies), elapsed, _p(latencies, 50), _p(latencies, 99),
                   _p(latencies, 99.9), _p(lags, 99), max(lags), cpu / len(latencies) * 1e6)


def _load(port: int, path: str, key: str, rate: int, seconds: float, out) -> None:
    """Child process: the load generator, so it never competes with the bench's own loop."""
    out.put(asyncio.run(_open_loop(port, path, key, rate, seconds)))


def offer_python(port: int, path: str, key: str, rate: int, seconds: float) -> Offered:
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


def _measured(offer, process: subprocess.Popen, port: int, path: str, key: str, rate: int,
              seconds: float) -> tuple[Offered, float]:
    """(what the generator measured, server CPU µs per request) of ``path`` under the offered load."""
    before = _cpu_seconds(process.pid)
    offered = offer(port, path, key, rate, seconds)
    return offered, (_cpu_seconds(process.pid) - before) / offered.requests * 1e6


def _outbox_drained(settings: Settings, within: float = 30.0) -> float:
    """Seconds until the audit outbox is empty (every read's record on the topic)."""
    redis, started = Redis.from_url(settings.redis_address), time.perf_counter()
    try:
        while redis.xlen(outbox_key(settings)) and time.perf_counter() - started < within:
            time.sleep(0.001)
        return time.perf_counter() - started
    finally:
        redis.close()


def _p(values: list[float], q: float) -> float:
    """The ``q``-th percentile (q in steps of 0.1)."""
    return statistics.quantiles(values, n=1000)[round(q * 10) - 1]


def _audit_alone(settings: Settings, count: int = 300) -> list[float]:
    latencies = []
    with AuditLog(settings) as log:
        for n in range(count):
            started = time.perf_counter()
            log.record("key:bench", "profile.read", f"user_id:{n:032x}", role="support")
            latencies.append((time.perf_counter() - started) * 1e6)
    return latencies


def generator(name: str | None = None):
    """The load generator ``name`` ("wrk" or "python"); by default wrk when it is installed."""
    if name not in (None, "wrk", "python"):
        raise ValueError(f"generator: must be 'wrk' or 'python', got {name!r}")
    if name == "python":
        return offer_python
    if wrk_installed():
        return offer_wrk
    if name == "wrk":
        raise RuntimeError("generator: wrk is not installed (apt-get install wrk)")
    console.print("[yellow]wrk is not installed (make bench installs it as root): the API bench falls back to "
                  "the Python generator, whose own lateness and CPU are part of the figures[/yellow]")
    return offer_python


def run(settings: Settings, rate: int = 300, seconds: float = 5.0, workers: int = WORKERS,
        load: str | None = None) -> list[Figure]:
    offer = generator(load)
    settings = settings.model_copy(update={"topic_prefix": f"bench{uuid.uuid4().hex[:8]}"})
    ensure_topics(settings)
    port = free_port()
    process = start_collector(settings, port, workers)
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
        reads, reads_cpu = _measured(offer, process, port, f"/v1/profiles/{customer}", key, rate, seconds)
        drained = _outbox_drained(settings)
        bare, bare_cpu = _measured(offer, process, port, "/v1/keys/me", key, rate, seconds)
    finally:
        process.terminate()
        process.wait(30)
    audit = _audit_alone(settings)
    note = f"{rate} req/s offered for {seconds:g} s by {reads.generator}, {workers} API processes"
    return [
        Figure("profile read p50 (key, Redis read + audit record)", reads.p50, "µs", "authenticated /v1/keys/me p50", bare.p50, note),
        Figure("profile read p99", reads.p99, "µs", "authenticated /v1/keys/me p99", bare.p99, note),
        Figure("profile read p99.9", reads.p999, "µs", "authenticated /v1/keys/me p99.9", bare.p999, note),
        Figure("profile read: achieved rate", reads.rate, "req/s", "offered", rate, "answered requests / run time"),
        Figure("profile read: server CPU per request", reads_cpu, "µs", "authenticated /v1/keys/me", bare_cpu,
               f"{note}; all API processes"),
        Figure("load generator CPU per request (reads)", reads.cpu_per_request, "µs", "server CPU per read", reads_cpu,
               reads.generator),
        Figure("load generator send lag p99 (reads)", reads.lag_p99, "µs", "same, /v1/keys/me", bare.lag_p99,
               "how late the generator wrote a request after its due time"),
        Figure("load generator send lag max (reads)", reads.lag_max, "µs", "same, /v1/keys/me", bare.lag_max,
               "wrk times from the write: a lag is a wait its latency leaves out"
               if offer is offer_wrk else "part of every latency above (timed from the due time)"),
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
    parser.add_argument("--workers", type=int, default=WORKERS, help="API processes")
    parser.add_argument("--generator", choices=("wrk", "python"), help="default: wrk when installed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cdp-bench-") as tmp, ephemeral_stack(Path(tmp)) as settings:
        print_figures("profile API", run(settings, args.rate, args.seconds, args.workers, args.generator))


if __name__ == "__main__":
    main()
