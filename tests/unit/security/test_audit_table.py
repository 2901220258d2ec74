"""One list of audit fields: the event, the ClickHouse table, the loader and the docs agree."""

from __future__ import annotations

import re
from pathlib import Path

from panorama.security.audit import FIELDS
from projections.ddl import audit_log

DOC = Path(__file__).parents[3] / "docs" / "analytics.md"


def ddl_columns() -> list[str]:
    body = audit_log().split("(\n", 1)[1].split("\n)", 1)[0]
    return [line.split()[0] for line in body.strip().splitlines()]


def documented_columns() -> list[str]:
    section = DOC.read_text().split("### `audit_log`", 1)[1].split("\n### ", 1)[0]
    return re.findall(r"^\| (\w+) \| ", section, re.MULTILINE)[1:]  # the first row is the header


def test_table_columns_are_the_event_fields_in_order():
    assert ddl_columns() == list(FIELDS)


def test_docs_list_every_column_in_order():
    assert documented_columns() == ddl_columns()
