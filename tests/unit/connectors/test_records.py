from decimal import Decimal

import pytest

from connectors import records
from panorama.errors import ContractError


@pytest.mark.parametrize("amount, currency, minor", [
    ("19.90", "eur", 1990), (19.9, "EUR", 1990), (0.1, "USD", 10), (1200, "JPY", 1200), ("1.234", "KWD", 1234),
    (Decimal("5"), "CNY", 500),
])
def test_money_is_exact_minor_units(amount, currency, minor):
    assert records.money(amount, currency, "total") == {"amount_minor": minor, "currency": currency.upper()}


@pytest.mark.parametrize("amount, currency", [("19.999", "EUR"), ("1.5", "JPY"), ("abc", "EUR"), ("NaN", "EUR"),
                                              (True, "EUR"), (None, "EUR"), ("1", "EURO")])
def test_money_refuses_what_it_would_have_to_guess(amount, currency):
    with pytest.raises(ContractError) as raised:
        records.money(amount, currency, "total")
    assert raised.value.field.startswith("total")


@pytest.mark.parametrize("value, micros", [
    ("2024-06-10T06:13:20Z", 1_718_000_000_000_000),
    ("2024-06-10T08:13:20+02:00", 1_718_000_000_000_000),
    (1_718_000_000, 1_718_000_000_000_000),
    (1_718_000_000_000, 1_718_000_000_000_000),
    ("1718000000", 1_718_000_000_000_000),
])
def test_timestamps(value, micros):
    assert records.timestamp(value, "at") == micros


def test_naive_timestamps_are_read_in_the_default_zone():
    assert records.timestamp("2024-06-10 14:13:20", "at", "Asia/Shanghai") == 1_718_000_000_000_000


@pytest.mark.parametrize("value", ["yesterday", "", None, True, "2024-13-01"])
def test_bad_timestamps_name_the_field(value):
    with pytest.raises(ContractError) as raised:
        records.timestamp(value, "created_at")
    assert raised.value.field == "created_at" and raised.value.code == "invalid_timestamp"


def test_phone_is_e164_or_named_error_or_none_when_lenient():
    assert records.phone("06 12 34 56 78", "tel", "FR") == "+33612345678"
    with pytest.raises(ContractError) as raised:
        records.phone("12", "tel")
    assert raised.value.field == "tel"
    assert records.phone("12", "tel", strict=False) is None


def test_interaction_puts_the_payload_in_its_field_and_leaves_the_others_null():
    record = records.interaction("ticket_opened", event_id=records.batch_event_id("x", 1), occurred_at=1, received_at=2,
                                 connector="x", channel="support", identities={"email": "a@b.c"},
                                 payload={"ticket_id": "1"})
    assert record["ticket"] == {"ticket_id": "1"} and record["order"] is None and record["properties"] == "{}"
