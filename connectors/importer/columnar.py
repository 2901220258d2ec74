"""The columnar path of an import: a chunk of CSV order rows mapped, cleaned, checked and
encoded column by column, so that Python touches a row only for what cannot be done on a
whole column (its event id, routing key and sealed personal fields).

Every cleaning function of the row path runs once per distinct value of the chunk, not
once per row (phone numbers, dates, countries repeat). A row that anything finds odd —
a value a cleaner refuses, a rule of the contract it would break, a forgotten customer,
a line the CSV reader could not split — is not judged here: the row path maps and encodes
it as before, so rejections keep their exact field, code and wording, and the events of
the other rows keep their place in file order. Bodies are written by
:mod:`producers.columnar` and are byte-identical to the per-event encoder's (tested).

Covered: the ``orders`` connector on CSV files. Other connectors and JSON Lines or
Parquet files take the row path.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from connectors import records
from connectors.importer import cleaning
from connectors.importer.readers import CsvRow
from connectors.importer.rows import OrderRowConnector
from connectors.privacy_keys import prefetch_keys
from panorama.errors import ContractError
from producers.columnar import Column, OneItem, encode_columns
from producers.encoder import EventEncoder
from schemas.codec import MARKER
from schemas.contract import allowed_values, schema_versions
from schemas.models import deterministic_event_id

# A value the row path's trim leaves as it is: printable ASCII at both ends (Python strips
# some characters Arrow's trim keeps, and the other way round; those values go through
# records.text itself).
_PLAIN = r"^[!-~](?s:.*[!-~])?$"
_CURRENCY = r"^[A-Za-z]{3}$"  # ASCII letters: their upper case is the same in Python and Arrow
_INT32_MAX = (1 << 31) - 1
_INT64_MAX = (1 << 63) - 1
_YEAR_2000_MICROS = 946_684_800_000_000
_MAX_FUTURE_MICROS = 24 * 3600 * 1_000_000
_ISO_SECONDS = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[ T]([01]\d|2[0-3]):[0-5]\d:[0-5]\d$"
_ISO_FORMAT = "%Y-%m-%d %H:%M:%S"
PREFETCHED_MAX = 200_000  # identity combinations remembered as prefetched


class _Odd(Exception):
    """A value the columnar path leaves to the row path."""


class Cleaner:
    """Cleans the columns of one chunk; ``odd`` marks the rows left to the row path."""

    def __init__(self, columns: dict[str, pa.Array | None], rows: int):
        self.columns, self.rows = columns, rows
        self.odd = np.zeros(rows, dtype=bool)

    def raw(self, name: str) -> pa.Array:
        found = self.columns.get(name)
        return pa.nulls(self.rows, pa.string()) if found is None else found

    def text(self, name: str) -> pa.Array:
        """``records.text`` of every value: trimmed, null when blank."""
        column = self.raw(name)
        if column.null_count == 0 and pc.all(pc.match_substring_regex(column, _PLAIN)).as_py() is not False:
            return column
        return self.each([column], records.text, pa.string())

    def each(self, columns: list[pa.Array], clean: Callable[..., Any], kind: pa.DataType,
             where: np.ndarray | None = None) -> pa.Array:
        """``clean(*values)`` of every row, worked out once per distinct value (tuple); rows
        where it raises ContractError or _Odd become odd (only those ``where`` is true, when
        given: the row path does not look at the value elsewhere) and get a null."""
        if len(columns) == 1:
            encoded = columns[0].dictionary_encode()
            results, bad = _apply(encoded.dictionary.to_pylist(), clean)
            blank, blank_bad = _apply([None], clean)
            indices = encoded.indices
            cleaned = pc.take(pa.array(results, kind), indices)
            if encoded.null_count:
                cleaned = pc.if_else(indices.is_null(), pa.scalar(blank[0], kind), cleaned)
            odd = np.isin(indices.fill_null(-1).to_numpy(zero_copy_only=False), np.array(bad, dtype=np.int64))
            if blank_bad:
                odd |= indices.is_null().to_numpy(zero_copy_only=False)
        else:
            memo: dict[tuple, tuple[Any, bool]] = {}
            values, odd_list = [], []
            for key in zip(*(c.to_pylist() for c in columns)):
                found = memo.get(key)
                if found is None:
                    result, bad = _apply([key], lambda pair: clean(*pair))
                    found = memo[key] = (result[0], bool(bad))
                values.append(found[0])
                odd_list.append(found[1])
            cleaned, odd = pa.array(values, kind), np.array(odd_list, dtype=bool)
        self.odd |= odd if where is None else odd & where
        return cleaned

    def require(self, column: pa.Array) -> None:
        """Rows with a null here are odd (the row path reports the missing value)."""
        self.odd |= column.is_null().to_numpy(zero_copy_only=False)

    def check(self, ok: pa.Array | np.ndarray) -> None:
        """Rows where ``ok`` is false (or null) are odd."""
        if isinstance(ok, pa.Array):
            ok = pc.fill_null(ok, False).to_numpy(zero_copy_only=False)
        self.odd |= ~ok


def _apply(values: list[Any], clean: Callable[[Any], Any]) -> tuple[list[Any], list[int]]:
    results, bad = [], []
    for index, value in enumerate(values):
        try:
            results.append(clean(value))
        except (ContractError, _Odd):
            results.append(None)
            bad.append(index)
    return results, bad


def _bounded(number: int | None, high: int) -> int | None:
    if number is not None and not 0 <= number <= high:
        raise _Odd(number)
    return number


def columnar_layout(connector: Any, encoder: EventEncoder, rename: Callable[[dict], dict]) -> ColumnarOrders | None:
    """The columnar path for ``connector``'s CSV chunks, or None where the row path must
    do all the work: another connector, or a contract whose order fields gained a closed
    set of values (which the columnar checks do not know)."""
    if type(connector) is not OrderRowConnector or any(path.startswith("order.") for path in allowed_values()):
        return None
    return ColumnarOrders(connector, encoder, rename)


class ColumnarOrders:
    """Turns a chunk of CSV order rows into events, leaving its odd rows to the row path."""

    def __init__(self, connector: OrderRowConnector, encoder: EventEncoder, rename: Callable[[dict], dict]):
        current = schema_versions()[-1]
        if current.fingerprint != encoder.codec.fingerprint:
            raise ValueError("the columnar writer and the codec disagree on the current schema")
        self.connector, self.encoder, self.rename = connector, encoder, rename
        self.schema, self.prefix = current.schema, MARKER + current.fingerprint
        # Identities whose keys this import has prefetched: the sealer has them cached, or
        # (after a forget) fetches them itself. Prefetching each chunk's customers again cost
        # a fifth of the columnar path's CPU time.
        self._prefetched: set[tuple] = set()

    def columns(self, rows: list[CsvRow]) -> dict[str, pa.Array | None]:
        """The connector's fields as string columns (None for a field no column holds)."""
        where = self.rename({name: index for index, name in enumerate(rows[0].header)})
        values = list(zip(*(row.values for row in rows)))  # Arrow reads a list 15 times faster than a tuple
        return {name: None if index is None else pa.array(list(values[index]), pa.string()) for name, index in where.items()}

    def __call__(self, rows: list[CsvRow], received_at: int) -> tuple[list[tuple[bytes, bytes] | None], np.ndarray]:
        """(events, odd): for each row its (value, key), or None where ``odd`` is true."""
        clean = Cleaner(self.columns(rows), len(rows))
        record, identities = self._record(clean, received_at)
        keys, sealed = self._seal(clean, np.flatnonzero(~clean.odd), identities)
        good = np.flatnonzero(~clean.odd)
        record = _taken(record, pa.array(good, pa.int64()))
        record["identities"].update({name: Column(pa.array([sealed[i][name] for i in good], pa.string()))
                                     for name in ("email", "phone")})
        name = self.connector.name
        order_ids = record["order"]["order_id"].values.to_pylist()
        record["event_id"] = Column(pa.array([deterministic_event_id(name, o) for o in order_ids], pa.string()))
        bodies = encode_columns(self.schema, record, len(good), self.prefix).to_pylist()
        events: list[tuple[bytes, bytes] | None] = [None] * len(rows)
        for index, body in zip(good, bodies):
            events[index] = (body, keys[index])
        return events, clean.odd

    def _record(self, clean: Cleaner, received_at: int) -> tuple[dict[str, Any], list[pa.Array]]:
        """The record of the chunk's events (before event ids and sealing) and its identity
        columns; checks what ``validate`` and the Avro writer would refuse."""
        config = self.connector.config
        order_id = clean.text("order_id")
        clean.require(order_id)
        ordered_at = self._moments(clean, clean.raw("ordered_at"), "ordered_at")
        clean.require(ordered_at)
        now = time.time_ns() // 1000
        clean.check(pc.and_(pc.greater_equal(ordered_at, _YEAR_2000_MICROS), pc.less_equal(ordered_at, now + _MAX_FUTURE_MICROS)))
        currency = pc.fill_null(clean.text("currency"), config.currency)
        sku, product_name, category = clean.text("sku"), clean.text("product_name"), clean.text("category")
        has_item = pc.or_(sku.is_valid(), product_name.is_valid()).to_numpy(zero_copy_only=False)
        quantity = clean.each([clean.raw("quantity")],
                              lambda v: _bounded(cleaning.positive_int(v, "quantity", default=1), _INT32_MAX),
                              pa.int64(), where=has_item)
        unit_price = self._money(clean, pc.fill_null(clean.text("unit_price"), "0"), currency, "unit_price", has_item)
        total = clean.text("total")
        clean.require(total)
        total_minor = self._money(clean, total, currency, "total", None)
        clean.check(pc.match_substring_regex(currency, _CURRENCY))
        code = pc.utf8_upper(currency)
        user_id = clean.text("customer_id")
        email = clean.each([clean.raw("email")], lambda v: records.email(v, "email"), pa.string())
        phone = clean.each([clean.raw("phone")],
                           lambda v: records.phone(v, "phone", config.default_phone_region), pa.string())
        clean.check(pc.or_(pc.or_(user_id.is_valid(), email.is_valid()), phone.is_valid()))
        record = dict(self.connector._template)
        record.update(occurred_at=Column(ordered_at), received_at=received_at, consent={},
                      identities={"user_id": Column(user_id), "anonymous_id": None, "email": None, "phone": None,
                                  "device_id": None, "external_ids": {}})
        item = {"sku": Column(sku), "product_id": Column(sku), "name": Column(product_name), "category": Column(category),
                "quantity": Column(pc.fill_null(quantity, 0)),
                "unit_price": {"amount_minor": Column(pc.fill_null(unit_price, 0)), "currency": Column(code)}}
        record["order"] = {"order_id": Column(order_id), "status": Column(pc.fill_null(clean.text("status"), "placed")),
                           "total": {"amount_minor": Column(pc.fill_null(total_minor, 0)), "currency": Column(code)},
                           "subtotal": None, "tax": None, "shipping": None, "discount": None,
                           "coupon": Column(clean.text("coupon")), "line_items": OneItem(has_item, item),
                           "shipping_address": None}
        return record, [user_id, email, phone]

    def _moments(self, clean: Cleaner, raw: pa.Array, field: str) -> pa.Array:
        """Epoch micros of ``cleaning.moment``: plain ISO values (``YYYY-MM-DD HH:MM:SS``, or
        with a ``T``) parsed on the whole column; the rest once per distinct value, and so
        are those Arrow reads differently (it does not refuse 2024-02-30 but rolls it over,
        which the round trip through strftime catches; a local time that a DST change makes
        ambiguous or skips, which the earliest and latest readings disagree on)."""
        config = self.connector.config

        def one(value: str | None) -> int | None:
            return cleaning.moment(value, field, config.timezone, config.date_format)

        if config.date_format is not None:
            return clean.each([raw], one, pa.int64())
        spaced = pc.replace_substring(raw, "T", " ")
        parsed = pc.strptime(spaced, format=_ISO_FORMAT, unit="s", error_is_null=True)
        fast = pc.and_(pc.match_substring_regex(raw, _ISO_SECONDS), pc.equal(pc.strftime(parsed, format=_ISO_FORMAT), spaced))
        parsed = parsed.cast(pa.timestamp("us"))
        if config.timezone.upper() != "UTC":
            early, late = (pc.assume_timezone(parsed, timezone=config.timezone, ambiguous=way, nonexistent=way)
                           for way in ("earliest", "latest"))
            fast, parsed = pc.and_(fast, pc.equal(early, late)), early
        fast = pc.fill_null(fast, False)
        slow = clean.each([pc.if_else(fast, pa.scalar(None, pa.string()), raw)], one, pa.int64())
        return pc.if_else(fast, parsed.cast(pa.int64()), slow)

    @staticmethod
    def _money(clean: Cleaner, amount: pa.Array, currency: pa.Array, field: str, where: np.ndarray | None) -> pa.Array:
        """Minor units of ``records.money(amount, currency, field)``, per distinct pair."""
        def minor(value: str | None, code: str) -> int:
            return _bounded(records.money(value, code, field)["amount_minor"], _INT64_MAX)

        if pc.count_distinct(currency).as_py() == 1:  # the usual file: one currency
            code = currency[0].as_py()
            return clean.each([amount], lambda value: minor(value, code), pa.int64(), where)
        return clean.each([amount, currency], minor, pa.int64(), where)

    def _seal(self, clean: Cleaner, good: np.ndarray, identities: list[pa.Array]) -> tuple[dict[int, bytes], dict[int, dict]]:
        """Routing keys and sealed identities of the good rows; a row the key or sealer
        refuses (a forgotten customer) becomes odd."""
        user_id, email, phone = (column.to_pylist() for column in identities)
        rows, fresh, seen = {}, [], self._prefetched
        for index in good.tolist():
            ids = rows[index] = {"user_id": user_id[index], "anonymous_id": None, "email": email[index],
                                 "phone": phone[index], "device_id": None, "external_ids": {}}
            if (found := (user_id[index], email[index], phone[index])) not in seen:
                seen.add(found)
                fresh.append({"identities": ids})
        if len(seen) > PREFETCHED_MAX:
            seen.clear()
        prefetch_keys(self.encoder, fresh)
        route, privacy = self.encoder.keys.for_identities, self.encoder.privacy
        keys, sealed = {}, {}
        for index, ids in rows.items():
            try:
                key = route(ids)
                sealed[index] = privacy.seal({"identities": ids}, key)["identities"] if privacy else ids
            except ContractError:
                clean.odd[index] = True
                continue
            keys[index] = key
        return keys, sealed


def _taken(value: Any, take: pa.Array) -> Any:
    """``value`` with every column cut to the rows of ``take``."""
    if isinstance(value, Column):
        return Column(pc.take(value.values, take))
    if isinstance(value, OneItem):
        return OneItem(value.mask[take.to_numpy()], _taken(value.item, take))
    if isinstance(value, dict):
        return {k: _taken(v, take) for k, v in value.items()}
    return value
