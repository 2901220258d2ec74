"""The event_log column list: parity with the DDL and the insert, no personal data read."""

from __future__ import annotations

import re

import pytest

from projections.avro_container import KAFKA_FIELDS, row_schema
from projections.avro_input import avro_insert
from projections.ddl import event_log
from projections.event_columns import EVENT_COLUMNS, KAFKA_COLUMNS, column_definitions, event_log_insert
from schemas.contract import current_schema, iter_fields, pii_fields


def _personal(path: str) -> bool:
    return any(path == p or path.startswith(p + ".") for p, _ in pii_fields())


def test_table_columns_are_the_column_list_in_order():
    declared = re.findall(r"^\s+`(\w+)` ", event_log(), re.M)
    assert declared == [name for name, _, _ in column_definitions()]
    assert list(event_log_insert(current_schema()).columns) == declared


def test_every_source_path_exists_in_the_contract():
    paths = {path for path, _ in iter_fields(current_schema())}
    for column in EVENT_COLUMNS:
        assert column.sources and set(column.sources) <= paths, column.name
    for column in KAFKA_COLUMNS:
        assert set(column.sources) <= {f["name"] for f in KAFKA_FIELDS}, column.name


def test_no_column_reads_a_personal_field():
    for column in (*EVENT_COLUMNS, *KAFKA_COLUMNS):
        for source in column.sources:
            assert not _personal(source), (column.name, source)


def test_no_input_column_is_personal():
    """Only whole nullable payload records (``order``) may carry personal leaves into the
    insert, never a column that is itself personal (``context.ip``, ``traits``)."""
    structure = event_log_insert(current_schema()).structure
    inputs = re.findall(r"(?:^|, )`([\w.]+)` ", structure)
    assert "order" in inputs and "source.channel" in inputs and "context.ip" not in inputs
    assert not [name for name in inputs if _personal(name)]


def test_paths_become_dotted_columns_through_records_and_tuple_access_through_unions():
    insert = event_log_insert(current_schema())
    expressions = dict(zip(insert.columns, insert.expressions))
    assert expressions["channel"] == "`source.channel`"
    assert expressions["order_total_minor"] == "ifNull(`order`.`total`.`amount_minor`, 0)"
    assert "`context.campaign`.`name`" in expressions["campaign_id"]
    assert "`source.channel` String" in insert.structure
    assert "`order` Nullable(Tuple(`order_id` String, " in insert.structure
    assert "`event_id` UUID" in insert.structure and "`occurred_at` DateTime64(6, 'UTC')" in insert.structure
    assert "`kafka_offset` FixedString(8)" in insert.structure


def test_a_path_the_schema_lacks_is_refused_with_its_name():
    with pytest.raises(ValueError, match="order.total.nope"):
        avro_insert("t", [("x", "{order.total.nope}")], row_schema(current_schema()))


def test_kafka_columns_close_the_table():
    assert [name for name, *_ in column_definitions()][-len(KAFKA_COLUMNS):] == [c.name for c in KAFKA_COLUMNS]
