"""Migrations are numbered, append-only and create every object exactly once."""

from __future__ import annotations

from projections.migrations import MIGRATIONS, created_objects


def test_versions_are_consecutive_from_one():
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))


def test_every_statement_creates_one_object_idempotently():
    statements = [s for m in MIGRATIONS for s in m.statements]
    assert all(" IF NOT EXISTS " in s.split("\n", 1)[0] for s in statements)
    names = [name for _, name in created_objects()]
    assert len(names) == len(statements) == len(set(names))


def test_bi_views_are_named_for_what_they_hold():
    names = {name for _, name in created_objects()}
    assert {"events", "profiles", "identities", "segment_members", "rfm", "cohort_retention",
            "campaign_performance", "channel_mix", "email_to_order_funnel", "daily_channel_activity",
            "daily_revenue"} <= names
