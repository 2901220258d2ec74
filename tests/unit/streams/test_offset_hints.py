"""The worker's Kafka offset hints: one commit request per interval, nothing lost on the way."""

from confluent_kafka import KafkaException

from streams.offset_hints import OffsetHints


class RecordingConsumer:
    """Stands in for the Kafka consumer's ``commit`` only (a unit test: no broker)."""

    def __init__(self, fail: bool = False):
        self.commits: list[tuple[dict[int, int], bool]] = []
        self.fail = fail

    def commit(self, offsets, asynchronous):
        if self.fail:
            raise KafkaException("lost partition")
        self.commits.append(({tp.partition: tp.offset for tp in offsets}, asynchronous))


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_offsets_wait_for_the_interval_and_go_in_one_request():
    consumer, clock = RecordingConsumer(), Clock()
    hints = OffsetHints(consumer, "t", interval_s=1.0, timer=clock)
    for offset in range(1, 50):
        hints.advanced(offset % 3, offset)
        clock.now += 0.01
        hints.tick()
    assert consumer.commits == []
    clock.now = 1.0
    hints.tick()
    assert consumer.commits == [({0: 48, 1: 49, 2: 47}, True)]  # the newest offset of each partition
    hints.tick()
    clock.now = 5.0
    hints.tick()
    assert len(consumer.commits) == 1  # nothing new: no request


def test_a_revoke_commits_its_partitions_at_once_and_close_the_rest():
    consumer, clock = RecordingConsumer(), Clock()
    hints = OffsetHints(consumer, "t", interval_s=1.0, timer=clock)
    hints.advanced(0, 10)
    hints.advanced(1, 20)
    hints.commit([1, 7], asynchronous=False)
    assert consumer.commits == [({1: 20}, False)]
    hints.commit(asynchronous=False)
    assert consumer.commits[-1] == ({0: 10}, False)
    hints.commit(asynchronous=False)
    assert len(consumer.commits) == 2


def test_a_refused_commit_is_only_a_missed_hint():
    hints = OffsetHints(RecordingConsumer(fail=True), "t", interval_s=0.0)
    hints.advanced(0, 10)
    hints.commit(asynchronous=False)  # does not raise: the position that counts is in Redis
    hints.tick()
