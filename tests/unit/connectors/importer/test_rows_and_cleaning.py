import pytest

from connectors.importer import cleaning
from connectors.importer.rows import CustomerRowConnector, OrderRowConnector
from panorama.errors import ConnectorConfigError, ContractError
from tests.unit.connectors.helpers import RECEIVED_AT, valid


@pytest.mark.parametrize("value, code", [("de", "DE"), ("DEU", "DE"), ("Germany", "DE"), (" fr ", "FR"), ("", None)])
def test_country_codes(value, code):
    assert cleaning.country(value) == code


def test_unknown_country_is_named():
    with pytest.raises(ContractError) as raised:
        cleaning.country("Atlantis")
    assert (raised.value.field, raised.value.code) == ("country", "invalid_country")


def test_dates_with_time_zones_and_formats():
    assert cleaning.moment("2024-06-10 08:13:20", "at", "Europe/Paris") == 1_718_000_000_000_000
    assert cleaning.moment("2024-06-10T06:13:20Z", "at", "Europe/Paris") == 1_718_000_000_000_000
    assert cleaning.moment("10.06.2024 08:13:20", "at", "Europe/Berlin", "%d.%m.%Y %H:%M:%S") == 1_718_000_000_000_000
    with pytest.raises(ContractError):
        cleaning.moment("10/06/2024", "at", "UTC", "%d.%m.%Y")


def test_customer_row_is_cleaned():
    row = {"customer_id": " c-1 ", "email": " Ana@Example.COM ", "phone": "030 1234567", "country": "Deutschland",
           "first_name": "Ana", "birthday": "1990-04-17", "marketing_consent": "yes", "updated_at": "2024-06-10 08:13:20"}
    with pytest.raises(ContractError):  # "Deutschland" is not an English name
        CustomerRowConnector({"default_phone_region": "DE"}).to_events(row, RECEIVED_AT)
    [event] = valid(CustomerRowConnector({"default_phone_region": "DE", "timezone": "Europe/Berlin"})
                    .to_events(row | {"country": "DEU"}, RECEIVED_AT))
    assert event["identities"]["user_id"] == "c-1" and event["identities"]["email"] == "ana@example.com"
    assert event["identities"]["phone"] == "+49301234567" and event["traits"]["address"]["country"] == "DE"
    assert event["consent"] == {"marketing": True} and event["occurred_at"] == 1_718_000_000_000_000


def test_order_row_and_its_deterministic_id():
    row = {"order_id": "o-1", "ordered_at": "2024-06-10T06:13:20Z", "total": "19.90", "currency": "EUR", "email": "a@b.c",
           "sku": "MUG", "quantity": "2", "unit_price": "9.95"}
    [event] = valid(OrderRowConnector().to_events(row, RECEIVED_AT))
    assert event["order"]["line_items"][0]["quantity"] == 2
    assert OrderRowConnector().to_events(row, RECEIVED_AT + 1)[0]["event_id"] == event["event_id"]


@pytest.mark.parametrize("row, field", [
    ({"ordered_at": "2024-06-10", "total": "1"}, "order_id"),
    ({"order_id": "o", "total": "1"}, "ordered_at"),
    ({"order_id": "o", "ordered_at": "2024-06-10", "total": "1.999"}, "total"),
    ({"order_id": "o", "ordered_at": "2024-06-10", "total": "1", "sku": "x", "quantity": "-1"}, "quantity"),
])
def test_bad_order_rows_name_the_column(row, field):
    with pytest.raises(ContractError) as raised:
        OrderRowConnector().to_events(row, RECEIVED_AT)
    assert raised.value.field == field


def test_import_settings_are_validated_before_any_io():
    with pytest.raises(ConnectorConfigError) as raised:
        OrderRowConnector({"timezone": "Mars/Olympus"})
    assert raised.value.field == "timezone"


def test_row_events_are_the_records_interaction_would_build():
    """The connectors copy a template instead of calling records.interaction per row: the
    record must be the same, field for field, and no two events may share a dict."""
    from connectors import records

    order = {"order_id": "o-9", "ordered_at": "2024-06-10 08:13:20", "total": "5", "customer_id": "c-9", "sku": "MUG"}
    connector = OrderRowConnector()
    [event] = connector.to_events(order, RECEIVED_AT)
    expected = records.interaction(
        "order_placed", event_id=records.batch_event_id("orders", "o-9"), occurred_at=1_718_007_200_000_000,
        received_at=RECEIVED_AT, connector="orders", channel="import", identities={"user_id": "c-9"},
        payload=event["order"])
    assert event == expected
    [again] = connector.to_events(order, RECEIVED_AT)
    for name, value in event.items():
        assert not isinstance(value, dict) or value is not again[name], name
    customer = CustomerRowConnector({"channel": "crm"}).to_events({"customer_id": "c-1", "marketing_consent": "no"}, RECEIVED_AT)[0]
    assert customer == records.interaction(
        "identify", event_id=records.batch_event_id("customers", "c-1", ""), occurred_at=RECEIVED_AT,
        received_at=RECEIVED_AT, connector="customers", channel="crm", identities={"user_id": "c-1"},
        payload=customer["traits"], consent={"marketing": False})
