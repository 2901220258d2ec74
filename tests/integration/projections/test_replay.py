"""Dropping the projections and replaying the log reproduces the live state."""

from __future__ import annotations

import copy

import pytest

from producers import InteractionProducer
from projections.replay import log_size, replay
from panorama.errors import ProjectionError
from projections.sink import EventsSink, assign_from_beginning, sink_consumer
from tests.integration.projections.population import population

pytestmark = pytest.mark.integration

STATE_QUERIES = {
    "events": "SELECT * EXCEPT (kafka_partition, kafka_offset) FROM events ORDER BY event_id",
    "rfm": "SELECT * FROM rfm ORDER BY customer_id",
    "cohort_retention": "SELECT * FROM cohort_retention ORDER BY cohort_month, months_since_first",
    "campaign_performance": "SELECT * FROM campaign_performance ORDER BY campaign_id",
    "channel_mix": "SELECT * FROM channel_mix ORDER BY month, channel",
    "daily_channel_activity": "SELECT * FROM daily_channel_activity ORDER BY day, channel",
    "daily_revenue": "SELECT * FROM daily_revenue ORDER BY day, channel, currency",
}


def snapshot(store) -> dict[str, list]:
    return {name: store.query(sql).rows for name, sql in STATE_QUERIES.items()}


def test_replay_reproduces_the_live_state(store_settings, store):
    records = population(400, seed=3)
    with InteractionProducer(store_settings) as producer:
        assert producer.send_and_wait(records, timeout=60).ok
        EventsSink(store_settings, store, batch_size=1_000).run(until_caught_up=True)
        assert producer.send_and_wait([copy.deepcopy(r) for r in records[::5]], timeout=60).ok  # duplicates
    EventsSink(store_settings, store, batch_size=1_000).run(until_caught_up=True)
    live = snapshot(store)
    assert len(live["events"]) == len(records)

    progress = []
    stats = replay(store_settings, store, on_progress=progress.append, batch_size=3_000)
    assert stats.events == sum(progress) == log_size(store_settings)
    assert snapshot(store) == live

    later = population(20, seed=4)
    with InteractionProducer(store_settings) as producer:
        assert producer.send_and_wait(later, timeout=60).ok
    assert EventsSink(store_settings, store).run(until_caught_up=True).events == len(later), \
        "the live sink continues where the replay stopped"


def test_replay_reads_every_partition_without_joining_the_group_and_names_a_missing_topic(store_settings):
    consumer = sink_consumer(store_settings, f"{store_settings.topic_prefix}.replay-probe", "replay-probe")
    try:
        topic = store_settings.topics.interactions
        assigned = assign_from_beginning(consumer, [topic])
        assert sorted(tp.partition for tp in assigned) == list(range(store_settings.interactions_partitions))
        assert {tp.partition for tp in consumer.assignment()} == {tp.partition for tp in assigned}
        with pytest.raises(ProjectionError, match="cannot replay topic 'no-such-topic-here'"):
            assign_from_beginning(consumer, [topic, "no-such-topic-here"])
    finally:
        consumer.close()
