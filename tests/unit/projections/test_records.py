"""Record topics -> rows: what each record becomes, and bad records named by field."""

from __future__ import annotations

import re

import pytest

from projections import ddl, records
from projections.records import RecordError, Rows

SIGNAL = {"id": "s1", "customer_id": "user_id:aa", "seq": 3, "stage": "active", "previous_stage": "new",
          "churn_risk": {"score": 40, "level": "medium", "reasons": [{"code": "inactive", "points": 40, "detail": "x"}]},
          "recorded_at": 1_700_000_000_000_000}
PROFILE = {"id": "p1", "customer_id": "email:bb", "version": 7, "first_seen_at": None, "last_seen_at": 5,
           "lifecycle_stage": "prospect", "orders": 0, "revenue_minor": 0, "currency": "", "traits": {"plan": "free"},
           "deleted": False, "recorded_at": 9}
SEGMENT = {"id": "g1", "segment_id": "vip", "customer_id": "user_id:aa", "is_member": True, "version": 2,
           "changed_at": 11, "recorded_at": 12}


def rows_of(mapper, record) -> dict[str, list[dict]]:
    rows = Rows()
    mapper(record, rows)
    return {table: data.to_pylist() for table, data in rows.tables().items()}


def test_a_merge_points_the_winner_and_every_moved_node_at_the_winner():
    found = rows_of(records.identity, {"action": "merge", "winner": "user_id:aa", "loser": "anonymous_id:cc",
                                       "moved": ["anonymous_id:cc", "external:shop:dd"], "recorded_at": 50})
    assert found == {"identity_links": [
        {"kind": "user_id", "identity_hash": "aa", "customer_id": "user_id:aa", "version": 50 * 4096 + 3, "deleted": 0},
        {"kind": "anonymous_id", "identity_hash": "cc", "customer_id": "user_id:aa", "version": 50 * 4096 + 3, "deleted": 0},
        {"kind": "external:shop", "identity_hash": "dd", "customer_id": "user_id:aa", "version": 50 * 4096 + 3, "deleted": 0},
    ]}


def test_an_unmerge_points_each_side_at_its_own_root():
    found = rows_of(records.identity, {"action": "unmerge", "customers": ["user_id:aa", "email:bb"],
                                       "sides": [["user_id:aa", "device_id:ee"], ["email:bb"]], "recorded_at": 60})
    assert [(r["identity_hash"], r["customer_id"], r["version"]) for r in found["identity_links"]] == [
        ("aa", "user_id:aa", 60 * 4096 + 3), ("ee", "user_id:aa", 60 * 4096 + 3), ("bb", "email:bb", 60 * 4096 + 3)]


def test_of_two_merges_stamped_alike_the_later_of_a_chain_outranks_the_earlier():
    first, second = Rows(), Rows()
    records.identity({"action": "merge", "winner": "email:w1", "moved": ["anonymous_id:x"], "recorded_at": 7}, first)
    records.identity({"action": "merge", "winner": "user_id:w2", "moved": ["email:w1", "anonymous_id:x"],
                      "recorded_at": 7}, second)
    version = {r["identity_hash"]: r["version"] for r in first.tables()["identity_links"].to_pylist()}
    later = {r["identity_hash"]: r["version"] for r in second.tables()["identity_links"].to_pylist()}
    assert later["x"] > version["x"] and later["w1"] > version["w1"]


def test_a_signal_is_one_history_row_and_a_self_link_that_any_decision_outranks():
    found = rows_of(records.signal, SIGNAL)
    [row] = found["customer_signals"]
    assert (row["customer_id"], row["seq"], row["stage"], row["previous_stage"], row["churn_risk"],
            row["churn_level"]) == ("user_id:aa", 3, "active", "new", 40, "medium")
    assert row["reasons"] == '[{"code":"inactive","points":40,"detail":"x"}]'
    assert row["recorded_at"].timestamp() == 1_700_000_000
    assert found["identity_links"] == [{"kind": "user_id", "identity_hash": "aa", "customer_id": "user_id:aa",
                                        "version": 0, "deleted": 0}]


