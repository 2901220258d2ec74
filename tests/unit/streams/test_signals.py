"""Lifecycle stage and churn risk: the rules, the customer's own rhythm, and timers that
say exactly when the result would next change."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams.profiles.fold import fold
from streams.signals.rules import DAY_US, evaluate
from tests.unit.streams.budget import examples

NOW = 1000 * DAY_US


def _event(n: int, day: float, type_: str = "order_placed", **payload) -> dict:
    if type_ == "order_placed" and not payload:
        payload = {"order": {"order_id": f"o{n}", "total": {"amount_minor": 100, "currency": "EUR"}, "line_items": []}}
    return {"event_id": f"e{n}", "type": type_, "occurred_at": int(NOW - day * DAY_US), "source": {"channel": "web"},
            "identities": {"user_id": "u"}, "consent": {}} | payload


def _orders(*days_ago: float) -> list[dict]:
    return [_event(i, d) for i, d in enumerate(days_ago)]


def test_stages_follow_purchase_recency_and_frequency():
    assert evaluate(fold([_event(0, 1, "page")]), NOW).stage == "prospect"
    assert evaluate(fold(_orders(10)), NOW).stage == "new"
    assert evaluate(fold(_orders(40, 70)), NOW).stage == "active"
    assert evaluate(fold(_orders(5, 30, 60, 90, 120)), NOW).stage == "loyal"
    assert evaluate(fold(_orders(100, 130)), NOW).stage == "at_risk"
    assert evaluate(fold(_orders(200, 230)), NOW).stage == "churned"
    assert evaluate(fold(_orders(20, 300, 330)), NOW).stage == "won_back"


def test_inactivity_is_measured_against_the_customers_own_rhythm():
    weekly = evaluate(fold(_orders(30, 37, 44, 51)), NOW)  # buys every 7 days, silent for 30
    quarterly = evaluate(fold(_orders(30, 120, 210)), NOW)  # buys every 90 days, silent for 30
    assert [r.code for r in weekly.reasons] == ["inactive"] and weekly.score == 60 and weekly.level == "high"
    assert "4.3x their usual 7-day rhythm" in weekly.reasons[0].detail
    assert quarterly.reasons == () and quarterly.score == 0 and quarterly.level == "low"


def test_negative_signals_add_up_with_their_reasons():
    events = _orders(5, 12) + [
        _event(10, 3, "ticket_opened", ticket={"ticket_id": "T-1", "status": "open"}),
        _event(11, 2, "email_unsubscribed"),
        _event(12, 2, "order_refunded", refund={"amount": {"amount_minor": 100, "currency": "EUR"}}),
        _event(13, 1, "survey_answered", survey={"survey_id": "s", "kind": "nps", "score": 3, "max_score": 10}),
    ]
    signals = evaluate(fold(events), NOW)
    assert {r.code: r.points for r in signals.reasons} == {
        "complaints": 5, "unresolved_tickets": 15, "unsubscribed": 10, "refunds": 10, "low_nps": 15}
    assert signals.score == 55 and signals.level == "medium"
    resolved = events + [_event(14, 0.5, "ticket_resolved", ticket={"ticket_id": "T-1", "status": "solved"})]
    assert "unresolved_tickets" not in {r.code for r in evaluate(fold(resolved), NOW).reasons}


@examples(1000)
@given(st.lists(st.floats(0, 400), max_size=6), st.floats(0, 400))
def test_nothing_changes_before_the_timer_and_the_timer_is_in_the_future(days_ago, later_days):
    partial = fold(_orders(*days_ago))
    now = evaluate(partial, NOW)
    if now.next_change is None:
        assert evaluate(partial, NOW + int(later_days * DAY_US)).fingerprint == now.fingerprint
        return
    assert now.next_change > NOW
    assert evaluate(partial, now.next_change - 1).fingerprint == now.fingerprint
    assert evaluate(partial, now.next_change - 1).stage == now.stage


@examples(1000)
@given(st.lists(st.floats(0, 400), max_size=6), st.randoms(use_true_random=False))
def test_signals_do_not_depend_on_delivery_order(days_ago, rng):
    events = _orders(*days_ago)
    shuffled = list(events)
    rng.shuffle(shuffled)
    assert evaluate(fold(shuffled), NOW) == evaluate(fold(events), NOW)
