"""The columnar path of an import: a chunk of CSV rows mapped, cleaned, checked and
encoded column by column, so that Python touches a row only for what cannot be done on a
whole column (its event id, routing key and sealed personal fields).

Every cleaning function of the row path runs once per distinct value of the chunk, not
once per row (phone numbers, dates, countries repeat). A row that anything finds odd —
a value a cleaner refuses, a rule of the contract it would break, a forgotten customer,
a line the CSV reader could not split — is not judged here: the row path maps and encodes
it as before, so rejections keep their exact field, code and wording, and the events of
the other rows keep their place in file order. Bodies are written by
:mod:`producers.columnar` and are byte-identical to the per-event encoder's (tested).

Covered (``columnar_layouts.py``): the ``orders`` and ``customers`` connectors, on CSV
files and on Parquet files whose columns are all strings (``readers.chunk_table``). Other
connectors, JSON Lines and typed Parquet columns take the row path.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from hashlib import sha1
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from connectors import records
from connectors.importer import cleaning
from connectors.importer.readers import ChunkTable
from connectors.importer.sealing import IdentitySealer, row_identities
from panorama.errors import ContractError
from producers.columnar import Column, OneItem, OneOf, encode_columns
from producers.encoder import EventEncoder
from schemas.codec import MARKER
from schemas.contract import schema_versions
from schemas.models import PANORAMA_NAMESPACE

# A value the row path's trim leaves as it is: printable ASCII at both ends (Python strips
# some characters Arrow's trim keeps, and the other way round; those values go through
# records.text itself).
_PLAIN = r"^[!-~](?s:.*[!-~])?$"
_ASCII_PLAIN = r"^[!-~](?:[\x00-\x7f]*[!-~])?$"  # and ASCII throughout: Python's lower() is Arrow's ascii_lower()
INT32_MAX = (1 << 31) - 1
INT64_MAX = (1 << 63) - 1
_YEAR_2000_MICROS = 946_684_800_000_000
_MAX_FUTURE_MICROS = 24 * 3600 * 1_000_000
_ISO_SECONDS = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[ T]([01]\d|2[0-3]):[0-5]\d:[0-5]\d$"
_ISO_FORMAT = "%Y-%m-%d %H:%M:%S"
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


class _Odd(Exception):
    """A value the columnar path leaves to the row path."""


class Cleaner:
    """Cleans the columns of one chunk; ``odd`` marks the rows left to the row path."""

    def __init__(self, column: Callable[[str], pa.Array | None], rows: int):
        self.column, self.rows = column, rows
        self.odd = np.zeros(rows, dtype=bool)
        self.kept: dict[str, Any] = {}  # columns a layout keeps for sealing, by name

    def raw(self, name: str) -> pa.Array:
        """The column of the connector's field ``name`` (all null when the file has none)."""
        found = self.column(name)
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

    def each_other(self, column: pa.Array, done: pa.Array, cleaned: pa.Array, clean: Callable[[Any], Any],
                   kind: pa.DataType) -> pa.Array:
        """``cleaned`` where ``done`` (a boolean column without nulls) is true: the values a
        whole-column operation cleans exactly as ``clean`` would; :meth:`each` of the others."""
        others = self.each([pc.if_else(done, pa.scalar(None, column.type), column)], clean, kind)
        return pc.if_else(done, cleaned, others)

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


def bounded(number: int | None, high: int) -> int | None:
    if number is not None and not 0 <= number <= high:
        raise _Odd(number)
    return number


