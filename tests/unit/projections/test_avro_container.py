"""Single-object messages re-framed as an Avro container file: read back by fastavro."""

from __future__ import annotations

from io import BytesIO

import fastavro
import pytest

from projections.avro_container import ContainerWriter, row_schema, zigzag
from schemas.codec import HEADER_SIZE, InteractionCodec
from schemas.contract import current_schema
from schemas.examples import example_records


@pytest.mark.parametrize(("n", "encoded"), [(0, "00"), (-1, "01"), (1, "02"), (63, "7e"), (64, "8001"),
                                            (300, "d804"), (-(2**63), "ffffffffffffffffff01")])
def test_zigzag_varints_as_the_avro_spec_writes_them(n, encoded):
    assert zigzag(n).hex() == encoded


def test_a_container_holds_every_event_with_its_kafka_key_partition_and_offset():
    codec = InteractionCodec()
    records = list(example_records().values())
    writer = ContainerWriter(current_schema())
    rows = [writer.row(f"key-{i}".encode(), i % 3, 2**40 + i, codec.encode(r)) for i, r in enumerate(records)]
    rows.append(writer.row(None, 1025, 7, codec.encode(records[0])))  # no key, a partition beyond the cache
    read = list(fastavro.reader(BytesIO(writer.container(rows))))
    assert len(read) == len(records) + 1
    interaction = fastavro.parse_schema(current_schema())
    for i, (row, record) in enumerate(zip(read, records)):
        kafka = {"customer_key": f"key-{i}", "kafka_partition": i % 3, "kafka_offset": (2**40 + i).to_bytes(8, "little")}
        event = fastavro.schemaless_reader(BytesIO(codec.encode(record)[HEADER_SIZE:]), interaction)
        assert row == kafka | event
    assert (read[-1]["customer_key"], read[-1]["kafka_partition"]) == ("", 1025)


def test_the_kafka_fields_may_not_shadow_an_event_field():
    schema = current_schema()
    clashing = {**schema, "fields": [*schema["fields"], {"name": "kafka_offset", "type": "long"}]}
    with pytest.raises(ValueError, match="kafka_offset"):
        row_schema(clashing)


@pytest.mark.parametrize(("rows", "parts"), [(7, 1), (7, 2), (8, 3), (2, 4)])
def test_containers_split_the_rows_in_order_without_losing_or_repeating_one(rows, parts):
    codec = InteractionCodec()
    record = next(iter(example_records().values()))
    writer = ContainerWriter(current_schema())
    containers = writer.containers([writer.row(b"k", 0, i, codec.encode(record)) for i in range(rows)], parts)
    read = [[int.from_bytes(r["kafka_offset"], "little") for r in fastavro.reader(BytesIO(c))] for c in containers]
    assert len(containers) == parts
    assert [offset for part in read for offset in part] == list(range(rows))
    assert max(map(len, read)) - min(map(len, read)) <= 1
