"""RFM, cohorts and campaign metrics from SQL equal the same metrics computed in Python."""

from __future__ import annotations

import uuid

import pytest

from panorama.stack.topics import ensure_topics
from producers import InteractionProducer
from projections.sink import EventsSink
from projections.store import analytics_store
from tests.integration.projections import ground_truth
from tests.integration.projections.population import customer_keys, population

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def module_settings(stack, tmp_path_factory):
    """Topics and a chDB directory shared by this module's read-only tests."""
    mine = stack.model_copy(update={"topic_prefix": f"t{uuid.uuid4().hex[:10]}",
                                    "data_dir": tmp_path_factory.mktemp("analytics")})
    ensure_topics(mine)
    return mine


@pytest.fixture(scope="module")
def store(module_settings):
    with analytics_store(module_settings) as backend:
        yield backend


@pytest.fixture(scope="module")
def loaded(module_settings, store):
    """A population produced to Kafka and sunk; (customer key, record) of every event."""
    records = population(1_000, seed=23)
    with InteractionProducer(module_settings) as producer:
        assert producer.send_and_wait(records, timeout=120).ok
    EventsSink(module_settings, store, batch_size=4_000).run(until_caught_up=True)
    return list(zip(customer_keys(module_settings, records), records))


def test_rfm_scores_and_tiers(store, loaded):
    expected = ground_truth.rfm(loaded)
    rows = store.query("SELECT * FROM rfm").as_dicts()
    actual = {r.pop("customer_key"): r for r in rows}
    assert actual == expected
    assert {r["value_tier"] for r in expected.values()} == {"high", "mid", "low"}


def test_cohort_retention(store, loaded):
    expected = ground_truth.cohort_retention(loaded)
    rows = store.query("SELECT * FROM cohort_retention").as_dicts()
    actual = {(r["cohort_month"], r["months_since_first"]): (r["customers"], r["cohort_size"]) for r in rows}
    assert actual == expected
    for r in rows:
        assert r["retention"] == pytest.approx(r["customers"] / r["cohort_size"])


def test_campaign_performance(store, loaded):
    expected = ground_truth.campaign_performance(loaded)
    rows = store.query("SELECT * FROM campaign_performance").as_dicts()
    actual = {r["campaign_id"]: {k: r[k] for k in expected[r["campaign_id"]]} for r in rows}
    assert actual == expected
    assert sum(c["conversions"] for c in expected.values()) > 0, "the population must exercise attribution"
    for r in rows:
        assert r["open_rate"] == pytest.approx(r["openers"] / r["recipients"])
        assert r["click_rate"] == pytest.approx(r["clickers"] / r["recipients"])


def test_channel_mix_and_funnel_cover_every_event(store, loaded):
    assert store.query("SELECT sum(events) FROM channel_mix").scalar() == len(loaded)
    shares = store.query("SELECT month, sum(share_of_events) FROM channel_mix GROUP BY month").rows
    assert all(total == pytest.approx(1.0) for _, total in shares)
    steps = dict(store.query("SELECT steps_completed, customers FROM email_to_order_funnel").rows)
    assert set(steps) <= {0, 1, 2, 3} and steps.get(3, 0) > 0
