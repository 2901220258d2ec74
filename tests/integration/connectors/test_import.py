"""Bulk import into the real Kafka: exact rejection report, no new event on re-import,
worker processes that change nothing but the speed, and the CLI wiring (`cdp keys
create`, `cdp import`)."""

from __future__ import annotations

import csv
import multiprocessing
import uuid
from collections import defaultdict

import pytest
from typer.testing import CliRunner

from connectors.collector.write_keys import WriteKeyStore
from connectors.importer.chunks import CHUNK_ROWS
from connectors.importer.run import import_file
from panorama.cli import app
from panorama.clock import now_us
from panorama.errors import ConnectorError
from panorama.privacy.crypto import is_sealed
from panorama.privacy.keystore import KeyStore
from producers.keys import RoutingKeys
from panorama.stack.topics import ensure_topics
from schemas.codec import InteractionCodec
from tests.integration.connectors.readback import interactions
from tests.integration.kafka_reader import read_topic

pytestmark = pytest.mark.integration

ROWS = 500
BAD_ROWS = {7: ("total", "1.999"), 42: ("ordered_at", "someday"), 300: ("order_id", ""), 301: ("phone", "n/a")}


def write_orders(path, rows: int = ROWS, bad_rows: dict = BAD_ROWS) -> None:
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["Bestellnummer", "Datum", "Betrag", "E-Mail", "Telefon", "Artikel", "Menge", "Preis"])
        for n in range(1, rows + 1):
            row = {"order_id": f"o-{n}", "ordered_at": "10.06.2024 08:13", "total": "19.90", "phone": "030 1234567"}
            if n in bad_rows:
                field, value = bad_rows[n]
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
    assert sample["event_id"] == "54a1902f-8b60-5615-bbdf-b1e33bce486a"  # as the importer before worker processes made it
    assert sample["identities"]["email"] == "kunde1@example.de" and sample["identities"]["phone"] == "+49301234567"
    assert sample["occurred_at"] == 1_718_000_000_000_000 - 20 * 1_000_000  # 08:13 Berlin = 06:13 UTC

    again = import_file(settings, data, "orders", mapping)
    assert again.events_produced == good
    assert {e["event_id"] for e in interactions(settings)} == ids  # re-delivered, not new: downstream dedups by id


def by_partition(settings) -> dict[int, list[tuple[bytes, str]]]:
    """(message key, event id) of every event, in log order, per partition."""
    codec, found = InteractionCodec(), defaultdict(list)
    for m in read_topic(settings, settings.topics.interactions):
        found[m.partition()].append((m.key(), codec.decode(m.value())["event_id"]))
    return dict(found)


def test_worker_processes_change_nothing_but_the_speed(settings, tmp_path):
    """The same file through 2 worker processes and through none: the same report, the
    same rejects file, the same events in the same order on every partition."""
    rows = 3 * CHUNK_ROWS + 17  # 4 chunks: each worker gets two, the last one short
    bad = {7: ("total", "1.999"), CHUNK_ROWS + 1: ("ordered_at", "someday"), 2 * CHUNK_ROWS: ("order_id", ""),
           rows: ("phone", "n/a")}
    data, mapping = tmp_path / "bestellungen.csv", tmp_path / "mapping.toml"
    write_orders(data, rows, bad)
    mapping.write_text(MAPPING)
    other = settings.model_copy(update={"topic_prefix": f"t{uuid.uuid4().hex[:10]}"})
    ensure_topics(other)

    alone = import_file(settings, data, "orders", mapping, workers=0)
    rejects_alone = alone.rejects_file.read_text()
    progress: list[tuple[int, int]] = []
    shared = import_file(other, data, "orders", mapping, lambda done, n: progress.append((done, n)), workers=2)
    assert (shared.rows_read, shared.events_produced, shared.rows_rejected) == (rows + 1, rows - len(bad), len(bad) + 1)
    assert (alone.rows_read, alone.events_produced, alone.rows_rejected) == (rows + 1, rows - len(bad), len(bad) + 1)
    assert shared.first_rejections == alone.first_rejections
    assert shared.rejects_file.read_text() == rejects_alone
    assert [n for _, n in progress] == [CHUNK_ROWS, 2 * CHUNK_ROWS, 3 * CHUNK_ROWS, rows + 1, rows + 1]
    assert progress[-1][0] == data.stat().st_size
    assert by_partition(other) == by_partition(settings)

    again = import_file(other, data, "orders", mapping, workers=2)  # re-imported: re-delivered, nothing new
    assert again.events_produced == rows - len(bad)
    assert {i for events in by_partition(other).values() for _, i in events} == \
        {i for events in by_partition(settings).values() for _, i in events}


def test_the_columnar_path_sends_what_the_row_path_sent(settings, tmp_path):
    """A file imported row by row (the importer before the columnar path), then column by
    column: the same report and rejects file, the same keys and event ids in the same
    order on every partition (so the second import adds nothing downstream), and the same
    records once decoded and opened (sealing differs only in its random nonces)."""
    rows = 2 * CHUNK_ROWS + 5
    bad = {7: ("total", "1.999"), CHUNK_ROWS + 1: ("ordered_at", "someday"), rows: ("phone", "n/a")}
    data, mapping = tmp_path / "bestellungen.csv", tmp_path / "mapping.toml"
    write_orders(data, rows, bad)
    mapping.write_text(MAPPING)
    other = settings.model_copy(update={"topic_prefix": f"t{uuid.uuid4().hex[:10]}"})
    ensure_topics(other)

    by_rows = import_file(settings, data, "orders", mapping, workers=0, columnar=False)
    rejects_by_rows = by_rows.rejects_file.read_text()
    by_columns = import_file(other, data, "orders", mapping, workers=0)
    assert (by_columns.rows_read, by_columns.events_produced, by_columns.rows_rejected) == \
        (by_rows.rows_read, by_rows.events_produced, by_rows.rows_rejected) == (rows + 1, rows - len(bad), len(bad) + 1)
    assert by_columns.rejects_file.read_text() == rejects_by_rows
    assert by_partition(other) == by_partition(settings)
    assert opened(other) == opened(settings)
    sealed = sealed_paths(settings)
    assert sealed_paths(other) == sealed and all({"identities.email", "identities.phone"} <= set(p) for p in sealed.values())

    import_file(other, data, "orders", mapping, workers=0, columnar=False)  # and the other way round
    assert {i for events in by_partition(other).values() for _, i in events} == \
        {i for events in by_partition(settings).values() for _, i in events}


