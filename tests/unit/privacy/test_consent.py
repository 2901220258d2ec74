"""consent_allows: opt-in, per purpose and channel, a withdrawal always wins."""

from __future__ import annotations

import pytest

from panorama.privacy.consent import consent_allows, consent_history, consent_summary
from schemas.examples import example_records


def profile(**consent) -> dict:
    return {"consent": {k.replace("__", ":"): v for k, v in consent.items()}}


def test_nothing_said_means_no():
    assert not consent_allows(profile(), "marketing", "email")
    assert not consent_allows(profile(analytics=True), "marketing")


def test_purpose_wide_and_channel_grants():
    assert consent_allows(profile(marketing=True), "marketing", "email")
    assert consent_allows(profile(marketing__email=True), "marketing", "email")
    assert not consent_allows(profile(marketing__email=True), "marketing", "sms")
    assert not consent_allows(profile(marketing__email=True), "marketing")


def test_a_withdrawal_anywhere_applicable_wins():
    assert not consent_allows(profile(marketing=False, marketing__email=True), "marketing", "email")
    assert not consent_allows(profile(marketing=True, marketing__email=False), "marketing", "email")
    assert consent_allows(profile(marketing=True, marketing__email=False), "marketing", "sms")


def test_sharing_and_transfer_abroad_need_their_own_consent():
    granted = profile(marketing=True, analytics=True, profiling=True)
    assert not consent_allows(granted, "third_party_sharing")
    assert not consent_allows(granted, "cross_border_transfer")
    assert consent_allows(profile(cross_border_transfer=True), "cross_border_transfer")


def test_unknown_purpose_is_named():
    with pytest.raises(ValueError, match="'newsletter' is not one of"):
        consent_allows(profile(), "newsletter")


def test_summary_and_history():
    summary = consent_summary(profile(marketing__email=False, analytics=True))
    assert summary["analytics"]["*"] is True and summary["marketing"]["email"] is False
    assert set(summary) == {"marketing", "analytics", "profiling", "third_party_sharing", "cross_border_transfer"}
    change = example_records()["consent_changed"]
    history = consent_history([change])
    assert history and history[0]["purpose"] == change["consent_change"]["purpose"]
    assert history[0]["source"] == change["source"] and history[0]["at"] == change["occurred_at"]
