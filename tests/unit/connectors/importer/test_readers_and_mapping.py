import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from connectors.importer.mapping import load_mapping
from connectors.importer.readers import read_rows
from panorama.errors import ConnectorError, ContractError


def test_csv_rows_are_numbered_and_ragged_rows_reported(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("\ufeffcustomer_id,email\nc1,a@b.c\nc2\n\nc3,x@y.z\n", "utf-8")
    rows = [(n, r) for n, r, _ in read_rows(path)]
    assert rows[0] == (1, {"customer_id": "c1", "email": "a@b.c"})
    assert rows[1][0] == 2 and isinstance(rows[1][1], ContractError)
    assert rows[2] == (4, {"customer_id": "c3", "email": "x@y.z"})


def test_jsonl_and_parquet(tmp_path):
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_text('{"customer_id": "c1"}\nnot json\n[1]\n', "utf-8")
    rows = [r for _, r, _ in read_rows(jsonl)]
    assert rows[0] == {"customer_id": "c1"} and all(isinstance(r, ContractError) for r in rows[1:])
    parquet = tmp_path / "c.parquet"
    pq.write_table(pa.table({"customer_id": ["c1", "c2"], "age": [30, 40]}), parquet)
    assert [r for _, r, _ in read_rows(parquet)] == [{"customer_id": "c1", "age": 30}, {"customer_id": "c2", "age": 40}]


def test_unknown_format_is_refused(tmp_path):
    with pytest.raises(ConnectorError, match="format"):
        list(read_rows(tmp_path / "c.xlsx"))


def test_mapping_renames_columns_and_carries_settings(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text('[columns]\ncustomer_id = "Kundennummer"\nemail = "E-Mail"\n[settings]\ntimezone = "Europe/Berlin"\n')
    mapping = load_mapping(path)
    assert mapping.settings == {"timezone": "Europe/Berlin"}
    assert mapping.renamer()({"Kundennummer": "7", "E-Mail": "a@b.c", "Land": "DE"}) == {"customer_id": "7", "email": "a@b.c", "Land": "DE"}
    bad = tmp_path / "bad.json"
    bad.write_text('{"colums": {}}')
    with pytest.raises(ConnectorError, match="unknown sections"):
        load_mapping(bad)


def test_chunks_not_wanted_are_numbered_but_not_built(tmp_path, monkeypatch):
    from connectors.importer import chunks as chunking

    monkeypatch.setattr(chunking, "CHUNK_ROWS", 2)
    path = tmp_path / "c.csv"
    path.write_text("customer_id\nc1\nc2\n\nc3\nc4\nc5\n", "utf-8")
    [(index, chunk)] = list(chunking.chunks(path, lambda i: i == 1))
    assert index == 1 and [(n, chunking.build_row(r)) for n, r, _ in chunk] == [(4, {"customer_id": "c3"}),
                                                                                  (5, {"customer_id": "c4"})]
