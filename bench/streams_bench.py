"""Profile building, measured beside baselines from the same run:

* the worker's events/s (decode, route, fold, Redis transaction with its position, signal
  sweeps) beside a bare confluent-kafka consumer that only decodes the same topic, and
  beside a faust-streaming agent that only iterates it (faust runs in its own virtualenv,
  ``.cache/faust-venv-0.15``, built from PyPI on first use; skipped with the reason if it
  cannot be built);
* event -> profile visible in Redis p50/p99 at a fixed offered load (producer stamps
  ``received_at``; the worker's latency histogram, in its own process) beside the same
  load read by a bare consumer that only decodes;
* profile read p50/p99 at a fixed request rate through ``ProfileReader`` beside a bare
  Redis GET at the same rate;
* the pure fold's own events/s (no I/O), to show what the engine around it costs.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import random
import re
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from confluent_kafka import Consumer
from redis import Redis

from bench.report import Figure, rate
from connectors.demo import generate_population
from panorama.clock import now_us
from panorama.gc_pauses import quiet_full_collections
from panorama.settings import Settings
from panorama.stack.topics import ensure_topics
from producers import InteractionProducer
from schemas.codec import InteractionCodec
from streams.identity.nodes import NodeNamer
from streams.profiles.fold import Partial, apply
from streams.profiles.read import ProfileReader
from streams.worker import ProfileWorker, next_batch

FAUST_VENV = Path(".cache/faust-venv-0.15")
# aiokafka[lz4] (cramjam): the producer compresses with lz4, which aiokafka 0.14 reads only with it
FAUST_REQUIREMENTS = ["faust-streaming>=0.15.3,<0.16", "aiokafka[lz4]>=0.14,<0.15"]


def _events(count: int) -> list[dict]:
    """The demo mix with fresh event ids, cycled to ``count`` (3,000 customers)."""
    templates = list(generate_population(3000, seed=13))
    return [templates[i % len(templates)] | {"event_id": str(uuid.uuid4())} for i in range(count)]


def _fold_rate(events: list[dict], secret: bytes) -> float:
    namer = NodeNamer(secret)
    partials: dict[str, Partial] = {}

    def fold_all():
        for event in events:
            node = namer.routing_node(event["identities"])
            partial = partials.get(node)
            if partial is None:
                partial = partials[node] = Partial()
            apply(partial, event)

    return rate(len(events), fold_all)


def _steady_rate(count: int, consume_one_batch) -> float:
    """events/s from the end of the first non-empty batch (group join and fetch warm-up
    excluded) until ``count`` events were handled."""
    handled, started, first = 0, 0.0, 0
    while handled < count:
        n = consume_one_batch()
        if n and not started:
            started, first = time.perf_counter(), n
        handled += n
    return (handled - first) / (time.perf_counter() - started)


def _bare_consumer_rate(settings: Settings, count: int) -> float:
    codec = InteractionCodec()
    consumer = Consumer({"bootstrap.servers": settings.kafka_address, "group.id": f"bench-{uuid.uuid4()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([settings.topics.interactions])

    def batch() -> int:
        messages = consumer.consume(5000, 0.05)
        for msg in messages:
            codec.decode(msg.value())
        return len(messages)

    try:
        return _steady_rate(count, batch)
    finally:
        consumer.close()


def _worker_rate(settings: Settings, count: int) -> float:
    worker = ProfileWorker(settings)
    marks: list[tuple[float, int]] = []

    def should_stop() -> bool:
        if worker.stats.events and len(marks) < 2:
            marks[:1] = [marks[0] if marks else (time.perf_counter(), worker.stats.events)]
        if worker.stats.events >= count:
            marks.append((time.perf_counter(), worker.stats.events))
            return True
        return False

    worker.run(should_stop)
    (t0, n0), (t1, n1) = marks[0], marks[-1]
    return (n1 - n0) / (t1 - t0)


OFFER_TICK_S = 0.001  # the offered load wakes once a millisecond (5 events at 5,000 ev/s), as a collector's batches do


def _paced(count: int, rate: float, act, tick_s: float = 0.0) -> list[float]:
    """Call ``act(i)`` ``count`` times at ``rate`` per second; return each call's seconds.
    With ``tick_s`` the calls that fell due are made together, waking once per tick
    instead of once per call: at 5,000 events/s a sleep per event cost the offering
    producer ~a fifth of a core of wake-ups, taken from the pipeline it measures."""
    took, started = [], time.perf_counter()
    for i in range(count):
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(max(delay, tick_s))
        t0 = time.perf_counter()
        act(i)
        took.append(time.perf_counter() - t0)
    return took


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _latency_worker(settings: Settings, since: int, ready, stop, out) -> None:
    """Child process: a profile worker whose latency histogram ignores the warm-up."""
    worker = ProfileWorker(settings)
    worker.latency.since = since

    def should_stop() -> bool:
        if worker.partitions:
            ready.set()
        return stop.is_set()

    worker.run(should_stop)
    out.put([worker.latency.quantile(0.5), worker.latency.quantile(0.99), sum(worker.latency.counts)])


def _latency_bare(settings: Settings, since: int, ready, stop, out) -> None:
    """Child process: a consumer that only decodes, timing received_at -> decoded."""
    codec = InteractionCodec()
    consumer = Consumer({"bootstrap.servers": settings.kafka_address, "group.id": f"bench-{uuid.uuid4()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([settings.topics.interactions], on_assign=lambda c, parts: ready.set())
    latencies = []
    while not stop.is_set():
        for msg in next_batch(consumer, 5000, 0.01):  # as the worker takes them
            received = codec.decode(msg.value())["received_at"]
            if received >= since:
                latencies.append((now_us() - received) / 1e6)
    consumer.close()
    out.put([_p(latencies, 0.5), _p(latencies, 0.99), len(latencies)] if latencies else [None, None, 0])


@contextmanager
def _collector_gc():
    """The offering producer's GC as the collector API runs it (quiet_full_collections):
    otherwise full passes scan every record this bench built, a 150-220 ms stall of the
    producer per 6 s run (measured with bench.streams_trace) followed by a burst that
    ages in the worker. Restored after, for the benches that run next in this process."""
    threshold = gc.get_threshold()
    quiet_full_collections()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def _end_to_end(settings: Settings, target, records: list[dict], rate: float, warm: int = 200,
                rewrite_aof: bool = False) -> list:
    """[p50 s, p99 s, events, Redis AOF rewrites during the timed window, AOF MiB after it]
    of ``target`` (a child process) under ``rate`` events/s.

    Steady state: one producer sends the first ``warm`` records (connections, metadata,
    the consumer group) and fetches the data key of every customer it will send in one
    bulk call before the child starts timing; a cold producer's first second would
    otherwise be measured (up to ~600 ms while new data keys are created one by one).
    Redis's AOF is compacted first: the throughput runs before grow it toward an
    automatic rewrite (a forked child writing the whole data set, 1-4 s of a core), which
    otherwise falls into the 6 s window or not by chance (p99 133 against 25-40 ms in
    one run that had one). ``rewrite_aof`` starts one as the timed window opens, to
    measure that case on purpose."""
    redis = Redis.from_url(settings.redis_address)
    _compact_aof(redis)
    rewrites = redis.info("persistence")["aof_rewrites"]
    settings = settings.model_copy(update={"topic_prefix": f"bench{uuid.uuid4().hex[:8]}"})
    ensure_topics(settings)
    spawn = multiprocessing.get_context("spawn")
    ready, stop, out = spawn.Event(), spawn.Event(), spawn.Queue()
    with InteractionProducer(settings) as producer:
        assert producer.send_and_wait(records[:warm], timeout=60).ok
        producer.privacy.prefetch(records[warm:], producer.keys.for_identities)
        child = spawn.Process(target=target, args=(settings, now_us() + 3_000_000, ready, stop, out))
        child.start()
        ready.wait(60)
        offered = records[warm:]
        with _collector_gc():
            time.sleep(3)  # past the child's ``since``
            if rewrite_aof:
                redis.bgrewriteaof()
            _paced(len(offered), rate, lambda i: producer.send(offered[i] | {"received_at": now_us()}), tick_s=OFFER_TICK_S)
    time.sleep(1)
    stop.set()
    found = out.get(timeout=60)
    child.join(30)
    _compact_aof(redis, start=False)  # a rewrite still running belongs to the window
    after = redis.info("persistence")
    return [*found, after["aof_rewrites"] - rewrites, after["aof_current_size"] / 2**20]


def _compact_aof(redis: Redis, start: bool = True, timeout_s: float = 120) -> None:
    """Rewrite Redis's AOF now (``start``) and wait until no rewrite runs or is scheduled."""
    if start:
        redis.bgrewriteaof()
    deadline = time.monotonic() + timeout_s
    while (state := redis.info("persistence"))["aof_rewrite_in_progress"] or state["aof_rewrite_scheduled"]:
        if time.monotonic() > deadline:
            raise TimeoutError(f"Redis still rewriting its AOF after {timeout_s:.0f} s")
        time.sleep(0.05)
    os.sync()  # the new AOF's pages written back now, not by the kernel during the window


