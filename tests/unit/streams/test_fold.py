"""Properties of the profile fold: idempotent by event id, independent of delivery order,
and mergeable (folding two disjoint halves and merging equals folding everything)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams.profiles.codec import decode_partial, encode_partial
from streams.profiles.fold import DEDUP_MEMORY, Partial, fold, merge
from streams.profiles.view import profile_view
from tests.unit.streams.budget import examples
from tests.unit.streams.events import histories


@examples(2500)
@given(histories(), st.data())
def test_applying_any_event_again_changes_nothing(events, data):
    once = fold(events)
    if events:
        replayed = data.draw(st.lists(st.sampled_from(events), max_size=6))
        assert fold(replayed, decode_partial(*encode_partial(once))) == once


@examples(2500)
@given(histories(), st.randoms(use_true_random=False))
def test_delivery_order_does_not_matter(events, rng):
    shuffled = list(events)
    rng.shuffle(shuffled)
    assert fold(shuffled) == fold(events)


@examples(2000)
@given(histories(), st.integers(0, 12))
def test_merging_disjoint_halves_equals_folding_everything(events, cut):
    assert merge(fold(events[:cut]), fold(events[cut:])) == fold(events)


@examples(1500)
@given(histories(), st.integers(0, 12), st.integers(0, 12))
def test_merge_is_commutative_and_associative(events, i, j):
    i, j = sorted((i, j))
    a, b, c = fold(events[:i]), fold(events[i:j]), fold(events[j:])
    assert merge(a, b) == merge(b, a)
    assert merge(merge(a, b), c) == merge(a, merge(b, c))
    assert merge(a, Partial()) == a


@examples(500)
@given(histories())
def test_storage_form_round_trips(events):
    partial = fold(events)
    assert decode_partial(*encode_partial(partial)) == partial


def _event(event_id: str, at: int, type_: str = "page", **payload) -> dict:
    return {"event_id": event_id, "type": type_, "occurred_at": at, "source": {"channel": "web"},
            "identities": {"user_id": "u-1"}, "consent": {}} | payload


def test_a_late_event_never_overwrites_newer_traits():
    newer = _event("b", 20, "identify", traits={"first_name": "Ana"})
    late = _event("a", 10, "identify", traits={"first_name": "Anna", "company": "Acme"})
    view = profile_view(fold([newer, late]), "c", now=100)
    assert view["traits"] == {"first_name": "Ana", "company": "Acme"}


def test_money_is_summed_in_minor_units_per_currency():
    orders = [_event(str(i), i, "order_placed", order={"order_id": str(i), "total": {"amount_minor": m, "currency": c},
                                                       "line_items": []})
              for i, (m, c) in enumerate([(1999, "EUR"), (1, "EUR"), (500, "JPY")])]
    view = profile_view(fold(orders), "c", now=100)["orders"]
    assert view["revenue_minor"] == {"EUR": 2000, "JPY": 500}
    assert view["count"] == 3
    assert view["average_order_value_minor"] == {"EUR": 667, "JPY": 167}
    assert all(isinstance(v, int) for v in view["revenue_minor"].values())


def test_dedup_memory_is_bounded():
    partial = fold(_event(f"e{i}", i) for i in range(5 * DEDUP_MEMORY))
    assert DEDUP_MEMORY <= len(partial.recent) <= 2 * DEDUP_MEMORY
    assert f"e{5 * DEDUP_MEMORY - 1}" in partial.recent
    assert partial.events == 5 * DEDUP_MEMORY


def test_a_duplicate_within_the_memory_is_dropped_even_after_many_events():
    events = [_event(f"e{i}", i) for i in range(DEDUP_MEMORY)]
    partial = fold(events + [events[0]])
    assert partial.events == DEDUP_MEMORY
