"""How the worker's loop shares a turn between folding and signals (streams.worker.SignalTurns):
the sweep stays within its time budget, yields to waiting events after a slice, drains every
partition over turns, and only outboxes that may hold new records are read."""

from streams.worker import OUTBOX_SCAN_S, SWEEP_REST_S, SWEEP_SLICE, SignalTurns


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Sweeper:
    """Due customers per partition; each slice costs ``slice_s`` of the fake clock."""

    def __init__(self, clock: Clock, due: dict[int, int], slice_s: float):
        self.clock, self.due, self.slice_s = clock, due, slice_s
        self.evaluated = self.taken = 0
        self.calls: list[int] = []

    def sweep(self, partition: int, now: int, limit: int) -> int:
        self.calls.append(partition)
        self.clock.now += self.slice_s
        taken = min(limit, self.due.get(partition, 0))
        self.due[partition] = self.due.get(partition, 0) - taken
        self.evaluated += taken
        self.taken += taken
        return taken


class Outbox:
    def __init__(self):
        self.published: list[str] = []
        self.settled = 0

    def publish(self, key: str) -> int:
        self.published.append(key)
        return 1

    def settle(self) -> int:
        self.settled += 1
        return 0


def nothing_waiting() -> bool:
    """No event is waiting for the loop."""
    return False


def _turns(due: dict[int, int], slice_s: float, budget_s: float = 0.005):
    clock = Clock()
    sweeper, outbox = Sweeper(clock, due, slice_s), Outbox()
    return SignalTurns(sweeper, outbox, lambda p: f"out:{p}", budget_s, timer=clock), sweeper, outbox, clock


def test_a_turn_stops_at_its_budget_and_the_next_turns_drain_every_partition_in_turn():
    turns, sweeper, _outbox, clock = _turns({0: 10 * SWEEP_SLICE, 1: 10 * SWEEP_SLICE, 2: 0}, slice_s=0.002)
    signals, _ = turns.run([0, 1, 2], now=1, waiting=nothing_waiting)
    assert sweeper.calls == [0, 1, 2] and signals == 2 * SWEEP_SLICE  # 6 ms > 5 ms budget: stop
    for _ in range(40):
        clock.now += 0.01  # the fold's share of the turn
        turns.run([0, 1, 2], now=1, waiting=nothing_waiting)
    assert sweeper.due == {0: 0, 1: 0, 2: 0}


def test_waiting_events_end_a_turn_after_one_slice_and_nothing_due_ends_it_early():
    turns, sweeper, _outbox, _clock = _turns({0: 100, 1: 100}, slice_s=0.0001)
    turns.run([0, 1], now=1, waiting=lambda: True)
    turns.run([0, 1], now=1, waiting=lambda: True)
    assert sweeper.calls == [0, 1]  # one slice a turn, taking the partitions in turn
    arrivals = iter([False, False, True])  # an event arrives during the third slice
    turns.run([0, 1], now=1, waiting=lambda: next(arrivals))
    assert sweeper.calls == [0, 1, 0, 1, 0]  # well within the 5 ms budget, yet it stops for the event
    turns, sweeper, _outbox, _clock = _turns({}, slice_s=0.0001, budget_s=10.0)
    assert turns.run([0, 1], now=1, waiting=nothing_waiting)[0] == 0
    assert sorted(sweeper.calls) == [0, 1]  # each swept once, found nothing, done long before the budget


def test_only_outboxes_written_to_are_read_except_for_the_periodic_scan():
    turns, _sweeper, outbox, clock = _turns({1: 3}, slice_s=0.0001)
    turns.run([0, 1, 2], now=1, waiting=nothing_waiting)
    assert outbox.published == ["out:0", "out:1", "out:2"]  # the first turn scans every owned outbox
    outbox.published.clear()
    turns.run([0, 1, 2], now=1, waiting=nothing_waiting)
    assert outbox.published == [] and outbox.settled == 1  # nothing new: only acknowledgements are settled
    turns.outbox_written(2)  # a batch with merges
    turns.outbox_written(7)  # a partition no longer owned: not ours to publish
    turns.sweeper.due[0] = 1
    clock.now += SWEEP_REST_S  # partition 0 found nothing last time: it rested
    turns.run([0, 1, 2], now=1, waiting=nothing_waiting)
    assert outbox.published == ["out:0", "out:2"]
    outbox.published.clear()
    clock.now += OUTBOX_SCAN_S
    turns.run([0, 1, 2], now=1, waiting=nothing_waiting)
    assert outbox.published == ["out:0", "out:1", "out:2"]


def test_a_partition_with_nothing_backlogged_rests_and_a_backlogged_one_does_not():
    turns, sweeper, _outbox, clock = _turns({0: 3 * SWEEP_SLICE, 1: 2}, slice_s=0.0001, budget_s=0.0001)
    for _ in range(6):
        turns.run([0, 1], now=1, waiting=nothing_waiting)
        clock.now += 0.01
    assert sweeper.calls.count(0) >= 3 and sweeper.due[0] == 0  # full slices: swept on every turn it came up
    assert sweeper.calls.count(1) == 1  # 2 due, both taken in one slice; then it rests
    sweeper.due[1] = 5
    clock.now += SWEEP_REST_S
    turns.run([1], now=1, waiting=nothing_waiting)
    assert sweeper.due[1] == 0


class Queue:
    """A consumer's local queue: ``arrivals`` lands when a blocking consume waits."""

    def __init__(self, queued: int, arrivals: int = 0):
        self.queued, self.arrivals = queued, arrivals
        self.calls: list[tuple[int, float]] = []

    def consume(self, num: int, timeout: float) -> list[int]:
        self.calls.append((num, timeout))
        if timeout and not self.queued:
            self.queued, self.arrivals = self.arrivals, 0
        taken = min(num, self.queued)
        self.queued -= taken
        return list(range(taken))


def test_a_busy_worker_takes_what_is_queued_without_waiting_and_an_idle_one_waits_for_the_first():
    from streams.worker import next_batch

    busy = Queue(queued=300)
    assert len(next_batch(busy, 5000, 0.01)) == 300 and busy.calls == [(5000, 0)]
    idle = Queue(queued=0, arrivals=40)
    assert len(next_batch(idle, 5000, 0.01)) == 40
    assert idle.calls == [(5000, 0), (1, 0.01), (4999, 0)]  # returns on the first arrival, not after 10 ms
    quiet = Queue(queued=0)
    assert next_batch(quiet, 5000, 0.01) == [] and quiet.calls == [(5000, 0), (1, 0.01)]


def test_full_collections_are_rare_and_skip_the_startup_objects():
    import gc

    from panorama.gc_pauses import FULL_GC_EVERY, quiet_full_collections

    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # CPython's defaults (a worker run earlier in this process raised them)
    try:
        quiet_full_collections()
        assert gc.get_threshold() == (700, 10, FULL_GC_EVERY) and FULL_GC_EVERY > 10
        assert gc.get_freeze_count() > 1000  # modules and codecs: out of every pass
        assert gc.isenabled()  # young cycles are still collected
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