class ColumnarLayout:
    """Turns a chunk of rows of one connector into events, leaving its odd rows to the
    row path. A layout builds the chunk's record (:meth:`record`); this class seals the
    personal fields, derives event ids and keys, and encodes.

    ``personal(clean, good)`` may add the per-row personal parts besides the identities
    (``{"traits": ...}``) for the sealer, and ``place(record, sealed)`` puts their sealed
    values into the record's columns."""

    def __init__(self, connector: Any, encoder: EventEncoder, rename: Callable[[dict], dict]):
        current = schema_versions()[-1]
        if current.fingerprint != encoder.codec.fingerprint:
            raise ValueError("the columnar writer and the codec disagree on the current schema")
        self.connector, self.encoder, self.rename = connector, encoder, rename
        self.schema, self.prefix = current.schema, MARKER + current.fingerprint
        self.sealer = IdentitySealer(encoder)

    def record(self, clean: Cleaner, received_at: int) -> tuple[dict[str, Any], pa.Array]:
        """(the chunk's record, before event ids and sealed fields; each row's natural key).
        Marks odd whatever ``validate`` or the Avro writer would refuse."""
        raise NotImplementedError

    def personal(self, clean: Cleaner, good: list[int]) -> dict[int, dict[str, Any]]:
        """Per good row, the personal parts of its record besides the identities, as the
        row path builds them (``{"traits": {...}}``), for the sealer."""
        return {}

    def place(self, record: dict[str, Any], sealed: list[dict[str, Any]]) -> None:
        """Put the sealed parts :meth:`personal` added into ``record`` (one per good row)."""

    def __call__(self, table: ChunkTable, rows: int, received_at: int) -> tuple[list[tuple[bytes, bytes] | None], np.ndarray]:
        """(events, odd): for each of the ``rows`` rows of ``table`` its (value, key), or
        None where ``odd`` is true. A row the key or the sealer refuses (a forgotten
        customer) becomes odd."""
        sources = self.rename({name: name for name in table.names})  # connector field -> file column
        clean = Cleaner(lambda field: table.column(sources[field]) if sources.get(field) is not None else None, rows)
        record, natural = self.record(clean, received_at)
        sealed_rows = np.flatnonzero(~clean.odd)
        sealed = self.sealer(*(column.take(pa.array(sealed_rows, pa.int64())) for column in clean.kept["identity"]))
        clean.odd[sealed_rows[sealed.refused]] = True
        extra = self._seal_extra(clean, dict(zip(sealed_rows.tolist(), sealed.keys)))
        good = np.flatnonzero(~clean.odd)
        take, at = pa.array(good, pa.int64()), np.searchsorted(sealed_rows, good)  # good rows among the sealed
        record = _taken(record, take)
        record["identities"].update(email=Column(sealed.email.take(at)), phone=Column(sealed.phone.take(at)))
        self.place(record, [extra[i] for i in good.tolist()] if extra else [])
        record["event_id"] = Column(event_ids(self.connector.name, pc.take(natural, take)))
        bodies = encode_columns(self.schema, record, len(good), self.prefix).to_pylist()
        events: list[tuple[bytes, bytes] | None] = [None] * rows
        keys = sealed.keys
        for index, position, body in zip(good.tolist(), at.tolist(), bodies):
            events[index] = (body, keys[position])
        return events, clean.odd

    def identities(self, clean: Cleaner) -> pa.Array:
        """The user id column; keeps it with the cleaned e-mail and phone columns for
        sealing, and marks odd the rows with no identity at all."""
        config = self.connector.config
        user_id = clean.text("customer_id")
        email = clean.raw("email")
        email = clean.each_other(email, pc.fill_null(pc.and_(pc.match_substring_regex(email, _ASCII_PLAIN),
                                                             pc.match_substring(email, "@")), False),
                                 pc.ascii_lower(email), lambda v: records.email(v, "email"), pa.string())
        phone = clean.each([clean.raw("phone")],
                           lambda v: records.phone(v, "phone", config.default_phone_region), pa.string())
        clean.check(pc.or_(pc.or_(user_id.is_valid(), email.is_valid()), phone.is_valid()))
        clean.kept["identity"] = [user_id, email, phone]
        return user_id

    def envelope(self, occurred_at: pa.Array, received_at: int, user_id: pa.Array, consent: Any) -> dict[str, Any]:
        """The connector's template with this chunk's columns (e-mail and phone are placed
        once sealed)."""
        record = dict(self.connector._template)
        record.update(occurred_at=Column(occurred_at), received_at=received_at, consent=consent,
                      identities={"user_id": Column(user_id), "anonymous_id": None, "email": None, "phone": None,
                                  "device_id": None, "external_ids": {}})
        return record

    def _seal_extra(self, clean: Cleaner, keys: dict[int, bytes]) -> dict[int, dict[str, Any]]:
        """Good row -> its personal parts besides the identities (:meth:`personal`), sealed
        under its routing key ``keys[row]``; empty for a layout without such parts. A row
        the sealer refuses becomes odd (forgotten since its identities were sealed)."""
        good = np.flatnonzero(~clean.odd).tolist()
        extra = self.personal(clean, good)
        if not extra:
            return {}
        user_id, email, phone = (column.to_pylist() for column in clean.kept["identity"])
        privacy, found = self.encoder.privacy, {}
        for index in good:
            parts = {"identities": row_identities(user_id[index], email[index], phone[index]), **extra[index]}
            try:
                found[index] = privacy.seal(parts, keys[index]) if privacy else parts
            except ContractError:
                clean.odd[index] = True
        return found


