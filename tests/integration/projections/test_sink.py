"""The events sink on the real broker and chDB: exact counts, duplicates, outages."""

from __future__ import annotations

import copy
import threading
import time

import pytest

from producers import InteractionProducer
from projections import sink as sink_module
from projections.sink import EventsSink
from tests.integration.projections.population import population

pytestmark = pytest.mark.integration


def produce(settings, records) -> None:
    with InteractionProducer(settings) as producer:
        result = producer.send_and_wait(records, timeout=60)
    assert not result.failed and not result.rejected


def sink_all(settings, store, **kwargs):
    return EventsSink(settings, store, batch_size=5_000, **kwargs).run(until_caught_up=True)


@pytest.fixture(params=["whole batches", "batches in lanes"])
def lanes(request, monkeypatch) -> str:
    """Run a test as the sink inserts a live log (each batch as one container) and as it
    inserts a replay's large batches (one container per lane, side by side)."""
    if request.param == "batches in lanes":
        monkeypatch.setattr(sink_module, "INSERT_LANES", 2)
        monkeypatch.setattr(sink_module, "LANE_MIN_EVENTS", 100)
    return request.param


def test_every_event_lands_once_and_the_group_resumes_where_it_stopped(store_settings, store, lanes):
    records = population(300)
    produce(store_settings, records)
    stats = sink_all(store_settings, store)
    assert stats.events == len(records)
    assert store.query("SELECT count(), uniqExact(event_id) FROM events").rows == [(len(records), len(records))]

    more = population(50, seed=99)
    produce(store_settings, more)
    assert sink_all(store_settings, store).events == len(more)  # committed offsets: no re-read
    assert store.query("SELECT count() FROM event_log").scalar() == len(records) + len(more)


def test_duplicates_under_different_offsets_count_once_everywhere(store_settings, store):
    records = population(200)
    duplicates = [copy.deepcopy(r) for r in records[::3]]  # same event_id, new offsets
    produce(store_settings, records)
    sink_all(store_settings, store)
    produce(store_settings, duplicates)
    sink_all(store_settings, store)  # a separate insert: the duplicates sit in another part

    assert store.query("SELECT count() FROM events").scalar() == len(records)
    orders = [r for r in records if r["type"] == "order_placed"]
    revenue = sum(r["order"]["total"]["amount_minor"] for r in orders)
    assert store.query("SELECT sum(revenue_minor) FROM daily_revenue").scalar() == revenue
    assert store.query("SELECT sum(events) FROM daily_channel_activity").scalar() == len(records)


def test_store_outage_pauses_the_sink_and_loses_nothing(store_settings, store, lanes):
    records = population(150)
    produce(store_settings, records)
    store.command("RENAME TABLE event_log TO event_log_away")  # inserts now fail: table gone
    sink = EventsSink(store_settings, store, batch_size=2_000)
    result = {}
    worker = threading.Thread(target=lambda: result.update(stats=sink.run(until_caught_up=True)))
    worker.start()
    deadline = time.monotonic() + 30
    while sink.stats.retries < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sink.stats.retries >= 2 and sink.stats.events == 0, "the sink must retry, not skip"
    store.command("RENAME TABLE event_log_away TO event_log")
    worker.join(60)
    assert not worker.is_alive()
    assert result["stats"].events == len(records)
    assert store.query("SELECT count() FROM events").scalar() == len(records)
