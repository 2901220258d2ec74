"""The guard in front of `cdp sql` and the read-only SQL endpoint."""

from __future__ import annotations

import re

from panorama.errors import ReadOnlyQueryError

READ_STATEMENTS = ("SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "EXISTS")
_LEADING_COMMENTS = re.compile(r"^\s*(?:(?:--[^\n]*\n|/\*.*?\*/)\s*)*", re.S)


def check_read_only(sql: str) -> str:
    """Return ``sql`` stripped if it is one read statement; raise ReadOnlyQueryError otherwise.

    This is a guard against mistakes, not the security boundary: the query also runs
    with ``readonly = 2`` (see :func:`read_only_sql`), which ClickHouse enforces.
    """
    body = _LEADING_COMMENTS.sub("", sql).strip().rstrip(";").strip()
    first = body.split(None, 1)[0].upper() if body else ""
    if first not in READ_STATEMENTS:
        raise ReadOnlyQueryError(
            f"only read queries are allowed ({', '.join(READ_STATEMENTS)}); got {first or 'an empty query'!r}. "
            "Schema changes go through projections/migrations.py."
        )
    if ";" in body:
        raise ReadOnlyQueryError("one statement at a time: remove the ';' in the middle of the query")
    return body


def read_only_sql(sql: str) -> str:
    """``sql`` checked and with ``SETTINGS readonly = 2`` appended (reads and setting changes only), so ClickHouse itself
    refuses writes even if the check above were fooled."""
    body = check_read_only(sql)
    if body.split(None, 1)[0].upper() in ("SELECT", "WITH"):
        return f"{body}\nSETTINGS readonly = 2"
    return body
