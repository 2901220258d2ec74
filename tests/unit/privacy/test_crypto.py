"""Sealed values: round trip, tamper detection, wrong key, unknown version, bad shapes."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from panorama.privacy.crypto import DataKey, is_sealed, new_key_material, parse, seal, unseal
from panorama.privacy.errors import CiphertextError

SUBJECT = "0123456789abcdef0123456789abcdef"


def data_key(subject: str = SUBJECT) -> DataKey:
    kid, material = new_key_material()
    return DataKey(subject, kid, AESGCM(material))


def test_round_trip_hides_the_value_and_names_subject_and_key():
    key = data_key()
    sealed = seal(key, "ana.martins@example.com", "identities.email")
    assert is_sealed(sealed) and sealed.startswith(f"pii1.{SUBJECT}.{key.kid}.")
    assert "ana" not in sealed and "example" not in sealed
    assert unseal(key, parse(sealed, "identities.email"), "identities.email") == "ana.martins@example.com"
    assert seal(key, "x", "p") != seal(key, "x", "p")  # a fresh nonce every time


@pytest.mark.parametrize("position", [-1, -10, 60])
def test_any_changed_byte_fails_authentication(position):
    key = data_key()
    sealed = seal(key, "+4915100000001", "identities.phone")
    flipped = sealed[:position] + ("A" if sealed[position] != "A" else "B") + sealed[position + 1:]
    with pytest.raises(CiphertextError, match="identities.phone"):
        unseal(key, parse(flipped, "identities.phone"), "identities.phone")


def test_a_value_moved_to_another_field_fails():
    key = data_key()
    sealed = seal(key, "Ana", "traits.first_name")
    with pytest.raises(CiphertextError, match="authentication failed"):
        unseal(key, parse(sealed, "traits.last_name"), "traits.last_name")


def test_wrong_key_fails_even_with_the_same_ids():
    key, other = data_key(), data_key()
    sealed = seal(key, "Ana", "traits.first_name")
    impostor = DataKey(SUBJECT, key.kid, other.aead)
    with pytest.raises(CiphertextError, match="authentication failed"):
        unseal(impostor, parse(sealed, "traits.first_name"), "traits.first_name")
    with pytest.raises(CiphertextError, match="sealed under key"):
        unseal(other, parse(sealed, "traits.first_name"), "traits.first_name")


def test_unknown_version_and_bad_shapes_are_named():
    sealed = seal(data_key(), "Ana", "traits.first_name")
    assert is_sealed("pii9." + sealed[5:])
    with pytest.raises(CiphertextError, match="unknown version 'pii9'"):
        parse("pii9." + sealed[5:], "traits.first_name")
    with pytest.raises(CiphertextError, match="malformed"):
        parse("pii1.abc.def", "traits.first_name")
    with pytest.raises(CiphertextError, match="base64"):
        parse(f"pii1.{SUBJECT}.01234567.@@@@", "traits.first_name")
    with pytest.raises(CiphertextError, match="too short"):
        parse(f"pii1.{SUBJECT}.01234567.AAAA", "traits.first_name")
    assert not is_sealed("Ana") and not is_sealed(None) and not is_sealed("pii.x")
