import pytest

from panorama.errors import ContractError
from schemas.identities import normalise_email, normalise_phone, routing_identity


def test_normalise_email():
    assert normalise_email("  Ana.Martins@Example.COM ") == "ana.martins@example.com"


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [("+33 6 12 34 56 78", None, "+33612345678"), ("06 12 34 56 78", "FR", "+33612345678"), ("(415) 555-0132", "US", "+14155550132")],
)
def test_normalise_phone(raw, region, e164):
    assert normalise_phone(raw, region) == e164


@pytest.mark.parametrize(("raw", "region"), [("06 12 34 56 78", None), ("call me", "FR"), ("+33 1", None)])
def test_unparsable_phone_is_a_contract_error(raw, region):
    with pytest.raises(ContractError) as err:
        normalise_phone(raw, region)
    assert err.value.code == "invalid_phone"


ALL = {"user_id": "u-1", "email": " Ana@Example.com", "phone": "+33 6 12 34 56 78",
       "external_ids": {"wechat_openid": "wx-1", "line_id": "ln-1"}, "device_id": "d-1", "anonymous_id": "a-1"}


@pytest.mark.parametrize(
    ("drop", "expected"),
    [
        ((), ("user_id", "u-1")),
        (("user_id",), ("email", "ana@example.com")),
        (("user_id", "email"), ("phone", "+33612345678")),
        (("user_id", "email", "phone"), ("external:line_id", "ln-1")),
        (("user_id", "email", "phone", "external_ids"), ("device_id", "d-1")),
        (("user_id", "email", "phone", "external_ids", "device_id"), ("anonymous_id", "a-1")),
    ],
)
def test_routing_identity_priority(drop, expected):
    identities = {k: v for k, v in ALL.items() if k not in drop}
    assert routing_identity(identities) == expected


def test_routing_identity_requires_one():
    with pytest.raises(ContractError) as err:
        routing_identity({"user_id": None, "email": "", "external_ids": {}})
    assert err.value.code == "missing_identity"
