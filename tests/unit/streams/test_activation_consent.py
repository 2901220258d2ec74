"""Activation refuses what consent cannot answer before it reads anything (no Redis here:
the errors must come first)."""

import pytest

from panorama.settings import Settings
from streams.segments.activation import activate


@pytest.mark.parametrize("purpose", ["third_party_sharing", "cross_border_transfer"])
def test_sharing_and_transfer_abroad_need_the_recipient(purpose):
    with pytest.raises(ValueError, match="recipient: .*consent is per recipient"):
        activate(Settings(), None, "everyone", purpose, None, 0, print)


def test_a_recipient_is_refused_for_a_purpose_not_given_per_recipient():
    with pytest.raises(ValueError, match="recipient: only"):
        activate(Settings(), None, "everyone", "marketing", "email", 0, print, recipient="acme")


def test_a_region_must_be_an_iso_code():
    with pytest.raises(ValueError, match="destination_region"):
        activate(Settings(), None, "everyone", "cross_border_transfer", None, 0, print, recipient="acme", region="Mars")
