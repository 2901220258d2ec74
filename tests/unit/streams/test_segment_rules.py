"""The segment rule language: validation names the place of the problem, evaluation over
a customer's fields, and timers that say exactly when a time-based rule changes."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.profiles.fold import fold
from streams.segments.live import evaluate_customer
from streams.segments.rules import DAY_US, RuleError, compile_rule
from panorama.privacy.keystore import KeyStore, forgotten_key, is_forgotten
from streams.segments.store import Segment, check_rule, check_segment_id
from streams.segments.view import personal_traits, profile_content, segment_fields
from streams.signals.rules import SignalRules, evaluate
from tests.unit.streams.budget import examples
from tests.unit.streams.events import histories

NOW = 20_000 * DAY_US + 13 * 3_600_000_000  # 2024-10-04 13:00 UTC


def _fields(**overrides) -> dict:
    base = {"orders": 3, "events": 10, "lifecycle.stage": "at_risk", "churn_risk.score": 40, "churn_risk.level": "medium",
            "last_purchase": NOW - 100 * DAY_US, "first_seen": NOW - 400 * DAY_US, "products": {"p-a"},
            "categories": set(), "revenue_minor": {"EUR": 12_000}, "events_by_type": {"email_opened": 2},
            "events_by_channel": {}, "traits": {"tier": "gold", "birthday": "1990-10-09"},
            "consent": {"marketing": True, "marketing:email": False}}
    return base | overrides


@pytest.mark.parametrize(("rule", "where", "problem"), [
    ({"field": "nope", "op": "=", "value": 1}, "rule.field", "unknown field 'nope'"),
    ({"all": [{"field": "orders", "op": "~", "value": 1}]}, "rule.all[0].op", "'~' is not one of"),
    ({"any": [{"not": {"field": "orders", "op": ">="}}]}, "rule.any[0].not.value", "needs a value"),
    ({"field": "lifecycle.stage", "op": "in", "value": "at_risk"}, "rule.value", "non-empty list"),
    ({"field": "orders", "op": ">", "value": "2"}, "rule.value", "needs a number"),
    ({"field": "orders", "op": "older_than_days", "value": 3}, "rule.value", "needs an instant field"),
    ({"field": "last_purchase", "op": "within_last_days", "value": 0}, "rule.value", "from 1 to"),
    ({"field": "products", "op": "=", "value": "p-a"}, "rule.value", "use 'contains'"),
    ({"field": "orders", "op": "=", "value": 1, "limit": 3}, "rule.limit", "not allowed here"),
    ({"all": {"field": "orders"}}, "rule.all", "must be a list"),
    ([], "rule", "must be an object"),
    ({"all": [], "any": []}, "rule.any", "not allowed here"),
])
def test_a_bad_rule_is_refused_naming_the_place_and_the_problem(rule, where, problem):
    with pytest.raises(RuleError) as refused:
        compile_rule(rule)
    assert refused.value.field == where and problem in refused.value.problem


def test_a_rule_naming_a_person_or_a_bad_id_is_refused():
    with pytest.raises(RuleError, match="may not name a person"):
        check_rule({"any": [{"field": "traits.company", "op": "=", "value": "ana@example.com"}]})
    assert check_rule({"field": "orders", "op": ">", "value": 100_000}).matches(_fields(orders=100_001), NOW)
    for bad in ("Win-Back", "", "-x", "a" * 65, "a b"):
        with pytest.raises(RuleError, match="lowercase letters"):
            check_segment_id(bad)
    assert check_segment_id("win-back_2") == "win-back_2"


def test_the_forgotten_list_is_the_key_stores():
    assert forgotten_key("ws") == KeyStore.forgotten_key.fget(SimpleNamespace(ns="ws"))
    assert is_forgotten(b"1700000000000000") and not is_forgotten(b"1700000000000000:lifted")
    assert not is_forgotten(None)


def test_depth_and_size_are_bounded():
    deep = {"field": "orders", "op": ">", "value": 1}
    for _ in range(8):
        deep = {"not": deep}
    with pytest.raises(RuleError, match="deeper than 8"):
        compile_rule(deep)
    with pytest.raises(RuleError, match="more than 100 conditions"):
        compile_rule({"all": [{"field": "orders", "op": ">", "value": n} for n in range(101)]})


@pytest.mark.parametrize(("rule", "expected"), [
    ({"all": [{"field": "lifecycle.stage", "op": "in", "value": ["at_risk", "churned"]},
              {"field": "orders", "op": ">=", "value": 2}]}, True),
    ({"all": [{"field": "lifecycle.stage", "op": "in", "value": ["at_risk"]},
              {"field": "orders", "op": ">=", "value": 4}]}, False),
    ({"any": [{"field": "orders", "op": ">=", "value": 4}, {"field": "traits.tier", "op": "=", "value": "gold"}]}, True),
    ({"not": {"field": "traits.tier", "op": "=", "value": "gold"}}, False),
    ({"field": "traits.missing", "op": "exists"}, False),
    ({"field": "traits.missing", "op": "exists", "value": False}, True),
    ({"field": "traits.missing", "op": "=", "value": "x"}, False),
    ({"field": "traits.tier", "op": ">", "value": 1}, False),  # a string is not ordered against a number
    ({"field": "revenue_minor.EUR", "op": ">", "value": 10_000}, True),
    ({"field": "revenue_minor.JPY", "op": "=", "value": 0}, True),  # absent counts are 0
    ({"field": "events_by_type.email_opened", "op": ">=", "value": 2}, True),
    ({"field": "products", "op": "contains", "value": "p-a"}, True),
    ({"field": "categories", "op": "contains", "value": "home"}, False),
    ({"field": "consent.marketing:email", "op": "=", "value": True}, False),
    ({"field": "consent.marketing", "op": "=", "value": True}, True),
    ({"field": "last_purchase", "op": "older_than_days", "value": 90}, True),
    ({"field": "last_purchase", "op": "within_last_days", "value": 90}, False),
    ({"field": "traits.birthday", "op": "anniversary_within_days", "value": 7}, True),  # 9 Oct, 5 days away
    ({"field": "traits.birthday", "op": "anniversary_within_days", "value": 5}, False),
    ({"all": []}, True),
    ({"any": []}, False),
])
def test_rules_evaluate_over_the_fields(rule, expected):
    assert compile_rule(rule).matches(_fields(), NOW) is expected


def test_anniversary_counts_today_and_moves_29_february_to_the_28th():
    today = {"field": "traits.birthday", "op": "anniversary_within_days", "value": 1}
    assert compile_rule(today).matches(_fields(traits={"birthday": "1980-10-04"}), NOW)
    assert not compile_rule(today).matches(_fields(traits={"birthday": "1980-10-03"}), NOW)
    feb_28_2025 = int(datetime(2025, 2, 28, 9, tzinfo=UTC).timestamp() * 1e6)
    assert compile_rule(today).matches(_fields(traits={"birthday": "2000-02-29"}), feb_28_2025)
    assert not compile_rule(today).matches(_fields(traits={"birthday": "not a date"}), feb_28_2025)


@given(at_day=st.integers(0, 30_000), offset_us=st.integers(0, DAY_US - 1), days=st.integers(1, 400),
       now_day=st.integers(0, 30_000), op=st.sampled_from(["older_than_days", "within_last_days", "anniversary_within_days"]),
       as_date=st.booleans())
@examples(2000)
def test_a_time_rule_changes_exactly_at_its_next_boundary_and_not_before(at_day, offset_us, days, now_day, op, as_date):
    if op == "anniversary_within_days":
        days = min(days, 366)
    at = at_day * DAY_US + offset_us
    found = datetime.fromtimestamp(at / 1e6, UTC).date().isoformat() if as_date or op == "anniversary_within_days" else at
    condition = compile_rule({"field": "traits.when", "op": op, "value": days})
    fields, now = _fields(traits={"when": found}), now_day * DAY_US + offset_us // 3
    boundary = min(condition.boundaries(fields, now), default=None)
    before = condition.matches(fields, now)
    if boundary is None:
        return
    assert boundary > now
    assert condition.matches(fields, boundary - 1) is before, "changed before its announced boundary"
    assert condition.matches(fields, boundary) is not before or op == "anniversary_within_days" and days >= 365


def _order(n: int, day: int, **extra) -> dict:
    return {"event_id": f"e{n}", "type": "order_placed", "occurred_at": NOW - day * DAY_US, "source": {"channel": "web"},
            "identities": {"user_id": "u"}, "consent": {},
            "order": {"order_id": f"o{n}", "total": {"amount_minor": 500, "currency": "EUR"}, "line_items": []}} | extra


def test_a_customer_evaluation_gives_membership_and_the_earliest_change_of_signals_and_segments():
    partial = fold([_order(0, 20), _order(1, 50)])
    lapsing = Segment("lapsing", {}, condition=compile_rule({"field": "last_purchase", "op": "older_than_days", "value": 25}))
    buyers = Segment("buyers", {}, condition=compile_rule({"field": "orders", "op": ">=", "value": 2}))
    found = evaluate_customer("c1", partial, NOW, SignalRules(), [lapsing, buyers])
    signals = evaluate(partial, NOW)
    assert found.segments == {"buyers"} and found.signals == signals
    assert found.next_change == min(NOW - 20 * DAY_US + 25 * DAY_US, signals.next_change)
    later = evaluate_customer("c1", partial, found.next_change, SignalRules(), [lapsing, buyers])
    assert later.segments == {"buyers", "lapsing"}
    assert evaluate_customer("c1", partial, NOW, SignalRules(), []).next_change == signals.next_change


def test_the_profile_record_holds_no_personal_trait_and_no_identity():
    identify = {"event_id": "e9", "type": "identify", "occurred_at": NOW - DAY_US, "source": {"channel": "web"},
                "identities": {"user_id": "u", "email": "ana@example.com"}, "consent": {},
                "traits": {"first_name": "Ana", "email": "ana@example.com", "birthday": "1990-01-02", "company": "Acme"}}
    partial = fold([_order(0, 3), identify])
    content = profile_content("user_id:abc", partial, evaluate(partial, NOW))
    assert {"first_name", "email", "birthday", "phone", "address", "last_name"} <= personal_traits()
    assert content["traits"] == {"company": "Acme"}
    assert content["orders"] == 1 and content["revenue_minor"] == 500 and content["currency"] == "EUR"
    assert "ana@example.com" not in str(content) and content["deleted"] is False
    assert segment_fields(partial, evaluate(partial, NOW))["traits"]["birthday"] == "1990-01-02"


TIMED = [Segment(name, {}, condition=compile_rule(rule)) for name, rule in {
    "lapsed": {"all": [{"field": "lifecycle.stage", "op": "in", "value": ["at_risk", "churned"]},
                       {"not": {"field": "consent.marketing", "op": "=", "value": False}}]},
    "recent": {"any": [{"field": "last_purchase", "op": "within_last_days", "value": 45},
                       {"field": "first_seen", "op": "within_last_days", "value": 10}]},
    "quiet": {"not": {"field": "last_seen", "op": "within_last_days", "value": 60}},
    "risky": {"field": "churn_risk.score", "op": ">=", "value": 25},
}.items()]


@given(history=histories(), now_half_days=st.integers(0, 1200), fraction=st.floats(0, 1))
@examples(2000)
def test_membership_holds_until_the_announced_next_change(history, now_half_days, fraction):
    events = [e | {"occurred_at": e["occurred_at"] * 40 * DAY_US} for e in history]  # days apart, not µs
    partial, now = fold(events), now_half_days * DAY_US // 2
    first = evaluate_customer("c", partial, now, SignalRules(), TIMED)
    until = first.next_change if first.next_change is not None else now + 20 * 365 * DAY_US
    assert until > now
    later = evaluate_customer("c", partial, now + int((until - 1 - now) * fraction), SignalRules(), TIMED)
    assert (later.segments, later.signals.stage) == (first.segments, first.signals.stage)
