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
from projections.migrations import MIGRATIONS, statement_target

SNAPSHOTS = Path(__file__).parent / "snapshots"


def _statements() -> dict[str, str]:
    """Snapshot name -> statement: the object's name for the statement that creates it,
    ``<name>.v<migration>`` for a later one that replaces or alters it."""
    found = {"schema_migrations": schema_migrations()}
    for migration in MIGRATIONS:
        for statement in migration.statements:
            _, name = statement_target(statement)
            found[f"{name}.v{migration.version}" if name in found else name] = statement
    return found


STATEMENTS = _statements()


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
