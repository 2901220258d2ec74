"""How many examples the property tests draw: the figures written in the tests (over
10,000 in total, plus 10,000 state-machine runs) under ``HYPOTHESIS_PROFILE=thorough``,
a sample otherwise so the unit suite stays a few seconds."""

from __future__ import annotations

import os

from hypothesis import settings

THOROUGH = os.environ.get("HYPOTHESIS_PROFILE") == "thorough"


def examples(n: int, fast: int | None = None, **options) -> settings:
    """``n`` examples when thorough, else ``fast`` (default: a tenth of ``n``)."""
    return settings(max_examples=n if THOROUGH else fast or max(20, n // 10), deadline=None, **options)
