from __future__ import annotations

import pytest

from panorama.errors import ReadOnlyQueryError
from projections.readonly import MAX_MEMORY_BYTES, check_read_only, refuse_escapes, with_limits


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


@pytest.mark.parametrize(("rendered", "problem"), [
    ("SELECT 1 INTO OUTFILE '/tmp/x'", "INTO OUTFILE"),
    ("SELECT file('/proc/self/environ')", "file()"),
    ("SELECT * FROM FILE('/etc/passwd', 'LineAsString')", "FILE()"),
    ("SELECT * FROM Python(frame)", "Python()"),
    ("DESCRIBE TABLE url('http://10.0.0.1/', 'CSVWithNames')", "DESCRIBE of a table function"),
    ("SELECT 1 FORMAT JSON", "FORMAT JSON"),
    ("SELECT 1 FORMAT CSV SETTINGS max_threads = 1", "FORMAT CSV"),
])
def test_reads_that_leave_the_store_are_refused_naming_what(rendered, problem):
    with pytest.raises(ReadOnlyQueryError, match="not allowed") as refused:
        refuse_escapes(rendered)
    assert problem in str(refused.value)


@pytest.mark.parametrize("rendered", [
    "SELECT 'file(' AS a, 'x INTO OUTFILE y' AS b, `python(` FROM t",
    "SELECT profile_file(x), format('{}', 1) FROM t",
    "DESCRIBE TABLE events", "DESCRIBE TABLE (SELECT 1)", "SELECT 'it\\'s file(' FROM t",
])
def test_the_same_words_in_literals_names_or_other_functions_pass(rendered):
    refuse_escapes(rendered)


def test_statements_run_read_only_with_their_limits():
    statement = with_limits("SELECT 1", 10, 30, {"date_time_output_format": "iso"})
    assert statement == (f"SELECT 1\nSETTINGS readonly = 1, max_execution_time = 30, max_memory_usage = {MAX_MEMORY_BYTES}, "
                         "max_result_rows = 11, "
                         "result_overflow_mode = 'break', limit = 11, date_time_output_format = 'iso'")
    assert "limit" not in with_limits("EXPLAIN SELECT 1", 10, 30, {}).replace("max_result_rows", "")
