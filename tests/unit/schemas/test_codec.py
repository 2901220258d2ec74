from io import BytesIO

import pytest
from fastavro import parse_schema, schemaless_writer
from fastavro.schema import fingerprint as fastavro_fingerprint
from hypothesis import given, settings

from panorama.errors import ContractError, UnknownSchemaError
from schemas.codec import MARKER, InteractionCodec, without_logical_types
from schemas.contract import current_schema, schema_versions
from schemas.examples import example_records
from schemas.fingerprint import crc64_avro
from tests.unit.schemas.strategies import interaction_records

CODEC = InteractionCodec()
FASTAVRO_SCHEMA = parse_schema(without_logical_types(current_schema()))


def fastavro_body(record):
    buffer = BytesIO()
    schemaless_writer(buffer, FASTAVRO_SCHEMA, record)
    return buffer.getvalue()


@pytest.mark.parametrize("type_", sorted(example_records()))
def test_examples_round_trip_byte_exact(type_):
    record = example_records()[type_]
    data = CODEC.encode(record)
    decoded = CODEC.decode(data)
    assert decoded == record
    assert CODEC.encode(decoded) == data


@pytest.mark.parametrize("type_", sorted(example_records()))
def test_fast_writer_writes_what_fastavro_writes(type_):
    record = example_records()[type_]
    assert CODEC.encode(record)[10:] == fastavro_body(record)


@settings(max_examples=300, deadline=None)
@given(interaction_records())
def test_generated_records_round_trip(record):
    data = CODEC.encode(record)
    assert data[10:] == fastavro_body(record)
    assert CODEC.decode(data) == record


def test_missing_defaulted_fields_are_written_as_their_defaults():
    full = example_records()["track"]
    sparse = {k: full[k] for k in ("event_id", "type", "name", "occurred_at", "received_at", "source", "identities")}
    decoded = CODEC.decode(CODEC.encode(sparse))
    assert decoded["consent"] == {} and decoded["properties"] == "{}" and decoded["order"] is None
    assert decoded["context"]["campaign"] is None


def test_header_is_marker_then_little_endian_crc64_of_canonical_form():
    data = CODEC.encode(example_records()["track"])
    canonical = schema_versions()[-1].canonical_form
    assert data[:2] == MARKER == b"\xc3\x01"
    assert data[2:10] == CODEC.fingerprint == bytes.fromhex(fastavro_fingerprint(canonical, "CRC-64-AVRO"))


def test_crc64_matches_the_avro_spec_vector():
    # From the Avro spec's test suite: the fingerprint of "null".
    assert crc64_avro(b'"null"') == 7195948357588979594


def test_unknown_fingerprint_says_what_to_do():
    data = bytearray(CODEC.encode(example_records()["track"]))
    data[2:10] = b"\x00" * 8
    with pytest.raises(UnknownSchemaError, match="upgrade this consumer"):
        CODEC.decode(bytes(data))


@pytest.mark.parametrize("data", [b"", b"\xc3", b"\x00\x01" + b"\x00" * 20, b"{\"json\": 1}"])
def test_bad_marker_is_unknown_schema(data):
    with pytest.raises(UnknownSchemaError, match="single-object"):
        CODEC.decode(data)


@pytest.mark.parametrize("cut", [11, 30, -1])
def test_truncated_body_is_contract_error(cut):
    data = CODEC.encode(example_records()["order_placed"])
    with pytest.raises(ContractError) as err:
        CODEC.decode(data[:cut])
    assert err.value.code == "corrupt_body"


def test_trailing_bytes_are_refused():
    with pytest.raises(ContractError, match="trailing"):
        CODEC.decode(CODEC.encode(example_records()["track"]) + b"\x00")


@pytest.mark.parametrize(
    ("path", "value", "field", "problem"),
    [
        (("identities", "email"), 42, "identities.email", "expected string"),
        (("order", "total", "amount_minor"), 19.99, "order.total.amount_minor", "expected long"),
        (("occurred_at",), "2024-06-10", "occurred_at", "expected long"),
        (("source", "channel"), None, "source.channel", "is required"),
        (("consent", "marketing"), "yes", "consent.marketing", "expected boolean"),
    ],
)
def test_encode_error_names_the_field(path, value, field, problem):
    record = example_records()["order_placed"]
    target = record
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ContractError, match=problem) as err:
        CODEC.encode(record)
    assert (err.value.field, err.value.code) == (field, "schema_mismatch")


def test_encode_error_in_a_list_names_the_index():
    record = example_records()["order_placed"]
    record["order"]["line_items"][1] = dict(record["order"]["line_items"][1], quantity="2")
    with pytest.raises(ContractError) as err:
        CODEC.encode(record)
    assert err.value.field == "order.line_items[1].quantity"


def test_missing_required_field_is_named():
    record = example_records()["track"]
    del record["event_id"]
    with pytest.raises(ContractError) as err:
        CODEC.encode(record)
    assert err.value.field == "event_id"


def test_long_out_of_range_is_refused():
    record = example_records()["loyalty_points_earned"]
    record["loyalty"]["points"] = 2**63
    with pytest.raises(ContractError) as err:
        CODEC.encode(record)
    assert err.value.field == "loyalty.points"
