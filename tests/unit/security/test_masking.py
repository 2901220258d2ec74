"""What each role sees of a profile."""

from __future__ import annotations

import pytest

from panorama.security.keys import ApiKey
from panorama.security.masking import mask_explanation, mask_profile, sees_personal_data

PROFILE = {"customer_id": "user_id:9f2c", "identities": {"email": ["ana@example.com"], "external:shop": ["77"]},
           "traits": {"first_name": "Ana", "address": {"city": "Lyon"}}, "events": 3, "orders": {"count": 1}}


@pytest.mark.parametrize(("role", "grants", "sees"), [
    ("support", (), True), ("admin", (), True), ("marketing", (), False), ("marketing", ("pii",), True), ("analyst", (), False),
])
def test_who_sees_personal_data(role, grants, sees):
    assert sees_personal_data(ApiKey("k_1", "n", "cdp", role, grants)) is sees


def test_masked_profile_keeps_shape_and_figures_but_no_values():
    masked = mask_profile(PROFILE)
    assert masked["identities"] == {"email": ["***"], "external:shop": ["***"]}
    assert masked["traits"] == {"first_name": "***", "address": "***"}
    assert {k: masked[k] for k in ("customer_id", "events", "orders")} == {k: PROFILE[k] for k in ("customer_id", "events", "orders")}
    assert "ana" not in str(masked).lower() and "Lyon" not in str(masked)


def test_masked_explanation_keeps_kinds_and_history():
    doc = {"customer_id": "user_id:9f2c", "identities": ["email:ana@example.com", "external:shop:77"],
           "labels": {"email:11": "email:ana@example.com", "external:shop:22": "external:shop:77"}, "history": [{"a": 1}]}
    masked = mask_explanation(doc)
    assert masked["identities"] == ["email:***", "external:shop:***"]
    assert masked["labels"] == {"email:11": "email:***", "external:shop:22": "external:shop:***"}
    assert masked["history"] == doc["history"] and "ana" not in str(masked)
