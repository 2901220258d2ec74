"""Audit records: the fields every consumer relies on, and no personal data inside."""

from __future__ import annotations

import pytest

from panorama.security.audit import FIELDS, audit_event, pseudonym
from panorama.security.errors import AuditError
from panorama.settings import Settings


def test_record_has_every_field_in_order():
    event = audit_event("key:support-1", "profile.read", "email:0123abcd", "ticket 42", role="support")
    assert tuple(event) == FIELDS
    assert event["outcome"] == "ok" and event["details"] == {} and event["at"].endswith("+00:00")


@pytest.mark.parametrize(("subject", "details"), [
    ("ana@example.com", None),
    ("customer:x", {"looked_up": "email:ana.lopez@example.org"}),
    ("customer:x", {"numbers": ["+34 612 345 678"]}),
    ("+8613800138000", None),
])
def test_personal_data_is_refused_naming_the_field(subject, details):
    with pytest.raises(AuditError, match="subject|details"):
        audit_event("cli:ops", "profile.read", subject, details=details)


def test_customer_ids_with_digit_runs_are_not_mistaken_for_phones():
    subject = "phone:12345678901234567890123456789012"
    assert audit_event("cli:ops", "profile.read", subject)["subject"] == subject


def test_unknown_outcome_is_refused():
    with pytest.raises(AuditError, match="outcome"):
        audit_event("cli:ops", "key.create", outcome="maybe")


def test_pseudonym_is_keyed_and_hides_the_identity():
    a = pseudonym(Settings(routing_key_secret="one"), "email:Ana@Example.com")
    b = pseudonym(Settings(routing_key_secret="two"), "email:ana@example.com")
    assert a.startswith("email:") and "ana" not in a.lower()
    assert a != b
    assert pseudonym(Settings(routing_key_secret="one"), "email:ana@example.com") == a