def _read_latency(settings: Settings, user_ids: list[str], rate: float, count: int) -> tuple[list[float], list[float]]:
    """(ProfileReader.read seconds, bare Redis GET seconds), each ``count`` calls at ``rate``/s."""
    redis = Redis.from_url(settings.redis_address)
    reader = ProfileReader(redis, settings)
    rng = random.Random(5)
    picks = [rng.choice(user_ids) for _ in range(count)]
    reads = _paced(count, rate, lambda i: reader.read(f"user_id:{picks[i]}"))
    redis.set("bench:probe", b"x" * 2000)
    gets = _paced(count, rate, lambda i: redis.get("bench:probe"))
    redis.delete("bench:probe")
    return reads, gets


def _faust_ceiling(settings: Settings, count: int) -> tuple[float | None, str]:
    """A faust agent that only iterates the topic: (events/s, note); None when faust
    cannot be installed here (the note says why)."""
    python = FAUST_VENV / "bin" / "python"
    if not python.exists():
        try:
            subprocess.run([sys.executable, "-m", "venv", str(FAUST_VENV)], check=True, capture_output=True)
            subprocess.run([str(python), "-m", "pip", "install", "-q", *FAUST_REQUIREMENTS], check=True,
                           capture_output=True, timeout=600)
        except (subprocess.SubprocessError, OSError) as e:
            return None, f"faust venv could not be built from PyPI: {e}"
    done = subprocess.run([str(python), "-m", "bench.faust_ceiling", settings.kafka_address,
                           settings.topics.interactions, str(count), "raw"],
                          capture_output=True, text=True, timeout=600, cwd=Path(__file__).resolve().parent.parent,
                          env=os.environ | {"PYTHONPATH": ""})
    found = re.search(r"events_per_second (\d+)", done.stdout + done.stderr)  # faust logs stdout as WARNING lines
    if found:
        return float(found.group(1)), "faust agent, raw bytes, iterate only"
    return None, f"faust run failed: {done.stderr.strip()[-200:]}"


