"""The DLQ keeps no personal data in clear: sealed payloads, redacted shapes, withheld problems."""

from __future__ import annotations

import orjson

from panorama.errors import ContractError
from panorama.privacy.crypto import is_sealed
from panorama.privacy.errors import SuppressedIdentity
from producers.dead_letter import WITHHELD, dead_letter_record, read_dead_letter
from schemas.examples import example_records


class FakeSealer:
    """Stands in for the key store: seals by marking, so the test sees what was sealed."""

    def __init__(self, answer: bool):
        self.answer = answer
        self.sealed: list = []

    def seal_payload(self, payload):
        self.sealed.append(payload)
        return "pii1." + "0" * 32 + ".00000000.AAAA" if self.answer else None


def test_a_payload_with_identities_is_sealed_whole_with_its_problem():
    record = example_records()["identify"]
    sealer = FakeSealer(answer=True)
    error = ContractError("identities.phone", "cannot parse '+33612345678x' as a phone number", "invalid_phone")
    body = read_dead_letter(dead_letter_record(record, error, "web", sealer)[0])
    assert is_sealed(body["sealed"]) and "payload" not in body and "redacted" not in body
    assert body["problem"] == WITHHELD and body["field"] == "identities.phone"
    assert sealer.sealed == [{"payload": record, "problem": error.problem}]
    assert b"ana.martins" not in orjson.dumps(body) and b"33612345678" not in orjson.dumps(body)


def test_without_a_subject_only_the_shape_is_kept():
    raw = {"userId": "u-1", "traits": {"email": "ana@example.com", "age": 41, "vip": True}}
    body = read_dead_letter(dead_letter_record(raw, ContractError("type", "is required", "malformed"), None,
                                               FakeSealer(answer=False))[0])
    assert body["redacted"] == {"userId": "<str>", "traits": {"email": "<str>", "age": "<int>", "vip": True}}
    assert body["problem"] == "is required"


def test_a_suppressed_event_leaves_nothing_of_its_input():
    body = read_dead_letter(dead_letter_record(example_records()["identify"], SuppressedIdentity(), None,
                                               FakeSealer(answer=True))[0])
    assert body["reason"] == "suppressed" and "sealed" not in body and "redacted" not in body


def test_problems_about_non_personal_fields_stay_readable():
    body = read_dead_letter(dead_letter_record({}, ContractError("order.line_items[0].quantity", "must be positive"))[0])
    assert body["problem"] == "must be positive"
    for field in ("traits.first_name", "context.ip", "identities.user_id", "<record>", "traits.address.city"):
        body = read_dead_letter(dead_letter_record({}, ContractError(field, "quoted 'Ana'"))[0])
        assert body["problem"] == WITHHELD, field
