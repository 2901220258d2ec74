"""The event_log column list: parity with the DDL, no personal data, values as expected."""

from __future__ import annotations

import re

import pytest

from projections.ddl import event_log
from projections.event_columns import EVENT_COLUMNS, KAFKA_COLUMNS, column_definitions, event_table
from schemas.contract import iter_fields, current_schema, pii_fields
from schemas.examples import example_records


def test_table_columns_are_the_column_list_in_order():
    declared = re.findall(r"^\s+`(\w+)` ", event_log(), re.M)
    assert declared == [name for name, _, _ in column_definitions()]


def test_every_source_path_exists_in_the_contract():
    paths = {path for path, _ in iter_fields(current_schema())}
    for column in EVENT_COLUMNS:
        assert set(column.sources) <= paths, column.name


def test_no_column_reads_a_personal_field():
    personal = [path for path, _ in pii_fields()]
    for column in EVENT_COLUMNS:
        for source in column.sources:
            assert not any(source == p or source.startswith(p + ".") for p in personal), (column.name, source)


def _strings(value) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    return [value] if isinstance(value, str) and len(value) > 3 else []


def test_no_personal_value_reaches_the_table():
    records = list(example_records().values())
    table = event_table(records, ["k"] * len(records), [0] * len(records), list(range(len(records))))
    cells = {str(v) for column in table.columns for v in column.to_pylist()}
    for record in records:
        for path, _ in pii_fields():
            value = record
            for part in path.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            for secret in _strings(value):
                assert not any(secret in cell for cell in cells), f"{path} value leaked into event_log"


def test_values_of_an_order_and_a_survey():
    examples = example_records()
    order, survey = examples["order_placed"], examples["survey_answered"]
    table = event_table([order, survey], ["key-a", "key-b"], [2, 2], [40, 41]).to_pylist()
    assert table[0]["order_id"] == order["order"]["order_id"]
    assert table[0]["order_total_minor"] == order["order"]["total"]["amount_minor"]
    assert table[0]["currency"] == order["order"]["total"]["currency"]
    assert table[0]["survey_score"] is None
    assert table[1]["survey_score"] == survey["survey"]["score"]
    assert table[1]["order_total_minor"] == 0
    assert (table[1]["customer_key"], table[1]["kafka_partition"], table[1]["kafka_offset"]) == ("key-b", 2, 41)
    assert table[0]["occurred_at"].timestamp() == pytest.approx(order["occurred_at"] / 1e6)


def test_kafka_columns_close_the_table():
    assert [name for name, *_ in column_definitions()][-len(KAFKA_COLUMNS):] == [c[0] for c in KAFKA_COLUMNS]