def run(settings: Settings, events: int = 200_000, offered_rate: float = 5000, offered_seconds: float = 6,
        read_rate: float = 1000, reads: int = 3000) -> list[Figure]:
    settings = settings.model_copy(update={"topic_prefix": f"bench{uuid.uuid4().hex[:8]}"})
    ensure_topics(settings)
    records = _events(events)
    with InteractionProducer(settings) as producer:
        for record in records:
            producer.send(record)
    secret = settings.routing_key_secret.get_secret_value().encode()
    fold = _fold_rate(records, secret)
    bare = _bare_consumer_rate(settings, events)
    faust, faust_note = _faust_ceiling(settings, events)
    worker = _worker_rate(settings, events)
    note = f"{events:,} demo-mix events, {settings.interactions_partitions} partitions"
    figures = [
        Figure("profile worker: events folded and stored (1 worker)", worker, "ev/s",
               "bare consumer, decode only", bare, note),
        Figure("profile worker: events folded and stored (1 worker)", worker, "ev/s",
               "faust agent, iterate only" if faust else f"faust: {faust_note}", faust, note),
        Figure("profile fold, pure (route + apply, no I/O)", fold, "ev/s", note="one core"),
    ]
    offered = _events(int(offered_rate * offered_seconds) + 200)
    load = f"{offered_rate:,.0f} ev/s offered for {offered_seconds:.0f} s, 1 worker process, warm producer"
    e2e = _end_to_end(settings, _latency_worker, offered, offered_rate)
    base = _end_to_end(settings, _latency_bare, offered, offered_rate)
    for i, q in enumerate(("p50", "p99")):
        if e2e[i] is not None:
            figures.append(Figure(f"event -> profile visible in Redis, {q}", e2e[i] * 1000, "ms",
                                  "bare consumer: received -> decoded", base[i] * 1000 if base[i] else None,
                                  f"{load}; {e2e[2]:,} events timed; Redis AOF compacted before, "
                                  f"{e2e[3]} rewrites during; target p99 <= 100 ms"))
    rewriting = _end_to_end(settings, _latency_worker, offered, offered_rate, rewrite_aof=True)
    if rewriting[1] is not None and e2e[1] is not None:
        figures.append(Figure("event -> profile visible in Redis, p99, Redis rewriting its AOF", rewriting[1] * 1000,
                              "ms", "the same with no rewrite", e2e[1] * 1000,
                              f"BGREWRITEAOF as the window opens ({rewriting[4]:,.0f} MiB AOF after it); "
                              "a deployment gives Redis a core of its own"))
    user_ids = sorted({r["identities"]["user_id"] for r in records if r["identities"].get("user_id")})
    read_s, get_s = _read_latency(settings, user_ids, read_rate, reads)
    for q, level in (("p50", 0.5), ("p99", 0.99)):
        figures.append(Figure(f"profile read (ProfileReader, in-process), {q}", _p(read_s, level) * 1e6, "µs",
                              "bare Redis GET, 2 kB", _p(get_s, level) * 1e6,
                              f"{read_rate:,.0f} req/s, {reads:,} reads; target p99 <= 2,000 µs"))
    return figures


if __name__ == "__main__":  # python -m bench.streams_bench [events]: a private stack, this bench only
    import tempfile

    from bench.report import print_figures
    from panorama.stack.ephemeral import ephemeral_stack

    with tempfile.TemporaryDirectory(prefix="cdp-bench-") as tmp, ephemeral_stack(Path(tmp), interactions_partitions=3) as s:
        print_figures("streams", run(s, events=int(sys.argv[1]) if len(sys.argv) > 1 else 50_000,
                                     offered_seconds=float(sys.argv[2]) if len(sys.argv) > 2 else 6))
