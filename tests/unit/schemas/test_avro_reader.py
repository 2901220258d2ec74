"""The generated reader against fastavro's, and what it does with bytes that do not fit."""

from io import BytesIO

import pytest
from fastavro import parse_schema, schemaless_reader
from hypothesis import given, settings
from hypothesis import strategies as st

from panorama.errors import ContractError
from schemas.avro_reader import CorruptAvro, compile_reader, read_varint
from schemas.avro_writer import varint
from schemas.codec import HEADER_SIZE, InteractionCodec, without_logical_types
from schemas.contract import current_schema
from schemas.examples import example_records
from tests.unit.schemas.strategies import interaction_records

CODEC = InteractionCodec()
READ = compile_reader(current_schema())
FASTAVRO_SCHEMA = parse_schema(without_logical_types(current_schema()))


def fastavro_read(data: bytes):
    buffer = BytesIO(data)
    buffer.seek(HEADER_SIZE)
    return schemaless_reader(buffer, FASTAVRO_SCHEMA, None)


@pytest.mark.parametrize("type_", sorted(example_records()))
def test_reads_what_fastavro_reads(type_):
    data = CODEC.encode(example_records()[type_])
    record, end = READ(data, HEADER_SIZE)
    assert record == fastavro_read(data)
    assert end == len(data)


@settings(max_examples=300, deadline=None)
@given(interaction_records())
def test_generated_records_read_like_fastavro(record):
    data = CODEC.encode(record)
    assert READ(data, HEADER_SIZE)[0] == fastavro_read(data) == record


@given(st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1))
def test_varint_round_trip(n):
    encoded = varint(n)
    assert read_varint(encoded + b"\x55", 0) == (n, len(encoded))


def test_multi_block_maps_and_negative_block_counts_are_read():
    """Other writers may split a map into blocks, with a negative count and a byte size."""
    marked = CODEC.encode({**example_records()["track"], "consent": {"zz_marker": True}})
    one_block = varint(1) + b"\x12zz_marker\x01\x00"
    two_blocks = varint(-1) + varint(7) + b"\x0aemail\x01" + varint(1) + b"\x06sms\x00" + b"\x00"
    at = marked.index(one_block)
    data = marked[:at] + two_blocks + marked[at + len(one_block):]
    assert CODEC.decode(data)["consent"] == {"email": True, "sms": False}


@pytest.mark.parametrize("bad", [b"\x04", b"\x01", b"\xff"])
def test_a_bad_union_index_is_a_contract_error(bad):
    data = CODEC.encode(example_records()["track"])
    name_at = HEADER_SIZE + 1 + data[HEADER_SIZE] // 2  # after event_id: the type string
    type_len = data[name_at] // 2
    union_at = name_at + 1 + type_len  # the `name` field's union byte
    corrupted = data[:union_at] + bad + data[union_at + 1:]
    with pytest.raises(ContractError) as err:
        CODEC.decode(corrupted)
    assert err.value.code == "corrupt_body"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_garbage_bodies_never_escape_as_anything_but_contract_errors(body):
    data = CODEC.encode(example_records()["track"])[:HEADER_SIZE] + body
    try:
        CODEC.decode(data)
    except ContractError as err:
        assert err.code == "corrupt_body"


def test_corrupt_avro_is_a_value_error():
    with pytest.raises(CorruptAvro):
        read_varint(b"\xff" * 11, 0)


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=60, max_size=9000))
def test_long_strings_read_through_every_length_prefix_size(text):
    """One-, two- (64 to 8,191 bytes, read inline) and three-byte length prefixes."""
    record = {**example_records()["track"], "name": text}
    data = CODEC.encode(record)
    assert READ(data, HEADER_SIZE)[0] == fastavro_read(data)


def test_a_negative_two_byte_string_length_is_a_contract_error():
    data = CODEC.encode({**example_records()["track"], "name": "x" * 100})
    at = data.index(varint(100) + b"x" * 100)
    corrupted = data[:at] + varint(-100) + data[at + 2:]
    with pytest.raises(ContractError) as err:
        CODEC.decode(corrupted)
    assert err.value.code == "corrupt_body"
