"""The column-wide pieces of the columnar import that replace per-row Python: grouping rows
by customer, event ids, and phone numbers parsed once per distinct value."""

from __future__ import annotations

from unittest import mock

import phonenumbers
import pyarrow as pa
from hypothesis import given, settings as hypothesis_settings, strategies as st

from connectors import records
from connectors.importer.columnar import event_ids
from connectors.importer.sealing import _distinct_rows
from schemas import identities
from schemas.models import deterministic_event_id

_VALUE = st.none() | st.sampled_from(["", "a", "b", "a\x00", "\x00a", "ä"])


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_VALUE, _VALUE, _VALUE), max_size=60))
def test_rows_are_grouped_by_their_exact_values_nulls_apart(rows):
    columns = [pa.array([row[i] for row in rows], pa.string()) for i in range(3)]
    first, per_row = _distinct_rows(columns)
    distinct = [rows[i] for i in first.to_pylist()]
    assert len(set(distinct)) == len(distinct) == len(set(rows))
    assert [distinct[i] for i in per_row.tolist()] == rows


@hypothesis_settings(max_examples=100, deadline=None)
@given(st.text(min_size=1, max_size=12), st.lists(st.text(max_size=30), max_size=40))
def test_event_ids_are_deterministic_event_ids(source, keys):
    assert event_ids(source, pa.array(keys, pa.string())).to_pylist() == [deterministic_event_id(source, k) for k in keys]


def test_a_phone_number_is_parsed_once_whoever_normalises_it():
    """The connector cleans a raw number; the producer and the identity stage normalise the
    result again: one parse each for a value not seen before, none for a value seen."""
    identities._e164.cache_clear()
    with mock.patch.object(phonenumbers, "parse", wraps=phonenumbers.parse) as parse:
        for _ in range(3):  # three chunks with the same customers
            assert records.phone("+49 30 1234567", "phone") == "+49301234567"
            assert identities.normalise_phone("+49301234567") == "+49301234567"
            assert identities.normalise_identity("phone", "+49301234567") == "+49301234567"
        assert records.phone("+49301234567", "phone", None) == "+49301234567"
    assert parse.call_count == 2
    assert identities._e164.cache_info().maxsize is not None  # bounded
    assert identities.normalise_phone("+440201234567") == "+44201234567"  # why E.164-looking input is not trusted
