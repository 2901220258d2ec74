"""The columnar import path against the row path it replaces: the same bytes, keys,
rejections and row numbers for the same CSV, over hand-picked odd rows and generated ones
(sealing is off here: AES-GCM nonces are random; tests/integration/connectors/
test_import.py compares sealed imports through Kafka)."""

from __future__ import annotations

import csv
import string
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from connectors.importer.chunks import ChunkEncoder, ImportTask, chunks
from connectors.importer.mapping import Mapping
from panorama.settings import Settings
from producers.columnar import varints
from schemas.avro_writer import varint

COLUMNS = ["order_id", "ordered_at", "total", "currency", "customer_id", "email", "phone", "sku", "product_name",
           "category", "quantity", "unit_price", "status", "coupon"]
GOOD = ["o-1", "2024-06-10 08:13:20", "19.90", "EUR", "c1", " Kunde@Example.de ", "+49 30 1234567", "MUG", "Mug",
        "kitchen", "2", "9.95", "", "SUMMER"]


def both_paths(path, mapping: Mapping = Mapping(), connector: str = "orders"):
    """(events, rejects, (rows, position) per chunk) of the row path and of the columnar path."""
    found = []
    with mock.patch("panorama.privacy.hooks.Sealer", lambda _settings: None):
        for columnar in (False, True):
            encoder = ChunkEncoder(ImportTask(Settings(), path, connector, mapping, 1_750_000_000_000_000, columnar))
            assert (encoder.columnar is not None) == columnar
            results = [encoder(chunk) for _, chunk in chunks(path)]
            found.append(([e for r in results for e in r.events], [x for r in results for x in r.rejects],
                          [(r.rows, r.position) for r in results]))
    return found


def write(path, rows, header=COLUMNS, tail: str = ""):
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(header)
        out.writerows(rows)
        f.write(tail)


def variant(**changes) -> list[str]:
    row = dict(zip(COLUMNS, GOOD)) | changes
    return [row[c] for c in COLUMNS]


CUSTOMER_COLUMNS = ["customer_id", "email", "phone", "first_name", "last_name", "birthday", "gender", "company",
                    "address_line1", "city", "region", "postal_code", "country", "marketing_consent", "updated_at",
                    "created_at"]
CUSTOMER = ["c-1", " Ana@Example.COM ", "+49 30 1234567", "Ana", "Lima", "1990-04-17", "f", "ACME", "Hauptstr. 1",
            "Berlin", "BE", "10115", "DEU", "yes", "2024-06-10 08:13:20", ""]


def customer(**changes) -> list[str]:
    row = dict(zip(CUSTOMER_COLUMNS, CUSTOMER)) | changes
    return [row[c] for c in CUSTOMER_COLUMNS]


ODD = [
    variant(total="1.999"), variant(ordered_at="someday"), variant(order_id=" "), variant(phone="n/a"),
    variant(currency="ÄBC"), variant(currency="usd"), variant(quantity="99999999999"), variant(quantity="0"),
    variant(sku="", product_name="", quantity="zero", unit_price="x"),  # no item: quantity and price unread
    variant(ordered_at="1999-12-31"), variant(ordered_at="2999-01-01"), variant(customer_id="", email="", phone=""),
    variant(order_id="\u00a0o-2\u2003"), variant(email="not-an-email"), variant(total=""), variant(total="1e40"),
    variant(ordered_at="2024-06-10T08:13:20+02:00"), variant(ordered_at="1718000000"), variant(status="paid", coupon=""),
    variant(unit_price="", currency=""), variant(order_id="o-ä\x1f"),
]


def test_odd_rows_get_the_row_paths_rejections_and_the_rest_the_same_bytes(tmp_path):
    path = tmp_path / "orders.csv"
    write(path, [variant(order_id=f"o-{n}") for n in range(1500)] + ODD, tail="only,two\n\n")
    (row_events, row_rejects, row_chunks), (events, rejects, col_chunks) = both_paths(path)
    assert len(row_rejects) >= 10 and rejects == row_rejects
    assert events == row_events and len(events) == 1500 + len(ODD) - len(row_rejects) + 1
    assert col_chunks == row_chunks


