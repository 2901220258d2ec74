"""One contract, run against every backend: chDB always, a ClickHouse server when
CDP_CLICKHOUSE_URL names one."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from panorama.errors import QueryError
from projections.avro_container import ContainerWriter, row_schema
from projections.avro_input import avro_insert
from projections.backend import Backend
from projections.chdb_backend import ChdbBackend
from schemas.codec import InteractionCodec
from schemas.contract import current_schema
from schemas.examples import example_record

pytestmark = pytest.mark.integration


@pytest.fixture(params=["chdb", "server"])
def backend(request, tmp_path) -> Backend:
    if request.param == "chdb":
        opened: Backend = ChdbBackend(tmp_path / "chdb")
    else:
        url = os.environ.get("CDP_CLICKHOUSE_URL")
        if not url:
            pytest.skip(reason="no ClickHouse server: set CDP_CLICKHOUSE_URL=http://host:8123 to run the server backend")
        from projections.server_backend import ServerBackend

        opened = ServerBackend(url)
    yield opened
    opened.close()


@pytest.fixture
def scratch(backend) -> str:
    """A table of this test's own (the server may be shared)."""
    name = f"scratch_{uuid.uuid4().hex[:12]}"
    backend.command(f"CREATE TABLE {name} (id UUID, at DateTime64(6, 'UTC'), kind LowCardinality(String), "
                    "score Nullable(Int16), n UInt64) ENGINE = ReplacingMergeTree ORDER BY (kind, id)")
    yield name
    backend.command(f"DROP TABLE IF EXISTS {name}")


def test_columns_in_rows_out(backend, scratch):
    ids = [str(uuid.uuid4()) for _ in range(3)]
    at = 1_718_000_000_123_456
    data = pa.table({
        "id": pa.array(ids), "at": pa.array([at] * 3, pa.timestamp("us", tz="UTC")),
        "kind": pa.array(["a", "b", "a"]), "score": pa.array([1, None, 3], pa.int16()), "n": pa.array([1, 2, 3], pa.uint64()),
    })
    backend.insert(scratch, data, {"insert_deduplicate": 0})
    result = backend.query(f"SELECT toString(id) AS id, at, kind, score, n FROM {scratch} ORDER BY n")
    assert result.columns == ["id", "at", "kind", "score", "n"]
    assert [r["id"] for r in result.as_dicts()] == ids
    assert result.rows[1][3] is None and result.rows[2][4] == 3
    assert result.rows[0][1].replace(tzinfo=UTC) == datetime.fromtimestamp(at / 1e6, UTC)


def test_wide_integers_come_back_as_numbers(backend):
    row = backend.query("SELECT toUInt128(1) AS a, toInt128(-2) AS b, toUInt256(3) AS c, toInt256(-5) AS d, "
                        "CAST(NULL AS Nullable(UInt128)) AS e, toFixedString('0123456789abcdef', 16) AS f").rows[0]
    assert row[:5] == (1, -2, 3, -5, None)
    assert row[5] in (b"0123456789abcdef", "0123456789abcdef")  # the same width, but text: left as it is


def test_duplicates_collapse_with_final_before_any_merge(backend, scratch):
    row = pa.table({"id": pa.array([str(uuid.uuid4())]), "at": pa.array([0], pa.timestamp("us", tz="UTC")),
                    "kind": pa.array(["a"]), "score": pa.array([None], pa.int16()), "n": pa.array([1], pa.uint64())})
    backend.insert(scratch, row, {"insert_deduplicate": 0})
    backend.insert(scratch, row, {"insert_deduplicate": 0})
    assert backend.query(f"SELECT count() FROM {scratch}").scalar() == 2
    assert backend.query(f"SELECT count() FROM {scratch} FINAL").scalar() == 1


def test_a_refused_statement_is_a_query_error(backend):
    with pytest.raises(QueryError, match="refused"):
        backend.query("SELECT no_such_column FROM system.one")


def test_a_reinsert_after_an_erasure_is_not_swallowed(backend, scratch):
    """The sink inserts with insert_deduplicate=0, so no block hash left behind by
    ALTER ... DELETE can drop a legitimate re-insert of the same rows."""
    rows = pa.table({"id": pa.array([str(uuid.uuid4()) for _ in range(2)]),
                     "at": pa.array([0, 0], pa.timestamp("us", tz="UTC")), "kind": pa.array(["a", "a"]),
                     "score": pa.array([None, None], pa.int16()), "n": pa.array([1, 2], pa.uint64())})
    settings = {"insert_deduplicate": 0}
    backend.insert(scratch, rows, settings)
    backend.command(f"ALTER TABLE {scratch} DELETE WHERE kind = 'a' SETTINGS mutations_sync = 2")
    assert backend.query(f"SELECT count() FROM {scratch}").scalar() == 0
    backend.insert(scratch, rows, settings)
    assert backend.query(f"SELECT count() FROM {scratch} FINAL").scalar() == 2


def test_an_avro_container_decoded_by_the_engine(backend, scratch):
    """The sink's path: ClickHouse decodes the Avro rows (chDB from a file, a server from
    the request body through ``input()``) and the SELECT maps them to columns."""
    codec, writer = InteractionCodec(), ContainerWriter(current_schema())
    records = [example_record("survey_answered"), example_record("order_placed")]
    container = writer.container([writer.row(b"k", 0, 40 + i, codec.encode(r)) for i, r in enumerate(records)])
    columns = [("id", "{event_id}"), ("at", "{occurred_at}"), ("kind", "{type}"), ("score", "{survey.score}"),
               ("n", "reinterpretAsUInt64({kafka_offset})")]
    backend.insert_avro(avro_insert(scratch, columns, row_schema(current_schema())), container, {"insert_deduplicate": 0})
    rows = backend.query(f"SELECT toString(id), toUnixTimestamp64Micro(at), kind, score, n FROM {scratch} ORDER BY n").rows
    assert rows == [(r["event_id"], r["occurred_at"], r["type"], (r["survey"] or {}).get("score"), 40 + i)
                    for i, r in enumerate(records)]
