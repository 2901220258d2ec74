"""Where the event -> profile tail comes from: one paced run traced end to end.

One producer offers events at a fixed rate to a topic whose messages carry the broker's
append time (``message.timestamp.type=LogAppendTime``). Two child processes read it at
the same time: the profile worker (traced: every loop phase, every batch's decode /
load / fold / Redis transaction, every cyclic-GC pass) and a consumer that only decodes.
Every event is then followed through its stages

    received_at (stamped by the bench) -> produce() returned -> appended by the broker
    -> handed to the worker -> its batch's Redis EXEC done

and the slow ones (> ``SLOW_MS`` received -> stored) are tabulated beside what the
worker's loop was doing meanwhile and beside the decode-only consumer's latency for the
very same event, so a stall of the broker or the machine (both slow) is told apart from a
stall of the worker (only the worker slow).

    python -m bench.streams_trace [rate] [seconds] [runs]
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import subprocess
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource

from panorama.clock import now_us
from panorama.settings import Settings
from panorama.stack.topics import ensure_topics
from producers import InteractionProducer
from schemas.codec import InteractionCodec
from bench.streams_bench import OFFER_TICK_S, _collector_gc, _events, _paced
from streams.worker import ProfileWorker, next_batch

SLOW_MS = 100
WARM = 200  # events sent and acknowledged before timing starts (connections, group join, keys)


class TracedWorker(ProfileWorker):
    """The profile worker with timestamps (µs) around its loop phases and batch stages.

    ``phases``: (name, start, end, thread CPU µs) of every loop phase and GC pass (CPU far
    below end - start: the phase waited, for Redis or for a core);
    ``events``: (partition, offset, received_at, appended_ms, handed, stored) per event."""

    def __init__(self, settings: Settings):
        super().__init__(settings)
        self.phases: list[tuple[str, int, int, int]] = []
        self.events: list[tuple[int, int, int, int, int, int]] = []
        self._gc_started = self._handed = 0
        self._batch: list[tuple[int, int, int, int]] = []
        for name in ("publish_signals", "_measure_lag"):
            setattr(self, name, self._timed(name.strip("_"), getattr(self, name)))
        for name, shown in (("load_partials_of", "load_partials"), ("commit_writes", "commit")):
            setattr(self.store, name, self._timed(shown, getattr(self.store, name)))
        self.sweeper.sweep = self._timed("sweep", self.sweeper.sweep)
        for name in ("publish", "settle"):
            setattr(self.outbox, name, self._timed(f"outbox {name}", getattr(self.outbox, name)))
        gc.callbacks.append(self._gc)

    def _timed(self, name, call):
        def timed(*args, **kwargs):
            started, cpu = now_us(), time.thread_time_ns()
            try:
                return call(*args, **kwargs)
            finally:
                self.phases.append((name, started, now_us(), (time.thread_time_ns() - cpu) // 1000))
        return timed

    def _gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_started = now_us()
        else:
            self.phases.append((f"gc{info['generation']}", self._gc_started, now_us(), 0))

    def process(self, messages) -> None:
        self._handed, self._batch = now_us(), []
        self._timed(f"process {len(messages)}", super().process)(messages)

    def _decode(self, messages):
        records = self._timed("decode", super()._decode)(messages)
        self._batch += [(m.partition(), m.offset(), r["received_at"], m.timestamp()[1])
                        for m, r in zip(messages, records)]
        return records

    def _commit(self, prepared) -> None:
        super()._commit(prepared)
        stored = now_us()  # the transaction of every partition of the batch returned just before
        self.events += [(*e, self._handed, stored) for e in self._batch]
        self._batch = []


def _worker(settings: Settings, since: int, ready, stop, out) -> None:
    worker = TracedWorker(settings)

    def should_stop() -> bool:
        if worker.partitions:
            ready.set()
        return stop.is_set()

    worker.run(should_stop)
    now = now_us()
    backlog = sum(worker.store.redis.zcount(worker.store.keys.due(p), "-inf", now)
                  for p in range(settings.interactions_partitions))
    sweep = {"evaluated": worker.sweeper.evaluated, "signals": worker.stats.signals, "due at the end": backlog}
    out.put(([e for e in worker.events if e[2] >= since], [p for p in worker.phases if p[2] >= since], sweep))


def _bare(settings: Settings, since: int, ready, stop, out) -> None:
    codec = InteractionCodec()
    consumer = Consumer({"bootstrap.servers": settings.kafka_address, "group.id": f"trace-{uuid.uuid4()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([settings.topics.interactions], on_assign=lambda c, parts: ready.set())
    seen = {}
    while not stop.is_set():
        for msg in next_batch(consumer, 5000, 0.01):
            if msg.error() is None:
                received = codec.decode(msg.value())["received_at"]
                if received >= since:
                    seen[(msg.partition(), msg.offset())] = now_us()
    consumer.close()
    out.put(seen)


class MachineSampler(threading.Thread):
    """Every ``period_s``: the machine's busy CPU (jiffies, all cores), the part of it used
    by this process and its descendants (broker, Redis, the children), and how many tasks
    were runnable; plus the broker JVM's cumulative GC time (``jstat``) when available."""

    def __init__(self, period_s: float = 0.05):
        super().__init__(daemon=True)
        self.period_s = period_s
        self.samples: list[tuple[int, int, int, int]] = []  # (µs, machine busy, ours, runnable)
        self.per_process: dict[int, list[int]] = {}  # pid -> [first, last] jiffies seen
        self.broker_gc: list[tuple[int, float]] = []  # (µs, cumulative GC seconds)
        self.done = threading.Event()

    def run(self) -> None:
        broker = next((pid for pid, _ in _tree() if _comm(pid) == "java"), None)
        jstat = None
        if broker is not None:
            jstat = subprocess.Popen(["jstat", "-gc", str(broker), "100"], stdout=subprocess.PIPE, text=True)
            threading.Thread(target=self._read_jstat, args=(jstat,), daemon=True).start()
        while not self.done.wait(self.period_s):
            with open("/proc/stat") as f:
                lines = f.read().splitlines()
            busy = sum(int(v) for i, v in enumerate(lines[0].split()[1:]) if i not in (3, 4))  # minus idle, iowait
            runnable = next(int(line.split()[1]) for line in lines if line.startswith("procs_running"))
            tree = _tree()
            for pid, cpu in tree:
                self.per_process.setdefault(pid, [cpu, cpu])[1] = cpu
            self.samples.append((now_us(), busy, sum(cpu for _, cpu in tree), runnable))
        if jstat is not None:
            jstat.terminate()
            jstat.wait(5)

    def _read_jstat(self, jstat) -> None:
        header = None
        for line in jstat.stdout:
            fields = line.split()
            if header is None or fields[0] == header[0]:
                header = fields
                continue
            self.broker_gc.append((now_us(), float(fields[header.index("GCT")])))