def moments(clean: Cleaner, raw: pa.Array, field: str, config: Any) -> pa.Array:
    """Epoch micros of ``cleaning.moment``: plain ISO values (``YYYY-MM-DD HH:MM:SS``, or
    with a ``T``) parsed on the whole column; the rest once per distinct value, and so are
    those Arrow reads differently (it does not refuse 2024-02-30 but rolls it over, which
    the day of month it read shows; a local time that a DST change makes ambiguous or
    skips, which the earliest and latest readings disagree on)."""

    def one(value: str | None) -> int | None:
        return cleaning.moment(value, field, config.timezone, config.date_format)

    if config.date_format is not None:
        return clean.each([raw], one, pa.int64())
    spaced = pc.replace_substring(raw, "T", " ")
    parsed = pc.strptime(spaced, format=_ISO_FORMAT, unit="s", error_is_null=True)
    # The pattern leaves a day past the month's end as the only value Arrow rolls over
    # (2024-02-30 -> 03-01): the day it read then differs from the day written.
    read_day = pc.utf8_lpad(pc.cast(pc.day(parsed), pa.string()), 2, "0")
    fast = pc.and_(pc.match_substring_regex(raw, _ISO_SECONDS), pc.equal(read_day, pc.utf8_slice_codeunits(raw, 8, 10)))
    parsed = parsed.cast(pa.timestamp("us"))
    if config.timezone.upper() != "UTC":
        early, late = (pc.assume_timezone(parsed, timezone=config.timezone, ambiguous=way, nonexistent=way)
                       for way in ("earliest", "latest"))
        fast, parsed = pc.and_(fast, pc.equal(early, late)), early
    return clean.each_other(raw, pc.fill_null(fast, False), parsed.cast(pa.int64()), one, pa.int64())


def check_moment(clean: Cleaner, micros: pa.Array) -> None:
    """Rows whose time ``validate`` refuses (before 2000, over a day ahead) are odd."""
    now = time.time_ns() // 1000
    clean.check(pc.and_(pc.greater_equal(micros, _YEAR_2000_MICROS), pc.less_equal(micros, now + _MAX_FUTURE_MICROS)))


def event_ids(source: str, natural: pa.Array) -> pa.Array:
    """``deterministic_event_id(source, key)`` of every natural key (a string column
    without nulls): only the SHA-1 is worked out per row, the UUID text on the whole column."""
    prefix = PANORAMA_NAMESPACE.bytes + f"{source}\x1f".encode()
    digests = b"".join([sha1(prefix + key).digest()[:16] for key in natural.cast(pa.binary()).to_pylist()])
    uuid = np.frombuffer(digests, dtype=np.uint8).reshape(-1, 16).copy()
    uuid[:, 6] = (uuid[:, 6] & 0x0F) | 0x50  # version 5
    uuid[:, 8] = (uuid[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    hexed = np.empty((len(uuid), 32), dtype=np.uint8)
    hexed[:, 0::2], hexed[:, 1::2] = _HEX[uuid >> 4], _HEX[uuid & 0x0F]
    text = np.full((len(uuid), 36), ord("-"), dtype=np.uint8)
    for start, end, at in ((0, 8, 0), (8, 12, 9), (12, 16, 14), (16, 20, 19), (20, 32, 24)):
        text[:, at:at + end - start] = hexed[:, start:end]
    offsets = np.arange(0, 36 * (len(uuid) + 1), 36, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), len(uuid), [None, pa.py_buffer(offsets), pa.py_buffer(text.tobytes())])


def _taken(value: Any, take: pa.Array) -> Any:
    """``value`` with every column cut to the rows of ``take``."""
    if isinstance(value, Column):
        return Column(pc.take(value.values, take))
    if isinstance(value, OneItem):
        return OneItem(value.mask[take.to_numpy()], _taken(value.item, take))
    if isinstance(value, OneOf):
        return OneOf(value.choice[take.to_numpy()], value.options)
    if isinstance(value, dict):
        return {k: _taken(v, take) for k, v in value.items()}
    return value
