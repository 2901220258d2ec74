"""Migrations are numbered, append-only and create every object exactly once."""

from __future__ import annotations

from projections.migrations import MIGRATIONS, created_objects, statement_target


def test_versions_are_consecutive_from_one():
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))


def test_every_statement_can_run_twice_and_later_ones_only_change_existing_objects():
    seen: set[str] = set()
    for statement in (s for m in MIGRATIONS for s in m.statements):
        first_line = statement.split("\n", 1)[0]
        _, name = statement_target(statement)
        if name in seen:  # a later migration may redefine a view or a dictionary (it reloads from its source),
            # set column types or re-create a table with its rows
            assert first_line.startswith(("CREATE OR REPLACE VIEW ", "CREATE OR REPLACE DICTIONARY ", "ALTER TABLE ",
                                          "CREATE OR REPLACE TABLE ")), first_line
            if first_line.startswith("CREATE OR REPLACE TABLE "):
                assert statement.endswith(f"\nAS SELECT * FROM {name}"), f"{name} re-created without its rows"
            assert "ADD COLUMN" not in statement or "ADD COLUMN IF NOT EXISTS" in statement, first_line
        else:
            assert " IF NOT EXISTS " in first_line, first_line
            seen.add(name)
    names = [name for _, name in created_objects()]
    assert len(names) == len(set(names)) and set(names) == seen


def test_bi_views_are_named_for_what_they_hold():
    names = {name for _, name in created_objects()}
    assert {"events", "profiles", "identities", "segment_members", "rfm", "cohort_retention",
            "campaign_performance", "channel_mix", "email_to_order_funnel", "daily_channel_activity",
            "daily_revenue"} <= names
