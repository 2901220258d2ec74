"""Searching the audit log: time expressions and filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from panorama.security.audit_search import AuditQuery, first_of_each_id, parse_since
from panorama.security.errors import AuditError

EVENT = {"actor": "key:k_1", "action": "key.rotate", "subject": "k_9", "at": "2026-11-24T20:00:00.000000+00:00",
         "details": {"workspace": "cdp"}}


def test_since_takes_dates_times_and_durations():
    assert parse_since("2026-11-24") == datetime(2026, 11, 24, tzinfo=UTC)
    assert parse_since("2026-11-24T20:00:00Z") == datetime(2026, 11, 24, 20, tzinfo=UTC)
    assert abs(parse_since("12h") - (datetime.now(UTC) - timedelta(hours=12))) < timedelta(seconds=5)


@pytest.mark.parametrize("text", ["yesterday", "99999999d", "999999999999999999999s"])
def test_bad_since_names_the_option(text):
    with pytest.raises(AuditError, match="since"):
        parse_since(text)


@pytest.mark.parametrize(("query", "matches"), [
    (AuditQuery(), True), (AuditQuery(action="key.*"), True), (AuditQuery(action="key.rotate"), True),
    (AuditQuery(action="key.r"), False), (AuditQuery(action="profile.*"), False), (AuditQuery(actor="key:k_2"), False),
    (AuditQuery(subject="k_9", workspace="cdp"), True), (AuditQuery(workspace="other"), False),
    (AuditQuery(since=datetime(2026, 11, 24, 21, tzinfo=UTC)), False),
])
def test_filters(query, matches):
    assert query.matches(EVENT) is matches


def test_a_redelivered_record_is_read_once():
    events = [{"audit_id": name} for name in ("a", "b", "a", "c", "b", "d")]
    assert [e["audit_id"] for e in first_of_each_id(events)] == ["a", "b", "c", "d"]


def test_only_the_most_recent_ids_are_remembered():
    events = [{"audit_id": name} for name in ("a", "b", "c", "a")]
    assert [e["audit_id"] for e in first_of_each_id(events, window=2)] == ["a", "b", "c", "a"]
