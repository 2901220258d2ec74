"""Bulk import into the real Kafka: exact rejection report, no new event on re-import,
and the CLI wiring (`cdp keys create`, `cdp import`)."""

from __future__ import annotations

import csv

import pytest
from typer.testing import CliRunner

from connectors.collector.write_keys import WriteKeyStore
from connectors.importer.run import import_file
from panorama.cli import app
from tests.integration.connectors.readback import interactions

pytestmark = pytest.mark.integration

ROWS = 500
BAD_ROWS = {7: ("total", "1.999"), 42: ("ordered_at", "someday"), 300: ("order_id", ""), 301: ("phone", "n/a")}


def write_orders(path) -> None:
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["Bestellnummer", "Datum", "Betrag", "E-Mail", "Telefon", "Artikel", "Menge", "Preis"])
        for n in range(1, ROWS + 1):
            row = {"order_id": f"o-{n}", "ordered_at": "10.06.2024 08:13", "total": "19.90", "phone": "030 1234567"}
            if n in BAD_ROWS:
                field, value = BAD_ROWS[n]
                row[field] = value
            out.writerow([row["order_id"], row["ordered_at"], row["total"], f" Kunde{n % 50}@Example.de ", row["phone"],
                          "MUG", "2", "9.95"])
        f.write("only,three,columns\n")


MAPPING = """
[columns]
order_id = "Bestellnummer"
ordered_at = "Datum"
total = "Betrag"
email = "E-Mail"
phone = "Telefon"
sku = "Artikel"
quantity = "Menge"
unit_price = "Preis"

[settings]
timezone = "Europe/Berlin"
default_phone_region = "DE"
date_format = "%d.%m.%Y %H:%M"
"""


def test_import_reports_exactly_and_a_second_import_adds_nothing(settings, tmp_path):
    data, mapping = tmp_path / "bestellungen.csv", tmp_path / "mapping.toml"
    write_orders(data)
    mapping.write_text(MAPPING)
    report = import_file(settings, data, "orders", mapping)
    good = ROWS - len(BAD_ROWS)
    assert (report.rows_read, report.events_produced, report.rows_rejected) == (ROWS + 1, good, len(BAD_ROWS) + 1)
    with report.rejects_file.open() as f:
        rejected = {int(r["row"]): r["field"] for r in csv.DictReader(f)}
    assert rejected == {n: field for n, (field, _) in BAD_ROWS.items()} | {ROWS + 1: "<row>"}
    first = interactions(settings)
    ids = {e["event_id"] for e in first}
    assert len(ids) == good
    sample = next(e for e in first if e["order"]["order_id"] == "o-1")
    assert sample["identities"]["email"] == "kunde1@example.de" and sample["identities"]["phone"] == "+49301234567"
    assert sample["occurred_at"] == 1_718_000_000_000_000 - 20 * 1_000_000  # 08:13 Berlin = 06:13 UTC

    again = import_file(settings, data, "orders", mapping)
    assert again.events_produced == good
    assert {e["event_id"] for e in interactions(settings)} == ids  # re-delivered, not new: downstream dedups by id


def test_cli_creates_keys_and_imports(settings, tmp_path, monkeypatch):
    monkeypatch.setenv("CDP_REDIS_URL", settings.redis_address)
    monkeypatch.setenv("CDP_KAFKA_BOOTSTRAP", settings.kafka_address)
    monkeypatch.setenv("CDP_TOPIC_PREFIX", settings.topic_prefix)
    runner = CliRunner()
    created = runner.invoke(app, ["keys", "create", "--role", "ingest", "--name", "crm-export"])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[-1]
    store = WriteKeyStore(settings)
    assert store.lookup(key).name == "crm-export"
    store.close()
    assert runner.invoke(app, ["keys", "create", "--role", "superuser", "--name", "x"]).exit_code != 0

    customers = tmp_path / "customers.jsonl"
    customers.write_text('{"customer_id": "c1", "email": "a@example.com", "country": "France"}\n{"email": "no-id@example.com"}\n')
    result = runner.invoke(app, ["import", str(customers), "--connector", "customers"])
    assert result.exit_code == 0, result.output
    assert "rows read: 2" in result.output and "rows rejected: 1" in result.output and "row 2: customer_id" in result.output
    [event] = interactions(settings)
    assert event["traits"]["address"]["country"] == "FR"
