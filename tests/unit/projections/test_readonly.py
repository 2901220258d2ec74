from __future__ import annotations

import pytest

from panorama.errors import ReadOnlyQueryError
from projections.readonly import check_read_only, read_only_sql


@pytest.mark.parametrize("sql", [
    "SELECT 1", "  with x AS (SELECT 1) SELECT * FROM x;", "SHOW TABLES", "DESCRIBE events",
    "-- count\nSELECT count() FROM events", "/* note */ EXPLAIN SELECT 1",
])
def test_reads_pass(sql):
    assert check_read_only(sql)


@pytest.mark.parametrize("sql", [
    "INSERT INTO events VALUES (1)", "DROP TABLE events", "ALTER TABLE event_log DELETE WHERE 1",
    "", "  ", "SELECT 1; DROP TABLE events", "-- SELECT\nTRUNCATE events", "OPTIMIZE TABLE event_log",
])
def test_anything_else_is_refused_with_the_reason(sql):
    with pytest.raises(ReadOnlyQueryError, match="read queries|one statement"):
        check_read_only(sql)


def test_selects_also_run_with_the_engine_read_only_setting():
    assert read_only_sql("SELECT 1;").endswith("SETTINGS readonly = 2")
    assert read_only_sql("SHOW TABLES") == "SHOW TABLES"