def test_a_first_signal_has_an_empty_previous_stage():
    [row] = rows_of(records.signal, SIGNAL | {"previous_stage": None})["customer_signals"]
    assert row["previous_stage"] == ""


def test_a_profile_keeps_null_times_and_traits_as_json():
    [row] = rows_of(records.profile, PROFILE)["profile_versions"]
    assert (row["first_seen_at"], row["traits"], row["deleted"], row["version"]) == (None, '{"plan":"free"}', 0, 7)


def test_a_deleted_profile_links_nothing():
    found = rows_of(records.profile, PROFILE | {"deleted": True})
    assert found["profile_versions"][0]["deleted"] == 1 and "identity_links" not in found


def test_a_segment_change_is_one_membership_row():
    [row] = rows_of(records.segment, SEGMENT)["segment_membership"]
    assert (row["segment_id"], row["customer_id"], row["is_member"], row["version"]) == ("vip", "user_id:aa", 1, 2)


@pytest.mark.parametrize(("mapper", "record", "message"), [
    (records.signal, {k: v for k, v in SIGNAL.items() if k != "seq"}, "field 'seq' is missing"),
    (records.signal, SIGNAL | {"seq": "3"}, "field 'seq' must be int, got str"),
    (records.signal, SIGNAL | {"seq": True}, "field 'seq' must be int, got bool"),
    (records.signal, SIGNAL | {"churn_risk": {"score": 101, "level": "high", "reasons": []}},
     "field 'score' must be at most 100"),
    (records.profile, PROFILE | {"version": -1}, "field 'version' must not be negative"),
    (records.profile, PROFILE | {"deleted": 0}, "field 'deleted' must be bool, got int"),
    (records.profile, PROFILE | {"last_seen_at": None, "lifecycle_stage": None}, "field 'lifecycle_stage' must be str"),
    (records.segment, SEGMENT | {"is_member": "yes"}, "field 'is_member' must be bool"),
    (records.identity, {"action": "refused", "recorded_at": 1}, "field 'action' must be 'merge' or 'unmerge'"),
    (records.identity, {"action": "merge", "winner": "user_id:aa", "moved": ["plain"], "recorded_at": 1},
     "field 'moved' must hold identity nodes 'kind:hash', got a string of 5 characters"),
    (records.identity, {"action": "unmerge", "customers": ["user_id:aa"], "sides": [[], []], "recorded_at": 1},
     "must hold two entries each"),
    (records.signal, SIGNAL | {"customer_id": "no-kind"}, "field 'customer_id' must hold identity nodes"),
])
def test_a_bad_record_is_refused_naming_the_field(mapper, record, message):
    with pytest.raises(RecordError, match=re.escape(message)):
        mapper(record, Rows())


def test_a_malformed_identity_is_not_echoed_into_the_error():
    with pytest.raises(RecordError) as refused:
        records.identity({"action": "merge", "winner": "ana@example.com", "moved": [], "recorded_at": 1}, Rows())
    assert "ana" not in str(refused.value) and "'customer_id'" in str(refused.value)


def _ddl_columns(statement: str) -> list[str]:
    body = statement.split("(\n", 1)[1].split("\n)", 1)[0]
    return [line.split()[0] for line in body.splitlines()]


@pytest.mark.parametrize("table", sorted(records.COLUMNS))
def test_the_sink_writes_every_column_of_its_tables_in_table_order(table):
    statement = {"identity_links": ddl.identity_links, "customer_signals": ddl.customer_signals,
                 "profile_versions": ddl.profile_versions, "segment_membership": ddl.segment_membership}[table]()
    assert [name for name, _ in records.COLUMNS[table]] == _ddl_columns(statement)


def test_every_record_topic_has_a_mapper():
    class Topics:
        identity, signals, profiles, segments = "i", "s", "p", "g"

    assert records.mappers(Topics) == {"i": records.identity, "s": records.signal, "p": records.profile,
                                       "g": records.segment}
