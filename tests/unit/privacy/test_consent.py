"""consent_allows: opt-in, per purpose and channel, a withdrawal always wins."""

from __future__ import annotations

import pytest

from panorama.privacy.consent import consent_allows, consent_history, consent_summary, entry_name, parse_entry
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


def test_sharing_given_to_one_recipient_does_not_allow_another():
    to_a = {"consent": {"third_party_sharing@Acme Ads": True}}
    assert consent_allows(to_a, "third_party_sharing", recipient="Acme Ads")
    assert not consent_allows(to_a, "third_party_sharing", recipient="Beta Media")
    assert not consent_allows(profile(third_party_sharing=True), "third_party_sharing", recipient="Acme Ads")  # v1: no one named
    withdrawn = {"consent": {"third_party_sharing@Acme Ads": True, "third_party_sharing": False}}
    assert not consent_allows(withdrawn, "third_party_sharing", recipient="Acme Ads")  # a general withdrawal stops all


def test_transfer_abroad_is_per_recipient_and_region():
    to_sg = {"consent": {"cross_border_transfer@Acme/SG": True}}
    assert consent_allows(to_sg, "cross_border_transfer", recipient="Acme", region="SG")
    assert not consent_allows(to_sg, "cross_border_transfer", recipient="Acme", region="US")
    assert not consent_allows(to_sg, "cross_border_transfer", recipient="Other", region="SG")
    anywhere = {"consent": {"cross_border_transfer@Acme": True, "cross_border_transfer@Acme/US": False}}
    assert consent_allows(anywhere, "cross_border_transfer", recipient="Acme", region="SG")
    assert not consent_allows(anywhere, "cross_border_transfer", recipient="Acme", region="US")


@pytest.mark.parametrize(("purpose", "recipient", "region", "field"), [
    ("marketing", "Acme", None, "recipient"),
    ("third_party_sharing", "a@b", None, "recipient"),
    ("cross_border_transfer", None, "SG", "destination_region"),
    ("cross_border_transfer", "Acme", "Singapore", "destination_region"),
])
def test_a_recipient_that_cannot_be_asked_about_is_named(purpose, recipient, region, field):
    with pytest.raises(ValueError, match=f"^{field}:"):
        consent_allows(profile(), purpose, recipient=recipient, region=region)


def test_entry_names_round_trip_and_summary_and_history_show_recipients():
    for parts in [("marketing", None, None, None), ("marketing", "email", None, None),
                  ("third_party_sharing", None, "Acme Ads", None), ("cross_border_transfer", "web", "Acme", "SG")]:
        assert parse_entry(entry_name(*parts)) == parts
    summary = consent_summary({"consent": {"cross_border_transfer@Acme/SG": True}})
    assert summary["cross_border_transfer"] == {"*": False, "@Acme/SG": True}
    change = example_records()["consent_changed"]
    change["consent_change"] |= {"purpose": "cross_border_transfer", "channel": None, "recipient": "Acme",
                                 "destination_region": "SG"}
    change["consent"] = {"cross_border_transfer@Acme/SG": True}
    [entry] = consent_history([change])
    assert (entry["recipient"], entry["destination_region"], entry["granted"]) == ("Acme", "SG", True)
