"""PIPL's separate consent: the consent connector carries who receives the data and where,
and the live profile keeps it per recipient, so consent to A does not allow B."""

import pytest

from connectors.channels.consent import ConsentConnector
from panorama.errors import ContractError
from panorama.privacy.consent import consent_allows
from schemas.validation import validate
from streams.profiles.fold import Partial, apply

RECEIVED_AT = 1_718_000_000_000_000
TRANSFER = {"id": "c-40", "user_id": "u-1", "purpose": "cross_border_transfer", "granted": True,
            "recipient": "Acme Analytics Pte Ltd", "destination_region": "SG", "method": "web_form",
            "occurred_at": "2024-06-10T08:00:00Z"}


def test_a_transfer_consent_names_its_recipient_and_region_and_the_profile_enforces_it():
    [event] = ConsentConnector().to_events(TRANSFER, RECEIVED_AT)
    validate(event)
    assert event["consent_change"]["recipient"] == "Acme Analytics Pte Ltd"
    assert event["consent_change"]["destination_region"] == "SG"
    assert event["consent"] == {"cross_border_transfer@Acme Analytics Pte Ltd/SG": True}
    profile = {"consent": {name: reg[2] for name, reg in apply(Partial(), event).consent.items()}}
    assert consent_allows(profile, "cross_border_transfer", recipient="Acme Analytics Pte Ltd", region="SG")
    assert not consent_allows(profile, "cross_border_transfer", recipient="Other Ltd", region="SG")
    assert not consent_allows(profile, "cross_border_transfer")  # no one-size grant


@pytest.mark.parametrize(("change", "field"), [
    ({"purpose": "marketing"}, "recipient"),
    ({"recipient": "a/b"}, "recipient"),
    ({"destination_region": "Singapore"}, "destination_region"),
    ({"recipient": None}, "destination_region"),
])
def test_a_recipient_or_region_that_cannot_be_recorded_is_named(change, field):
    with pytest.raises(ContractError) as raised:
        ConsentConnector().to_events(TRANSFER | change, RECEIVED_AT)
    assert raised.value.field == field and raised.value.code == "invalid_consent"
