"""RFM, cohorts, campaigns, channel mix and the funnel from SQL equal the same metrics
computed in Python per customer, identities stitched from the events alone.

The demo population keeps its own identities (anonymous visits, e-mails keyed by address,
orders by user id); a real worker resolves them and the record sink loads its identity and
signal records. Every fourth customer's sign-up arrives late (and its first order was a
guest checkout by e-mail), so each view is checked twice: before it (those customers count
as several) and after it, when their past anonymous and e-mail activity has moved into the
customer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from panorama.stack.topics import ensure_topics
from projections.sink import EventsSink
from projections.store import analytics_store
from streams.identity.nodes import NodeNamer
from tests.integration.projections import ground_truth
from tests.integration.projections.population import late_stitched
from tests.integration.projections.test_record_sink import sink_records
from tests.integration.streams.population import (
    START_US, population, wait_until_caught_up, wait_until_signals_settled, worker_thread,
)
from tests.integration.streams.test_profiles import produce

pytestmark = pytest.mark.integration

NOW = START_US + 365 * ground_truth.DAY_US
BEFORE, AFTER = "before late sign-ups", "after late sign-ups"
VIEWS = ("rfm", "cohort_retention", "campaign_performance", "channel_mix", "email_to_order_funnel")


@dataclass
class Phase:
    """What was produced so far, who its customers are, and every view's rows then."""

    events: list[tuple[str, dict]]  # (customer, record)
    customer_named: dict[str, str]  # a customer id the views may show -> our name for that customer
    rows: dict[str, list[dict]]

    def by_customer(self, view: str) -> dict[str, dict]:
        """The view's rows keyed by our name for their customer_id; two ids for one
        customer (a stitch the SQL missed) fail here."""
        found = {}
        for row in self.rows[view]:
            row = dict(row)
            customer = self.customer_named[row.pop("customer_id")]
            assert customer not in found, f"{view}: one customer under two customer ids"
            found[customer] = row
        return found


@pytest.fixture(scope="module")
def module_settings(stack, tmp_path_factory):
    """Topics and a chDB directory shared by this module's read-only tests."""
    mine = stack.model_copy(update={"topic_prefix": f"t{uuid.uuid4().hex[:10]}",
                                    "data_dir": tmp_path_factory.mktemp("analytics")})
    ensure_topics(mine)
    return mine


@pytest.fixture(scope="module")
def phases(module_settings) -> dict[str, Phase]:
    """The population through worker and sinks in two steps; the views read after each."""
    settings = module_settings
    early, late = late_stitched(population(240, seed=23))
    namer = NodeNamer(settings.routing_key_secret.get_secret_value().encode())
    found, sent = {}, []
    with analytics_store(settings) as store, worker_thread(settings, signal_debounce_s=0, clock=lambda: NOW):
        for phase, batch in ((BEFORE, early), (AFTER, late)):
            produce(settings, batch)
            sent += batch
            wait_until_caught_up(settings)
            wait_until_signals_settled(settings, NOW)
            EventsSink(settings, store, batch_size=4_000, batch_seconds=0.2).run(until_caught_up=True)
            sink_records(settings, store)
            customers, named = ground_truth.stitch(sent, namer)
            found[phase] = Phase(list(zip(customers, sent)), named,
                                 {view: store.query(f"SELECT * FROM {view}").as_dicts() for view in VIEWS})
    return found


@pytest.mark.parametrize("phase", [BEFORE, AFTER])
def test_rfm_scores_and_tiers(phases, phase):
    expected = ground_truth.rfm(phases[phase].events)
    assert phases[phase].by_customer("rfm") == expected
    assert {r["value_tier"] for r in expected.values()} == {"high", "mid", "low"}


@pytest.mark.parametrize("phase", [BEFORE, AFTER])
def test_cohort_retention(phases, phase):
    expected = ground_truth.cohort_retention(phases[phase].events)
    rows = phases[phase].rows["cohort_retention"]
    actual = {(r["cohort_month"], r["months_since_first"]): (r["customers"], r["cohort_size"]) for r in rows}
    assert actual == expected
    for r in rows:
        assert r["retention"] == pytest.approx(r["customers"] / r["cohort_size"])


@pytest.mark.parametrize("phase", [BEFORE, AFTER])
def test_campaign_performance(phases, phase):
    expected = ground_truth.campaign_performance(phases[phase].events)
    rows = phases[phase].rows["campaign_performance"]
    actual = {r["campaign_id"]: {k: r[k] for k in expected[r["campaign_id"]]} for r in rows}
    assert actual == expected
    assert sum(c["conversions"] for c in expected.values()) > 0, "the population must exercise attribution"
    for r in rows:
        assert r["open_rate"] == pytest.approx(r["openers"] / r["recipients"])
        assert r["click_rate"] == pytest.approx(r["clickers"] / r["recipients"])


@pytest.mark.parametrize("phase", [BEFORE, AFTER])
def test_channel_mix(phases, phase):
    expected = ground_truth.channel_mix(phases[phase].events)
    rows = phases[phase].rows["channel_mix"]
    assert {(r["month"], r["channel"]): (r["events"], r["customers"]) for r in rows} == expected
    for r in rows:
        month_total = sum(n for (month, _), (n, _) in expected.items() if month == r["month"])
        assert r["share_of_events"] == pytest.approx(r["events"] / month_total)


@pytest.mark.parametrize("phase", [BEFORE, AFTER])
def test_email_to_order_funnel(phases, phase):
    expected = ground_truth.email_to_order_funnel(phases[phase].events)
    assert {r["steps_completed"]: r["customers"] for r in phases[phase].rows["email_to_order_funnel"]} == expected
    assert expected.get(3, 0) > 0


def test_a_late_sign_up_changes_past_results(phases):
    """The held-back sign-ups merge customers: fewer customers per channel and month and in
    RFM (a guest order joins the customer's later ones), and clicks by e-mail now
    attributed to orders placed under the user id."""
    before, after = phases[BEFORE], phases[AFTER]
    assert len({c for c, _ in after.events}) < len({c for c, _ in before.events})
    assert len(after.rows["rfm"]) < len(before.rows["rfm"])
    assert sum(r["customers"] for r in after.rows["channel_mix"]) < sum(r["customers"] for r in before.rows["channel_mix"])
    conversions = [sum(r["conversions"] for r in p.rows["campaign_performance"]) for p in (before, after)]
    assert conversions[1] > conversions[0]
