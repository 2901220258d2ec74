"""Snapshot of every CREATE statement the migrations run.

A change to a statement fails here on purpose: check it is intended, remember that
applied migrations are not re-run (add a new migration that alters the table), then
refresh with ``UPDATE_SNAPSHOTS=1 pytest tests/unit/projections/test_ddl_snapshots.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from projections.ddl import schema_migrations
from projections.migrations import MIGRATIONS, created_objects

SNAPSHOTS = Path(__file__).parent / "snapshots"
STATEMENTS = {name: statement for (_, name), statement in
              zip(created_objects(), (s for m in MIGRATIONS for s in m.statements))}
STATEMENTS["schema_migrations"] = schema_migrations()


@pytest.mark.parametrize("name", sorted(STATEMENTS))
def test_create_statement_matches_snapshot(name):
    path = SNAPSHOTS / f"{name}.sql"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(STATEMENTS[name] + "\n")
    assert path.is_file(), f"no snapshot for {name}: run with UPDATE_SNAPSHOTS=1"
    assert STATEMENTS[name] + "\n" == path.read_text()


def test_no_stale_snapshots():
    assert {p.stem for p in SNAPSHOTS.glob("*.sql")} == set(STATEMENTS)
