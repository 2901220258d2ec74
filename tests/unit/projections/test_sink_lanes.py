"""How the events sink splits a batch into insert lanes."""

from __future__ import annotations

from projections.sink import LANE_MIN_EVENTS, insert_lanes


def test_a_batch_is_split_only_into_lanes_of_at_least_the_minimum():
    assert insert_lanes(2 * LANE_MIN_EVENTS - 1, 2) == 1
    assert insert_lanes(2 * LANE_MIN_EVENTS, 2) == 2
    assert insert_lanes(100 * LANE_MIN_EVENTS, 2) == 2


def test_one_writer_or_a_small_batch_inserts_it_whole():
    assert insert_lanes(100 * LANE_MIN_EVENTS, 1) == 1
    assert insert_lanes(1, 4) == 1
