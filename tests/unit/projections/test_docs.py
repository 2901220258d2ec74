"""docs/analytics.md names every table and view the migrations create."""

from __future__ import annotations

from pathlib import Path

from projections.migrations import created_objects

DOC = Path(__file__).parents[3] / "docs" / "analytics.md"


def test_every_table_and_view_is_documented():
    text = DOC.read_text()
    missing = [name for _, name in created_objects() if f"`{name}`" not in text]
    assert not missing, f"document these in {DOC}: {missing}"