def test_mapping_and_settings_apply_as_in_the_row_path(tmp_path):
    path = tmp_path / "bestellungen.csv"
    header = ["Nr", "Datum", "Betrag", "Mail", "Tel", "Artikel", "order_id"]
    rows = [[f"b-{n}", f"{1 + n % 28:02d}.03.2024 02:{n % 60:02d}", "5,00" if n == 3 else "5", f"k{n % 9}@x.de",
             "030 1234567", "A" if n % 2 else "", "ignored"] for n in range(300)]
    write(path, rows, header)
    mapping = Mapping({"order_id": "Nr", "ordered_at": "Datum", "total": "Betrag", "email": "Mail", "phone": "Tel",
                       "sku": "Artikel"},
                      {"timezone": "Europe/Berlin", "default_phone_region": "DE", "date_format": "%d.%m.%Y %H:%M",
                       "currency": "JPY"})
    (row_events, row_rejects, _), (events, rejects, _) = both_paths(path, mapping)
    assert rejects == row_rejects and [r[:2] for r in rejects] == [(4, "total")]
    assert events == row_events and len(events) == 299


_TEXT = st.sampled_from(["", " ", "x", " Y ", "ä", "\u00a0", "0", "-1", "3", "1.5", "12.345", "EUR", "eur", "JPY", "€",
                         "2024-06-10 08:13:20", "2024-02-30 00:00:00", "2024-06-10", "a@b.de", " A@B.DE", "+4930123",
                         "030 123", "n/a", "DE"]) | st.text(string.printable + "äß€\u00a0", max_size=6)


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.fixed_dictionaries({c: _TEXT for c in COLUMNS}), min_size=1, max_size=40))
def test_generated_rows_give_the_same_bytes_and_rejections(tmp_path, rows):
    path = tmp_path / "generated.csv"
    write(path, [variant(**row) for row in rows] + [GOOD])
    (row_events, row_rejects, _), (events, rejects, _) = both_paths(path)
    assert rejects == row_rejects
    assert events == row_events and len(events) >= 1


@pytest.mark.parametrize("values", [[0, 1, -1, 63, 64, -65, 8191, 8192, 2**31 - 1, -2**31, 2**63 - 1, -2**63], []])
def test_varints_are_the_writers(values):
    assert varints(np.array(values, dtype=np.int64)).to_pylist() == [varint(v) for v in values]


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/New_York"])
def test_dates_read_on_the_whole_column_are_the_row_paths(tmp_path, zone):
    """Plain ISO dates go through Arrow; those it reads otherwise (a day that does not
    exist, local times a DST change doubles or skips) must still come out as the row path's."""
    dates = ["2024-06-10 08:13:20", "2024-06-10T23:59:59", "2024-02-29 12:00:00", "2023-02-29 12:00:00",
             "2024-02-30 00:00:00", "2024-10-27 02:30:00", "2024-03-31 02:30:00", "2024-11-03 01:30:00",
             "2024-03-10 02:30:00", "2024-06-10 24:00:00", "2024-06-10 08:13:60", " 2024-06-10 08:13:20",
             "2024-06-10 08:13:20Z", "2024-06-10 08:13:20.5", "2024-06-10", "20240610T081320", "0999-01-01 00:00:00"]
    path = tmp_path / "dates.csv"
    write(path, [variant(order_id=f"o-{n}", ordered_at=d) for n, d in enumerate(dates * 3)])
    (row_events, row_rejects, _), (events, rejects, _) = both_paths(path, Mapping(settings={"timezone": zone}))
    assert rejects == row_rejects and events == row_events and len(events) >= 30


