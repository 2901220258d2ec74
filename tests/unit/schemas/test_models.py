import uuid
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st
from pydantic import BaseModel

from panorama.errors import ContractError
from schemas.avro_names import named_types, resolve
from schemas.codec import InteractionCodec
from schemas.contract import current_schema
from schemas.examples import example_records
from schemas.models import (PANORAMA_NAMESPACE, Identities, Interaction, Source, deterministic_event_id, from_micros,
                            to_micros)
from schemas.money import Money
from schemas.payloads import LineItem, Order
from schemas.validation import validate


@pytest.mark.parametrize("type_", sorted(example_records()))
def test_record_model_record_parity(type_):
    record = example_records()[type_]
    model = Interaction.from_record(record)
    assert Interaction.from_record(model.to_record()) == model
    codec = InteractionCodec()
    assert codec.encode(model.to_record()) == codec.encode(record)


def _model_of(annotation):
    args = getattr(annotation, "__args__", (annotation,))
    for arg in args:
        for inner in getattr(arg, "__args__", (arg,)):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                return inner
    return None


def _assert_parity(model, record_schema, names, path):
    avsc = {f["name"]: f for f in record_schema["fields"]}
    assert set(model.model_fields) == set(avsc), path
    for name, info in model.model_fields.items():
        nested = resolve(avsc[name]["type"], names)
        nested = resolve(next((b for b in nested if b != "null"), None), names) if isinstance(nested, list) else nested
        if isinstance(nested, dict) and nested["type"] == "array":
            nested = resolve(nested["items"], names)
        is_record = isinstance(nested, dict) and nested["type"] == "record"
        sub_model = _model_of(info.annotation)
        assert is_record == (sub_model is not None), f"{path}{name}"
        if is_record:
            _assert_parity(sub_model, nested, names, f"{path}{name}.")


def test_models_and_avsc_have_the_same_fields_recursively():
    schema = current_schema()
    _assert_parity(Interaction, schema, named_types(schema), "")


def test_new_fills_id_and_timestamps_and_validates():
    event = Interaction.new(
        type="order_placed",
        identities=Identities(email="ana@example.com"),
        source=Source(channel="web", connector="shopify"),
        order=Order(order_id="o-1", total=Money(amount_minor=1000, currency="EUR"),
                    line_items=(LineItem(quantity=1, unit_price=Money(amount_minor=1000, currency="EUR")),)),
    )
    validate(event.to_record())
    assert event.occurred_at.tzinfo is not None


def test_new_refuses_unknown_types():
    with pytest.raises(ValueError, match="track"):
        Interaction.new(type="signed_up", identities=Identities(user_id="u"), source=Source(channel="web", connector="x"))


def test_models_are_frozen():
    with pytest.raises(Exception):  # noqa: B017 - pydantic's ValidationError
        Source(channel="web", connector="x").channel = "pos"


def test_deterministic_event_id_is_stable_and_source_scoped():
    first = deterministic_event_id("shopify", "order:1001")
    assert first == deterministic_event_id("shopify", "order:1001")
    assert first != deterministic_event_id("magento", "order:1001")
    assert len(first) == 36


@given(st.text(), st.text())
def test_deterministic_event_id_is_the_rfc_4122_uuid5(source, natural_key):
    """Ids of files imported before the direct SHA-1 computation must not change."""
    expected = uuid.uuid5(PANORAMA_NAMESPACE, f"{source}\x1f{natural_key}")
    assert deterministic_event_id(source, natural_key) == str(expected)


def test_micros_round_trip_and_refuse_naive_datetimes():
    moment = datetime(2024, 6, 10, 6, 13, 20, 123456, tzinfo=timezone.utc)
    assert from_micros(to_micros(moment)) == moment
    with pytest.raises(ValueError, match="naive"):
        to_micros(datetime(2024, 6, 10))


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [(Decimal("19.99"), "EUR", 1999), (Decimal("1200"), "JPY", 1200), (Decimal("1.234"), "KWD", 1234), (Decimal("5"), "KRW", 5)],
)
def test_money_decimal_round_trip(amount, currency, minor):
    money = Money.from_decimal(amount, currency)
    assert money.amount_minor == minor
    assert money.to_decimal() == amount


def test_money_refuses_to_round():
    with pytest.raises(ContractError) as err:
        Money.from_decimal(Decimal("0.5"), "JPY")
    assert err.value.code == "invalid_money"
