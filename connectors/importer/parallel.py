"""Spreading an import's CPU work over worker processes while keeping its order.

Every worker scans the whole file (cheap next to mapping, sealing and encoding; it
builds only its own rows) and works out only its share of the chunks: chunk ``i`` belongs to worker
``i % workers``. The importing process takes the results back round-robin, which is file
order, and is the only one that produces: the events reach Kafka in the same order as a
one-process import (per-customer order holds), row numbers and the rejects report are
the same, and the event ids too (they come from the rows, not from the process).

Memory stays bounded: each worker's queue holds at most QUEUE_CHUNKS results, so a
worker that gets ahead waits. Workers are started with ``spawn`` (the importing process
already runs librdkafka's threads, which a fork would copy in an unknown state).
"""

from __future__ import annotations

import multiprocessing
import pickle
import queue
from collections.abc import Iterator
from typing import Any

from connectors.importer.chunks import ChunkEncoder, ChunkResult, ImportTask, chunks, fewer_collections
from panorama.errors import ConnectorError

QUEUE_CHUNKS = 4
_DONE = "done"  # what a worker sends after its last chunk


def encode_in_workers(task: ImportTask, workers: int) -> Iterator[ChunkResult]:
    """Every chunk's result, in file order, worked out by ``workers`` processes. Raises
    what a worker raised (ConnectorError when it died without a word)."""
    context = multiprocessing.get_context("spawn")
    queues = [context.Queue(QUEUE_CHUNKS) for _ in range(workers)]
    processes = [context.Process(target=_work, args=(task, index, workers, queues[index]),
                                 name=f"cdp-import-{index}", daemon=True) for index in range(workers)]
    for process in processes:
        process.start()
    finished = False
    try:
        index = 0
        while True:
            item = _next(queues[index % workers], processes[index % workers])
            if isinstance(item, str):  # _DONE where chunk `index` would be: the file has no more
                finished = True
                return
            if isinstance(item, BaseException):
                raise item
            yield item
            index += 1
    finally:
        for process in processes:
            if finished:  # the others are sending their _DONE
                process.join(timeout=10)
            if process.is_alive():  # an error, or the caller gave up: nothing more is wanted
                process.terminate()
                process.join()


def _next(results: Any, worker: Any) -> Any:
    while True:
        try:
            return results.get(timeout=1.0)
        except queue.Empty:
            if not worker.is_alive():
                raise ConnectorError(f"import worker {worker.name} stopped (exit code {worker.exitcode}) "
                                     "before finishing its share of the file") from None


def _work(task: ImportTask, index: int, workers: int, results: Any) -> None:
    """A worker's life: its share of the chunks, then _DONE; or the error that stopped it."""
    encoder = None
    try:
        with fewer_collections():
            encoder = ChunkEncoder(task)
            for _, chunk in chunks(task.path, lambda number: number % workers == index):
                results.put(encoder(chunk))
        results.put(_DONE)
    except Exception as e:  # noqa: BLE001 - handed to the importing process, which raises it
        results.put(_picklable(e))
    finally:
        if encoder is not None:
            encoder.close()


def _picklable(error: Exception) -> Exception:
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:  # noqa: BLE001 - any exception that does not survive the trip
        return ConnectorError(f"import worker failed: {type(error).__name__}: {error}")