CUSTOMER_ODD = [
    customer(customer_id=" "), customer(country="Deutschland"), customer(country="", address_line1="", city="", region="",
                                                                         postal_code=""),
    customer(city="", country="de"), customer(birthday="17.04.1990"), customer(birthday="0990-04-17"),
    customer(marketing_consent="maybe"), customer(marketing_consent=""), customer(marketing_consent="NO"),
    customer(updated_at="", created_at="2023-01-01T00:00:00Z"), customer(updated_at="", created_at=""),
    customer(updated_at="1970-01-01 00:00:00"), customer(updated_at="", created_at="1970-01-01 00:00:00"),
    customer(updated_at="yesterday"), customer(updated_at="2024-01-01", created_at="garbage"),
    customer(email="", phone=""), customer(phone="n/a"), customer(first_name=" ", last_name="\u00a0Ö ", gender="",
                                                                  company=""),
]


def test_customer_rows_give_the_row_paths_bytes_and_rejections(tmp_path):
    path = tmp_path / "customers.csv"
    rows = [customer(customer_id=f"c-{n}", email=f"k{n % 40}@x.de", updated_at=f"2024-06-{1 + n % 28:02d} 08:00:00")
            for n in range(1200)]
    write(path, rows + CUSTOMER_ODD, CUSTOMER_COLUMNS, tail="a,b\n")
    mapping = Mapping(settings={"timezone": "Europe/Berlin", "default_phone_region": "DE"})
    (row_events, row_rejects, _), (events, rejects, _) = both_paths(path, mapping, "customers")
    assert len(row_rejects) >= 6 and rejects == row_rejects
    assert events == row_events and len(events) == 1200 + len(CUSTOMER_ODD) + 1 - len(rejects)


@hypothesis_settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.fixed_dictionaries({c: _TEXT | st.sampled_from(["DEU", "de", "France", "yes", "n", "1990-04-17"])
                                       for c in CUSTOMER_COLUMNS}), min_size=1, max_size=30))
def test_generated_customer_rows_give_the_same_bytes_and_rejections(tmp_path, rows):
    path = tmp_path / "customers.csv"
    write(path, [customer(**row) for row in rows] + [CUSTOMER], CUSTOMER_COLUMNS)
    (row_events, row_rejects, _), (events, rejects, _) = both_paths(path, connector="customers")
    assert rejects == row_rejects
    assert events == row_events and len(events) >= 1


def test_contract_rules_the_cleaners_do_not_enforce_are_still_checked(tmp_path, monkeypatch):
    """A cleaner that lets through what validate refuses (a birthday that is no ISO date)
    must not let the columnar path send what the row path rejects."""
    from connectors.importer import cleaning

    monkeypatch.setattr(cleaning, "iso_date", lambda value, field, date_format=None: value and value.strip() or None)
    path = tmp_path / "customers.csv"
    write(path, [customer(customer_id=f"c-{n}", birthday=["1990-04-17", "17.4.1990"][n % 2]) for n in range(20)],
          CUSTOMER_COLUMNS)
    (row_events, row_rejects, _), (events, rejects, _) = both_paths(path, connector="customers")
    assert rejects == row_rejects and [r[1] for r in rejects] == ["traits.birthday"] * 10
    assert events == row_events and len(events) == 10


def test_parquet_of_strings_goes_column_by_column_and_typed_parquet_row_by_row(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from connectors.importer.readers import chunk_table, scan_rows

    rows = [variant(order_id=f"o-{n}") for n in range(1100)] + ODD
    strings = pa.table({c: [r[i] or None if i % 2 else r[i] for r in rows] for i, c in enumerate(COLUMNS)})  # some nulls
    typed = strings.set_column(COLUMNS.index("quantity"), "quantity", pa.array([n % 4 for n in range(len(rows))]))
    for name, table, columnar in (("strings", strings, True), ("typed", typed, False)):
        path = tmp_path / f"{name}.parquet"
        pq.write_table(table, path, row_group_size=700)
        first = [found for _, found, _ in scan_rows(path)][:1000]  # spans two record batches
        assert (chunk_table(first) is not None) == columnar
        (row_events, row_rejects, _), (events, rejects, _) = both_paths(path)
        assert rejects == row_rejects and len(rejects) >= 10
        assert events == row_events and len(events) == len(rows) - len(rejects)
