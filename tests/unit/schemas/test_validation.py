import time

import pytest

from panorama.errors import ContractError
from schemas.examples import example_records
from schemas.validation import validate

FAR_FUTURE = time.time_ns() // 1000 + 25 * 3600 * 1_000_000


@pytest.mark.parametrize("type_", sorted(example_records()))
def test_examples_are_valid(type_):
    validate(example_records()[type_])


def _set(record, path, value):
    *parents, last = path.split(".")
    for key in parents:
        record = record[int(key)] if key.isdigit() else record[key]
    record[last] = value


CASES = [
    ("track", "event_id", "not-a-uuid", "event_id", "invalid_uuid"),
    ("track", "event_id", None, "event_id", "invalid_uuid"),
    ("track", "type", "signed_up", "type", "unknown_type"),
    ("track", "name", "", "name", "missing_name"),
    ("order_placed", "order", None, "order", "missing_payload"),
    ("track", "order", example_records()["order_placed"]["order"], "order", "unexpected_payload"),
    ("page", "traits", {"first_name": "Ana"}, "traits", "unexpected_payload"),
    ("track", "identities", {"external_ids": {}}, "identities", "missing_identity"),
    ("track", "identities", {"email": "", "external_ids": {"wechat_openid": ""}}, "identities", "missing_identity"),
    ("track", "occurred_at", 1_718_000_000, "occurred_at", "invalid_timestamp"),
    ("track", "occurred_at", "2024-06-10T00:00:00Z", "occurred_at", "invalid_timestamp"),
    ("track", "occurred_at", FAR_FUTURE, "occurred_at", "invalid_timestamp"),
    ("track", "properties", "[1, 2]", "properties", "invalid_properties"),
    ("track", "properties", "{not json", "properties", "invalid_properties"),
    ("track", "consent", {"newsletter": True}, "consent.newsletter", "invalid_consent"),
    ("order_placed", "order.total.currency", "eur", "order.total.currency", "invalid_money"),
    ("order_placed", "order.tax.currency", "EURO", "order.tax.currency", "invalid_money"),
    ("order_placed", "order.line_items.0.unit_price.currency", "", "order.line_items[0].unit_price.currency", "invalid_money"),
    ("order_refunded", "refund.amount.currency", "€", "refund.amount.currency", "invalid_money"),
    ("opportunity_stage_changed", "pipeline.amount.currency", "jpy", "pipeline.amount.currency", "invalid_money"),
    ("order_placed", "order.line_items.1.quantity", 0, "order.line_items[1].quantity", "invalid_field"),
    ("order_refunded", "refund.line_items.0.quantity", -1, "refund.line_items[0].quantity", "invalid_field"),
    ("survey_answered", "survey.score", 11, "survey.score", "invalid_field"),
    ("survey_answered", "survey.score", -1, "survey.score", "invalid_field"),
    ("survey_answered", "survey.max_score", 0, "survey.max_score", "invalid_field"),
    ("call_logged", "call.direction", "sideways", "call.direction", "invalid_field"),
    ("social_interaction", "social.interaction", "poke", "social.interaction", "invalid_field"),
    ("consent_changed", "consent_change.purpose", "spam", "consent_change.purpose", "invalid_field"),
    ("identify", "traits.birthday", "17/04/1990", "traits.birthday", "invalid_field"),
]


@pytest.mark.parametrize(("type_", "path", "value", "field", "code"), CASES, ids=[f"{c[4]}:{c[1]}" for c in CASES])
def test_each_rule_names_the_field(type_, path, value, field, code):
    record = example_records()[type_]
    _set(record, path, value)
    with pytest.raises(ContractError) as err:
        validate(record)
    assert (err.value.field, err.value.code) == (field, code)


def test_identify_may_carry_no_traits():
    record = example_records()["identify"]
    record["traits"] = None
    validate(record)


def test_an_external_id_alone_is_an_identity():
    record = example_records()["track"]
    record["identities"] = {"external_ids": {"wechat_openid": "oX3f9"}}
    validate(record)


def test_consent_keys_may_name_a_channel():
    record = example_records()["track"]
    record["consent"] = {"marketing:whatsapp": True, "cross_border_transfer": False}
    validate(record)