def _tree() -> list[tuple[int, int]]:
    """(pid, user+system jiffies) of this process and all its descendants."""
    parents, cpu = {}, {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(name)], cpu[int(name)] = int(fields[1]), int(fields[11]) + int(fields[12])
    mine, frontier = {os.getpid()}, [os.getpid()]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in mine]
        mine.update(children)
        frontier += children
    return [(pid, cpu.get(pid, 0)) for pid in mine]


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def trace(settings: Settings, records: list[dict], rate: float) -> dict:
    """Run the traced worker and the decode-only consumer side by side under ``rate`` ev/s."""
    settings = settings.model_copy(update={"topic_prefix": f"trace{uuid.uuid4().hex[:8]}"})
    ensure_topics(settings)
    admin = AdminClient({"bootstrap.servers": settings.kafka_address})
    append_time = ConfigEntry("message.timestamp.type", "LogAppendTime",
                              incremental_operation=AlterConfigOpType.SET)
    resource = ConfigResource("topic", settings.topics.interactions, incremental_configs=[append_time])
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(30)
    spawn = multiprocessing.get_context("spawn")
    stop = spawn.Event()
    children = []
    sent: dict[int, int] = {}  # received_at -> produce() returned
    producer_gc: list[tuple[str, int, int]] = []
    gc_started = [0]

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            gc_started[0] = now_us()
        else:
            producer_gc.append((f"producer gc{info['generation']}", gc_started[0], now_us(), 0))

    sampler = MachineSampler()
    with InteractionProducer(settings) as producer:
        assert producer.send_and_wait(records[:WARM], timeout=60).ok
        producer.privacy.prefetch(records[WARM:], producer.keys.for_identities)
        since = now_us() + 3_000_000
        for target in (_worker, _bare):
            ready, out = spawn.Event(), spawn.Queue()
            child = spawn.Process(target=target, args=(settings, since, ready, stop, out))
            child.start()
            ready.wait(60)
            children.append((child, out))
        offered = records[WARM:]

        def send(i: int) -> None:
            received = now_us()
            producer.send(offered[i] | {"received_at": received})
            sent[received] = now_us()

        with _collector_gc():  # its one full pass before the children start timing
            time.sleep(max(0.0, (since - now_us()) / 1e6) + 0.2)
            sampler.start()
            gc.callbacks.append(on_gc)
            _paced(len(offered), rate, send, tick_s=OFFER_TICK_S)
    gc.callbacks.remove(on_gc)
    time.sleep(1)
    sampler.done.set()
    sampler.join(10)
    stop.set()
    (events, phases, sweep), bare = (out.get(timeout=120) for _, out in children)
    for child, _ in children:
        child.join(30)
    return {"events": events, "phases": phases + producer_gc, "bare": bare, "sent": sent, "sweep": sweep,
            "machine": sampler.samples, "broker_gc": sampler.broker_gc,
            "per_process": _per_process(sampler, {os.getpid(): "producer (bench)", children[0][0].pid: "worker",
                                                  children[1][0].pid: "decode-only consumer"})}


