"""Sealing every personal field of a record, and only those; opening; shredding."""

from __future__ import annotations

import copy

import pytest

from panorama.privacy.crypto import is_sealed
from panorama.privacy.errors import CiphertextError
from panorama.privacy.fields import open_record, pii_tree, seal_record
from schemas.contract import pii_fields
from schemas.examples import example_records
from tests.unit.privacy.test_crypto import data_key

PLAINTEXT = ("ana.martins", "+33612345678", "rue de la Paix", "203.0.113.42")


def everything(record) -> str:
    return repr(record)


@pytest.mark.parametrize("name", sorted(example_records()))
def test_every_tagged_string_is_sealed_nothing_else_and_the_input_is_untouched(name):
    record = example_records()[name]
    before = copy.deepcopy(record)
    key = data_key()
    sealed = seal_record(record, key)
    assert record == before
    for needle in PLAINTEXT:
        assert needle not in everything(sealed)
    assert sealed["event_id"] == record["event_id"] and sealed["type"] == record["type"]
    if record.get("order"):
        assert sealed["order"]["total"] == record["order"]["total"]
    opened, shredded = open_record(copy.deepcopy(sealed), {key.subject: key}.get)
    assert not shredded and opened == record


def test_the_tree_covers_every_tagged_path():
    def leaves(tree, prefix=""):
        for name, sub in tree.items():
            yield from ([prefix + name] if not sub else leaves(sub, f"{prefix}{name}."))
    assert sorted(leaves(pii_tree())) == sorted(path for path, _ in pii_fields())


def test_a_record_tagged_as_a_whole_has_each_string_sealed():
    record = example_records()["order_placed"]
    sealed = seal_record(record, data_key())
    address = sealed["order"]["shipping_address"]
    assert all(is_sealed(v) for v in address.values() if v is not None)


def test_a_deleted_key_shreds_the_fields_to_none():
    record = example_records()["identify"]
    opened, shredded = open_record(seal_record(record, data_key()), lambda subject: None)
    assert shredded and opened["identities"]["email"] is None and opened["traits"]["first_name"] is None
    assert opened["identities"]["user_id"] == record["identities"]["user_id"]


def test_a_key_created_again_after_a_forget_shreds_old_values():
    record = example_records()["identify"]
    old, new = data_key(), data_key()
    sealed = seal_record(record, old)
    assert open_record(sealed, lambda subject: new)[1] is True


def test_tampering_is_reported_with_the_field():
    key = data_key()
    sealed = seal_record(example_records()["identify"], key)
    value = sealed["traits"]["last_name"]
    sealed["traits"]["last_name"] = value[:-2] + ("AA" if value[-2:] != "AA" else "BB")
    with pytest.raises(CiphertextError) as caught:
        open_record(sealed, {key.subject: key}.get)
    assert caught.value.field == "traits.last_name" and caught.value.code == "bad_ciphertext"


def test_plaintext_from_before_encryption_is_read_as_is():
    record = example_records()["identify"]
    assert open_record(record, lambda subject: None) == (record, False)


@pytest.mark.parametrize("name", sorted(example_records()))
def test_the_compiled_walk_visits_exactly_what_the_interpreted_one_does(name):
    from panorama.privacy.fields import _compiled, _transform

    record = example_records()[name]
    mark = lambda value, path: f"<{path}>"  # noqa: E731
    expected = _transform(record, pii_tree(), "", mark)
    assert _compiled()(record, mark) == expected and record == example_records()[name]
    in_place = copy.deepcopy(record)
    assert _compiled(in_place=True)(in_place, mark) is in_place and in_place == expected


def test_the_memo_sealer_reuses_a_value_sealed_for_the_same_field_only():
    from panorama.privacy.fields import memo_sealer

    key = data_key()
    seal_one = memo_sealer(key, size=16)
    record = example_records()["identify"]
    first, second = seal_one(record), seal_one(record)
    assert first["identities"]["email"] == second["identities"]["email"]
    assert first["identities"]["email"] != first["traits"]["email"]  # same value, other field: other ciphertext
    assert open_record(copy.deepcopy(second), {key.subject: key}.get) == (record, False)
