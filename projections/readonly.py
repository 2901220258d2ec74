"""The guards in front of `cdp sql` and `POST /v1/sql`: what a read-only statement may do.

Three layers, each for what the one before cannot see:

1. :func:`check_read_only`, on the text before anything runs: one statement, and a read
   (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN, EXISTS). A guard against mistakes, with a clear
   message.
2. :func:`refuse_escapes`, on the engine's own rendering of the statement
   (``formatQuerySingleLine``: comments gone, every literal quoted one way): the few reads
   that leave the analytics store and that ``readonly`` does not stop in chDB, which runs
   inside a platform process. ``INTO OUTFILE`` writes a file; the ``file()`` function reads
   any file the process can (``/proc/self/environ`` holds the master key when it is set
   there); chDB's ``python()`` reads the process's Python objects; ``DESCRIBE`` of a table
   function infers its schema by fetching the file or URL it names. ``FORMAT`` is refused
   because the caller chooses the output format.
3. :func:`with_limits`: the statement runs with ``readonly = 1``, which ClickHouse enforces:
   no write, no setting changed by the statement (so the limits beside it hold), and no
   table function but the engine's self-contained ones (``numbers``, ``values``, ``view``,
   ``merge``, ...). ``readonly = 2`` is not enough: under it a SELECT may call ``file()``,
   ``url()`` and ``remote()`` and raise its own ``max_execution_time``.
"""

from __future__ import annotations

import os
import re
from typing import Any

from panorama.errors import ReadOnlyQueryError
from projections.avro_input import settings_sql

TIMEOUT_S = 30  # max_execution_time of every statement
# max_memory_usage of every statement: a quarter of the machine's memory, at most 4 GiB. The
# statement fails with the engine's memory error instead of taking the memory of the process
# that holds the store (the sink, with chDB).
MAX_MEMORY_BYTES = min(4 * 2**30, os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 4)
DEFAULT_ROWS, MAX_ROWS = 1_000, 100_000
READ_STATEMENTS = ("SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "EXISTS")
_LEADING_COMMENTS = re.compile(r"^\s*(?:(?:--[^\n]*\n|/\*.*?\*/)\s*)*", re.S)
_QUOTED = re.compile(r"'(?:\\.|[^'\\])*'|`(?:\\.|[^`\\])*`|\"(?:\\.|[^\"\\])*\"", re.S)
_ESCAPES = (  # (pattern over the rendering with its literals blanked, why it is refused)
    (re.compile(r"\bINTO\s+OUTFILE\b", re.I), "INTO OUTFILE writes a file on the analytics host"),
    (re.compile(r"\b(?:file|python)\s*\(", re.I), "{0}) reads outside the analytics store (files or objects of the "
                                                   "process that runs the query)"),
    (re.compile(r"\bDESCRIBE\s+TABLE\s+[\w.]+\s*\(", re.I), "DESCRIBE of a table function fetches what it names; "
                                                             "describe a table or a query: DESCRIBE (SELECT ...)"),
    (re.compile(r"\bFORMAT\s+[A-Za-z]\w*\s*$|\bFORMAT\s+[A-Za-z]\w*\s+SETTINGS\b"),
     "{0}: the output format is chosen by the caller (a table or JSON); remove the FORMAT clause"),
)


def check_read_only(sql: str) -> str:
    """Return ``sql`` stripped if it is one read statement; raise ReadOnlyQueryError otherwise.

    This is a guard against mistakes, not the security boundary: the statement also runs
    with ``readonly = 1`` (see :func:`with_limits`), which ClickHouse enforces.
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


def refuse_escapes(rendered: str) -> None:
    """Raise ReadOnlyQueryError if ``rendered`` (the engine's ``formatQuerySingleLine`` of the
    statement) reaches outside the analytics store in a way ``readonly`` lets through."""
    bare = _QUOTED.sub("''", rendered)
    for pattern, problem in _ESCAPES:
        if found := pattern.search(bare):
            raise ReadOnlyQueryError(f"not allowed: {problem.format(found[0].strip())}")


def with_limits(rendered: str, max_rows: int, timeout_s: float, output: dict[str, Any]) -> str:
    """``rendered`` with the SETTINGS it runs under: ``readonly = 1``; at most ``timeout_s``
    seconds and :data:`MAX_MEMORY_BYTES`; a result cut after ``max_rows + 1`` rows (``break``:
    the extra row tells the caller it was cut; the engine may still send up to a block more,
    except from a SELECT, whose ``limit`` stops it exactly); and the ``output`` format settings."""
    limits: dict[str, Any] = {"readonly": 1, "max_execution_time": timeout_s, "max_memory_usage": MAX_MEMORY_BYTES,
                              "max_result_rows": max_rows + 1, "result_overflow_mode": "break"}
    if rendered.split(None, 1)[0] in ("SELECT", "WITH"):  # on EXPLAIN it would show in the plan
        limits["limit"] = max_rows + 1
    return f"{rendered}\nSETTINGS {settings_sql(limits | output)}"