def _per_process(sampler: MachineSampler, roles: dict[int, str]) -> dict[str, float]:
    """% of one core each of this bench's processes used while the load was offered."""
    seconds = (sampler.samples[-1][0] - sampler.samples[0][0]) / 1e6
    used: Counter = Counter()
    for pid, (first, last) in sampler.per_process.items():
        used[roles.get(pid, _comm(pid))] += (last - first) / os.sysconf("SC_CLK_TCK") / seconds * 100
    return {name: pct for name, pct in used.most_common() if pct >= 1}


def _q(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def report(found: dict) -> None:
    """Print the stage breakdown of all and of the slow events, and per episode of slow
    events what the worker's loop, the producer, the broker's GC and the machine did."""
    events, phases, bare, sent = found["events"], found["phases"], found["bare"], found["sent"]
    rows = []
    for partition, offset, received, appended_ms, handed, stored in events:
        produced = sent.get(received, received)
        seen = bare.get((partition, offset))
        rows.append({"send": produced - received, "to broker": appended_ms * 1000 - produced,
                     "to worker": handed - appended_ms * 1000, "in worker": stored - handed,
                     "total": stored - received, "bare": (seen - received) if seen else None,
                     "received": received, "stored": stored})
    slow = [r for r in rows if r["total"] > SLOW_MS * 1000]
    timed_bare = [r["bare"] for r in rows if r["bare"]]
    print(f"{len(rows):,} events timed; worker p50/p99 {_q([r['total'] for r in rows], .5) / 1000:.1f}/"
          f"{_q([r['total'] for r in rows], .99) / 1000:.1f} ms; decode-only consumer (same events) p50/p99 "
          f"{_q(timed_bare, .5) / 1000:.1f}/{_q(timed_bare, .99) / 1000:.1f} ms; {len(slow)} slower than {SLOW_MS} ms")
    for label, chosen in (("all", rows), (f"> {SLOW_MS} ms", slow)):
        if chosen:
            stages = "; ".join(f"{k} {_q([r[k] for r in chosen], .5) / 1000:.1f}/{_q([r[k] for r in chosen], .99) / 1000:.1f}"
                               for k in ("send", "to broker", "to worker", "in worker"))
            bare_slow = sum(1 for r in chosen if r["bare"] and r["bare"] > SLOW_MS * 1000)
            print(f"  {label} (p50/p99 ms): {stages}; decode-only also > {SLOW_MS} ms: {bare_slow}/{len(chosen)}")
    first = rows[0]["received"] if rows else 0
    wall, cpu, calls = Counter(), Counter(), Counter()
    for name, start, end, used in phases:
        name = name.split()[0] if name.startswith("process") else name
        wall[name] += end - start
        cpu[name] += used
        calls[name] += 1
    print(f"  signal sweep over the whole worker run: {found['sweep']}")
    print("  worker phases over the run (calls, wall/CPU ms): "
          + ", ".join(f"{n} {calls[n]} {wall[n] / 1000:.0f}/{cpu[n] / 1000:.0f}" for n, _ in wall.most_common(10)))
    whole = (first, max((r["stored"] for r in rows), default=first))
    print(f"  whole run: {_machine(found, *whole)}; % of one core: "
          + ", ".join(f"{name} {pct:.0f}" for name, pct in found["per_process"].items()))
    for start, end in _episodes(slow):
        busy, longest = Counter(), Counter()
        for name, s, e, _cpu in phases:
            name = name.split()[0] if name.startswith("process") else name
            overlap = min(e, end) - max(s, start)
            if overlap > 0:
                busy[name] += overlap
                longest[name] = max(longest[name], e - s)
        within = [r for r in slow if start <= r["received"] <= end]
        print(f"  episode at {(start - first) / 1e6:5.2f} s for {(end - start) / 1000:.0f} ms: {len(within)} slow, "
              f"worst {max(r['total'] for r in within) / 1000:.0f} ms (decode-only worst "
              f"{max((r['bare'] or 0) for r in within) / 1000:.0f} ms); {_machine(found, start, end)}; busy: "
              + ", ".join(f"{n} {busy[n] / 1000:.0f} ms (longest {longest[n] / 1000:.0f})"
                          for n, _ in busy.most_common(5)))
    _slowest_turns(phases)


def _slowest_turns(phases: list[tuple[str, int, int, int]], count: int = 6) -> None:
    """The longest process / publish_signals calls with what ran inside them (wall/CPU ms)."""
    outer = sorted((p for p in phases if p[0].startswith(("process", "publish_signals"))),
                   key=lambda p: p[2] - p[1], reverse=True)[:count]
    for name, start, end, cpu in outer:
        inner = Counter()
        inner_cpu = Counter()
        for n, s, e, c in phases:
            if start <= s and e <= end and (n, s) != (name, start):
                inner[n] += e - s
                inner_cpu[n] += c
        print(f"    {name}: {(end - start) / 1000:.0f} ms wall, {cpu / 1000:.0f} ms CPU; inside: "
              + ", ".join(f"{n} {inner[n] / 1000:.0f}/{inner_cpu[n] / 1000:.0f}" for n, _ in inner.most_common(6)))


def _machine(found: dict, start: int, end: int) -> str:
    """The machine's CPU between two instants: busy (% of all cores), the part used by
    other processes than this bench's, the most runnable tasks, the broker's GC time."""
    samples = [s for s in found["machine"] if start - 100_000 <= s[0] <= end + 100_000]
    if len(samples) < 2:
        return "no machine samples"
    (t0, busy0, ours0, _), (t1, busy1, ours1, _) = samples[0], samples[-1]
    capacity = (t1 - t0) / 1e6 * os.sysconf("SC_CLK_TCK") * os.cpu_count() / 100
    gc_s = [g for t, g in found["broker_gc"] if start - 100_000 <= t <= end + 100_000]
    broker = f"{(gc_s[-1] - gc_s[0]) * 1000:.0f} ms" if len(gc_s) > 1 else "n/a"
    return (f"CPU {(busy1 - busy0) / capacity:.0f}% of {os.cpu_count()} cores (others "
            f"{((busy1 - busy0) - (ours1 - ours0)) / capacity:.0f}%), runnable max {max(s[3] for s in samples)}, "
            f"broker GC {broker}")


def _episodes(slow: list[dict]) -> list[tuple[int, int]]:
    """Merge slow events whose received -> stored windows overlap into episodes."""
    spans = sorted((r["received"], r["stored"]) for r in slow)
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


if __name__ == "__main__":
    import argparse
    import tempfile

    from panorama.stack.ephemeral import ephemeral_stack

    parser = argparse.ArgumentParser(prog="python -m bench.streams_trace", description=__doc__.split("\n")[0])
    parser.add_argument("rate", nargs="?", type=float, default=5000, help="events per second offered (5000)")
    parser.add_argument("seconds", nargs="?", type=float, default=6, help="length of each run (6)")
    parser.add_argument("runs", nargs="?", type=int, default=1, help="runs on the same broker (1)")
    args = parser.parse_args()
    rate, seconds, runs = args.rate, args.seconds, args.runs
    with tempfile.TemporaryDirectory(prefix="cdp-trace-") as tmp, ephemeral_stack(Path(tmp), interactions_partitions=3) as s:
        for run in range(runs):  # the same broker each run: a fresh JVM is still compiling in the first
            print(f"run {run + 1} of {runs}")
            report(trace(s, _events(int(rate * seconds) + WARM), rate))
