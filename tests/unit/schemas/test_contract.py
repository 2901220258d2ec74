from schemas.avro_names import named_types
from schemas.contract import CANONICAL_TYPES, PAYLOAD_FIELDS, current_schema, iter_fields, pii_fields

SCHEMA = current_schema()
ENVELOPE_FIELDS = {"event_id", "type", "name", "occurred_at", "received_at", "source", "identities", "context", "consent", "properties"}


def test_payload_table_matches_the_avsc_payload_fields():
    top_level = [f["name"] for f in SCHEMA["fields"]]
    assert set(top_level) - ENVELOPE_FIELDS == set(PAYLOAD_FIELDS)
    assert set(CANONICAL_TYPES.values()) - {None} == set(PAYLOAD_FIELDS)


def test_payload_fields_are_nullable_and_default_null():
    for field in SCHEMA["fields"]:
        if field["name"] in PAYLOAD_FIELDS:
            assert field["type"][0] == "null" and field["default"] is None, field["name"]


def test_every_nullable_field_defaults_to_null():
    for path, field in iter_fields(SCHEMA):
        if isinstance(field["type"], list) and "null" in field["type"]:
            assert "default" in field and field["default"] is None, path


def _record_definitions(node):
    if isinstance(node, list):
        return [name for item in node for name in _record_definitions(item)]
    if not isinstance(node, dict):
        return []
    own = [node["name"]] if node.get("type") == "record" else []
    return own + [name for value in node.values() for name in _record_definitions(value)]


def test_shared_records_are_named_types_defined_once():
    definitions = _record_definitions(SCHEMA)
    assert {"Money", "Address", "LineItem"} <= set(named_types(SCHEMA))
    assert sorted(definitions) == sorted(set(definitions))


def test_personal_fields_are_tagged():
    assert dict(pii_fields()) == {
        "identities.email": "email",
        "identities.phone": "phone",
        "context.ip": "ip",
        "traits.first_name": "name",
        "traits.last_name": "name",
        "traits.email": "email",
        "traits.phone": "phone",
        "traits.birthday": "birthdate",
        "traits.address": "address",
        "order.shipping_address": "address",
        "refund.reason": "free_text",
        "email.subject": "free_text",
        "call.notes": "free_text",
        "social.handle": "handle",
        "social.text": "free_text",
        "ticket.subject": "free_text",
        "survey.comment": "free_text",
    }


def test_pii_kinds_are_the_documented_ones():
    assert {kind for _, kind in pii_fields()} <= {"email", "phone", "name", "address", "free_text", "ip", "birthdate", "handle"}