def sealed_paths(settings) -> dict[str, list[str]]:
    """Per event id, the dotted paths of the event's sealed values (as written, unopened)."""
    codec = InteractionCodec()

    def walk(value, path):
        if isinstance(value, dict):
            return [p for k, v in value.items() for p in walk(v, f"{path}.{k}" if path else k)]
        return [path] if is_sealed(value) else []

    records = [codec.decode(m.value()) for m in read_topic(settings, settings.topics.interactions)]
    return {record["event_id"]: walk(record, "") for record in records}


def opened(settings) -> list[dict]:
    """The events, opened, without received_at (the moment of each import), by event id."""
    events = [{k: v for k, v in e.items() if k != "received_at"} for e in interactions(settings)]
    return sorted(events, key=lambda e: e["event_id"])


def test_a_forgotten_customers_rows_are_rejected_by_either_path(settings, tmp_path):
    tag = uuid.uuid4().hex[:8]
    data = tmp_path / "orders.csv"
    data.write_text("order_id,ordered_at,total,email\n" + "".join(
        f"f-{tag}-{n},2024-06-10T08:00:00Z,1.00,c{n % 5}-{tag}@example.com\n" for n in range(40)))
    subject = RoutingKeys(settings.routing_key_secret.get_secret_value().encode()).for_identities(
        {"email": f"c3-{tag}@example.com"}).decode()
    other = settings.model_copy(update={"topic_prefix": f"t{uuid.uuid4().hex[:10]}"})
    ensure_topics(other)
    for each in (settings, other):  # the key store's keys are named by the topic prefix
        KeyStore.from_settings(each).forget([subject], now_us())
    by_rows = import_file(settings, data, "orders", workers=0, columnar=False)
    by_columns = import_file(other, data, "orders", workers=0)
    assert by_columns.first_rejections == by_rows.first_rejections
    assert [(row, field) for row, field, _ in by_rows.first_rejections] == [(n + 1, "identities") for n in range(3, 40, 5)]
    assert by_columns.events_produced == by_rows.events_produced == 32


def test_the_columnar_path_seals_customer_traits_as_the_row_path(settings, tmp_path):
    """Customer rows (traits and addresses sealed per row): the same keys, event ids and
    opened records by either path."""
    data = tmp_path / "customers.csv"
    with data.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["customer_id", "email", "phone", "first_name", "birthday", "city", "country", "marketing_consent",
                      "updated_at"])
        for n in range(CHUNK_ROWS + 50):
            out.writerow([f"c-{n}", f"Kunde{n}@Example.de", "+49 30 1234567" if n % 3 else "", f"Name {n}",
                          "1990-04-17" if n % 2 else "", "Berlin" if n % 4 else "", "DEU" if n % 5 else "",
                          ["yes", "no", ""][n % 3], "2024-06-10 08:13:20" if n != 9 else "someday"])
    other = settings.model_copy(update={"topic_prefix": f"t{uuid.uuid4().hex[:10]}"})
    ensure_topics(other)
    by_rows = import_file(settings, data, "customers", workers=0, columnar=False)
    by_columns = import_file(other, data, "customers", workers=0)
    assert (by_columns.events_produced, by_columns.first_rejections) == (by_rows.events_produced, by_rows.first_rejections)
    assert by_rows.events_produced == CHUNK_ROWS + 49 and [r[:2] for r in by_rows.first_rejections] == [(10, "updated_at")]
    assert by_partition(other) == by_partition(settings)
    events = opened(settings)
    assert opened(other) == events
    one = next(e for e in events if e["identities"]["user_id"] == "c-1")
    assert one["traits"]["address"] == {"line1": None, "line2": None, "city": "Berlin", "region": None,
                                        "postal_code": None, "country": "DE"}
    sealed = sealed_paths(settings)
    assert sealed_paths(other) == sealed and {"traits.address.city", "identities.email"} <= set(sealed[one["event_id"]])


def test_a_worker_error_stops_the_import_with_its_reason(settings, tmp_path):
    data = tmp_path / "orders.csv"
    lines = ["order_id,ordered_at,total,email"] + [f"o-{n},2024-06-10T08:00:00Z,1.00,c{n}@example.com"
                                                  for n in range(3 * CHUNK_ROWS)]
    data.write_bytes("\n".join(lines).encode() + b"\no-x,2024-06-10T08:00:00Z,1.00,caf\xe9@example.com\n")
    with pytest.raises(ConnectorError, match=r"not UTF-8 text: .* after row \d+") as raised:
        import_file(settings, data, "orders", workers=2)
    assert 0 < int(str(raised.value).split("after row ")[1].split(";")[0]) <= 3 * CHUNK_ROWS  # read ahead in blocks
    assert multiprocessing.active_children() == []


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
