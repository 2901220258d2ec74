"""The cost of sealing personal fields, as ratios to the same path without it.

* producer: validate + seal + encode + produce + acks, demo mix, beside the same producer
  with sealing switched off (``producer.privacy = None``), same events, same run;
* producer CPU only (no Kafka): validate + key + seal + encode beside validate + key + encode;
* profile fold (no I/O): decode + open + route + fold of sealed events beside decode +
  route + fold of the same events written unsealed (route + fold measured once with
  ``bench.streams_bench``: opened events are the plain ones);
* profile worker: events/s of one worker over the events written sealed, beside the same
  events written unsealed to a topic of their own (the profile builder's throughput, with
  its Kafka and Redis I/O, where the fold figure isolates the CPU).

Rates are events per CPU second of this process (``time.process_time``, every thread
included: librdkafka's too), not per wall second: the other processes on a shared machine
then barely move the ratio, which is the point. Data keys are warm in both measured passes (one per customer, created on first use and
cached, as in a long-running producer); the cold cost is one Redis round trip per new
customer, or one per batch with ``send_and_wait`` / ``Sealer.prefetch``.
Run alone: ``python -m bench.privacy_bench --events N``.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from bench import streams_bench
from bench.report import Figure, print_figures
from connectors.demo import generate_population
from panorama.privacy.hooks import Opener
from panorama.settings import Settings
from panorama.stack.topics import ensure_topics
from producers import InteractionProducer
from schemas.codec import InteractionCodec

ROUNDS = 3  # alternate plain and sealed runs; keep each one's best (the cores are shared)


def _events(count: int) -> list[dict]:
    templates = list(generate_population(2000, seed=17))
    return [templates[i % len(templates)] | {"event_id": str(uuid.uuid4())} for i in range(count)]


def rate(count: int, fn: Callable[[], object]) -> float:
    """``count`` / CPU seconds ``fn`` took in this process (all threads)."""
    started = time.process_time()
    fn()
    return count / (time.process_time() - started)


def _produce_rate(producer: InteractionProducer, events: list[dict]) -> float:
    def produce():
        for event in events:
            producer.send(event)
        producer.flush(120)
    return rate(len(events), produce)


def _encode_rate(producer: InteractionProducer, events: list[dict]) -> float:
    return rate(len(events), lambda: [producer.encode(e) for e in events])


def _decode_seconds(codec: InteractionCodec, encoded: list[tuple[bytes, bytes]], opener: Opener | None) -> float:
    """CPU seconds to decode (and open) ``encoded`` in the worker's batches of 5,000, with
    a codec built beforehand as the worker's is (building one compiles its reader)."""

    def decode_all():
        for start in range(0, len(encoded), 5000):
            chunk = encoded[start:start + 5000]
            batch = [(codec.decode(value), key) for value, key in chunk]
            if opener is not None:
                opener.open_batch(batch, [value for value, _ in chunk])  # as the worker does

    return len(encoded) / rate(len(encoded), decode_all)


def _worker_rates(settings: Settings, events: list[dict]) -> tuple[float, float]:
    """(sealed, plain): a profile worker's events/s over ``events`` written to a topic of
    their own with sealing on, and again with it off; each the better of two alternated
    runs. Wall-clock rates of the whole worker (consume, decode, open, fold, Redis commit)."""
    runs: dict[bool, list[float]] = {True: [], False: []}
    for sealing in (False, True, False, True):
        own = settings.model_copy(update={"topic_prefix": f"privacy-bench-{uuid.uuid4().hex[:8]}"})
        ensure_topics(own)
        with InteractionProducer(own) as producer:
            if not sealing:
                producer.privacy = None
            for event in events:
                producer.send(event)
        runs[sealing].append(streams_bench._worker_rate(own, len(events)))
    return max(runs[True]), max(runs[False])


def _best_pair(plain, sealed) -> tuple[float, float]:
    runs = [(plain(), sealed()) for _ in range(ROUNDS)]
    return max(p for p, _ in runs), max(s for _, s in runs)


def run(settings: Settings, events: int = 100_000) -> list[Figure]:
    workload = _events(events)
    sealed_producer, plain_producer = InteractionProducer(settings), InteractionProducer(settings)
    plain_producer.privacy = None
    try:
        sealed_encoded = [sealed_producer.encode(e) for e in workload]  # also warms the data-key cache
        plain_encoded = [plain_producer.encode(e) for e in workload]
        gc.freeze()  # the workload's own objects: keep the collector from re-walking them in every pass
        plain_cpu, sealed_cpu = _best_pair(lambda: _encode_rate(plain_producer, workload),
                                           lambda: _encode_rate(sealed_producer, workload))
        plain_io, sealed_io = _best_pair(lambda: _produce_rate(plain_producer, workload),
                                         lambda: _produce_rate(sealed_producer, workload))
    finally:  # left open, they reconnect to the bench's stopped broker at the end of make bench
        sealed_producer.close()
        plain_producer.close()
    size = (sum(len(v) for v, _ in sealed_encoded) / events, sum(len(v) for v, _ in plain_encoded) / events)
    opener, codec = Opener(settings), InteractionCodec()
    plain_decode, sealed_decode = (1 / r for r in _best_pair(lambda: 1 / _decode_seconds(codec, plain_encoded, None),
                                                               lambda: 1 / _decode_seconds(codec, sealed_encoded, opener)))
    # opened events are the plain ones, so routing and folding them costs the same: measured once
    fold = events / streams_bench._fold_rate(workload, settings.routing_key_secret.get_secret_value().encode())
    plain_fold, sealed_fold = events / (plain_decode + fold), events / (sealed_decode + fold)
    gc.unfreeze()
    sealed_worker, plain_worker = _worker_rates(settings, workload)
    note = f"{events:,} events, demo mix; {size[0]:.0f} B sealed vs {size[1]:.0f} B plain; per CPU second"
    return [
        Figure("producer with sealing: events to acks", sealed_io, "ev/s", "same producer, sealing off", plain_io, note),
        Figure("producer CPU: validate + key + seal + encode", sealed_cpu, "ev/s", "without seal", plain_cpu, "no I/O"),
        Figure("profile fold: decode + open + route + fold", sealed_fold, "ev/s", "unsealed events, no open", plain_fold,
               "no I/O"),
        Figure("profile worker, sealed events: folded and stored", sealed_worker, "ev/s", "same events unsealed",
               plain_worker, "1 worker, wall clock, best of 2 alternated runs each"),
    ]


def main() -> None:
    from panorama.stack.ephemeral import ephemeral_stack

    parser = argparse.ArgumentParser(prog="python -m bench.privacy_bench")
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cdp-bench-") as tmp, ephemeral_stack(Path(tmp)) as settings:
        from panorama.stack.topics import ensure_topics

        ensure_topics(settings)
        print_figures("privacy", run(settings, args.events))


if __name__ == "__main__":
    main()
