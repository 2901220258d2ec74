"""The columnar layouts of the import connectors: what ``OrderRowConnector.to_events`` and
``CustomerRowConnector.to_events`` do to one row, done to a chunk's columns (see
``columnar.py`` for how odd rows are left to the row path)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from connectors import records
from connectors.importer import cleaning
from connectors.importer.columnar import (Cleaner, ColumnarLayout, bounded, check_moment, moments, INT32_MAX,
                                          INT64_MAX)
from connectors.importer.rows import CustomerRowConnector, OrderRowConnector
from producers.columnar import Column, Maybe, OneItem, OneOf
from producers.encoder import EventEncoder
from schemas.contract import allowed_values

_CURRENCY = r"^[A-Za-z]{3}$"  # ASCII letters: their upper case is the same in Python and Arrow
_ISO_DATE = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"  # validate's rule for traits.birthday
_ADDRESS = ("line1", "city", "region", "postal_code", "country")


class ColumnarOrders(ColumnarLayout):
    def record(self, clean: Cleaner, received_at: int) -> tuple[dict[str, Any], pa.Array]:
        config = self.connector.config
        order_id = clean.text("order_id")
        clean.require(order_id)
        ordered_at = moments(clean, clean.raw("ordered_at"), "ordered_at", config)
        clean.require(ordered_at)
        check_moment(clean, ordered_at)
        currency = pc.fill_null(clean.text("currency"), config.currency)
        sku, product_name, category = clean.text("sku"), clean.text("product_name"), clean.text("category")
        has_item = pc.or_(sku.is_valid(), product_name.is_valid()).to_numpy(zero_copy_only=False)
        quantity = clean.each([clean.raw("quantity")],
                              lambda v: bounded(cleaning.positive_int(v, "quantity", default=1), INT32_MAX),
                              pa.int64(), where=has_item)
        unit_price = _money(clean, pc.fill_null(clean.text("unit_price"), "0"), currency, "unit_price", has_item)
        total = clean.text("total")
        clean.require(total)
        total_minor = _money(clean, total, currency, "total", None)
        clean.check(pc.match_substring_regex(currency, _CURRENCY))
        code = pc.utf8_upper(currency)
        record = self.envelope(ordered_at, received_at, self.identities(clean), {})
        item = {"sku": Column(sku), "product_id": Column(sku), "name": Column(product_name), "category": Column(category),
                "quantity": Column(pc.fill_null(quantity, 0)),
                "unit_price": {"amount_minor": Column(pc.fill_null(unit_price, 0)), "currency": Column(code)}}
        record["order"] = {"order_id": Column(order_id), "status": Column(pc.fill_null(clean.text("status"), "placed")),
                           "total": {"amount_minor": Column(pc.fill_null(total_minor, 0)), "currency": Column(code)},
                           "subtotal": None, "tax": None, "shipping": None, "discount": None,
                           "coupon": Column(clean.text("coupon")), "line_items": OneItem(has_item, item),
                           "shipping_address": None}
        return record, order_id


class ColumnarCustomers(ColumnarLayout):
    """Customer rows: the traits are personal (sealed per row, like the identities); the
    event id is the customer id with the row's ``updated_at`` (or ``created_at``)."""

    def record(self, clean: Cleaner, received_at: int) -> tuple[dict[str, Any], pa.Array]:
        config = self.connector.config
        customer_id = self.identities(clean)
        clean.require(customer_id)
        country = clean.each([clean.raw("country")], cleaning.country, pa.string())
        address = dict(zip(_ADDRESS, [clean.text(n) for n in ("address_line1", "city", "region", "postal_code")] + [country]))
        has_address = np.zeros(clean.rows, dtype=bool)
        for column in address.values():
            has_address |= column.is_valid().to_numpy(zero_copy_only=False)
        birthday = clean.each([clean.raw("birthday")], lambda v: cleaning.iso_date(v, "birthday"), pa.string())
        clean.check(pc.fill_null(pc.match_substring_regex(birthday, _ISO_DATE), True))
        updated = moments(clean, clean.raw("updated_at"), "updated_at", config)
        created = moments(clean, clean.raw("created_at"), "created_at", config)
        for stamp in (updated, created):  # 0 is falsy: the row path then reads on (rare; left to it)
            clean.check(pc.fill_null(pc.not_equal(stamp, 0), True))
        stamp = pc.coalesce(updated, created)
        occurred_at = pc.fill_null(stamp, received_at)
        check_moment(clean, occurred_at)
        consent = clean.each([clean.raw("marketing_consent")], lambda v: cleaning.flag(v, "marketing_consent"), pa.bool_())
        choice = np.where(consent.is_null().to_numpy(zero_copy_only=False), 0,
                          np.where(pc.fill_null(consent, False).to_numpy(zero_copy_only=False), 1, 2))
        record = self.envelope(occurred_at, received_at, customer_id,
                               OneOf(choice, [{}, {"marketing": True}, {"marketing": False}]))
        record["traits"] = {"first_name": None, "last_name": None, "email": None, "phone": None, "birthday": None,
                            "gender": Column(clean.text("gender")), "address": None, "company": Column(clean.text("company"))}
        clean.kept["traits"] = {"first_name": clean.text("first_name"), "last_name": clean.text("last_name"),
                        "birthday": birthday, "has_address": has_address, **{f"address.{k}": v for k, v in address.items()}}
        natural = pc.binary_join_element_wise(customer_id, pc.fill_null(stamp.cast(pa.string()), ""), "\x1f")
        return record, natural

    def personal(self, clean: Cleaner, good: list[int]) -> dict[int, dict[str, Any]]:
        """The traits the sealer seals, as the row path builds them."""
        traits = clean.kept["traits"]
        first, last, birthday = (traits[k].to_pylist() for k in ("first_name", "last_name", "birthday"))
        lines = {k: traits[f"address.{k}"].to_pylist() for k in _ADDRESS}
        has_address = traits["has_address"]
        _, email, phone = (column.to_pylist() for column in clean.kept["identity"])
        found = {}
        for i in good:
            address = ({"line1": lines["line1"][i], "line2": None, "city": lines["city"][i], "region": lines["region"][i],
                        "postal_code": lines["postal_code"][i], "country": lines["country"][i]} if has_address[i] else None)
            found[i] = {"traits": {"first_name": first[i], "last_name": last[i], "email": email[i], "phone": phone[i],
                                   "birthday": birthday[i], "address": address}}
        return found

    def place(self, record: dict[str, Any], sealed: list[dict[str, Any]]) -> None:
        traits = record["traits"]
        for name in ("first_name", "last_name", "email", "phone", "birthday"):
            traits[name] = Column(pa.array([s["traits"][name] for s in sealed], pa.string()))
        addresses = [s["traits"]["address"] for s in sealed]
        present = np.array([a is not None for a in addresses], dtype=bool)
        traits["address"] = Maybe(present, {k: Column(pa.array([(a or {}).get(k) for a in addresses], pa.string()))
                                            for k in ("line1", "line2", "city", "region", "postal_code", "country")})


_LAYOUTS: dict[type, tuple[type[ColumnarLayout], str]] = {
    OrderRowConnector: (ColumnarOrders, "order."),
    CustomerRowConnector: (ColumnarCustomers, "traits."),
}


def has_layout(connector_cls: type) -> bool:
    """Whether chunks of ``connector_cls`` can take the columnar path (CSV, Parquet of strings)."""
    return connector_cls in _LAYOUTS


def columnar_layout(connector: Any, encoder: EventEncoder, rename: Callable[[dict], dict]) -> ColumnarLayout | None:
    """The columnar path for ``connector``'s CSV chunks, or None where the row path must
    do all the work: another connector, or a contract whose payload gained a closed set of
    values (which the columnar checks do not know)."""
    layout, payload = _LAYOUTS.get(type(connector), (None, ""))
    if layout is None or any(path.startswith(payload) for path in allowed_values()):
        return None
    return layout(connector, encoder, rename)


def _money(clean: Cleaner, amount: pa.Array, currency: pa.Array, field: str, where: np.ndarray | None) -> pa.Array:
    """Minor units of ``records.money(amount, currency, field)``, per distinct pair."""
    def minor(value: str | None, code: str) -> int:
        return bounded(records.money(value, code, field)["amount_minor"], INT64_MAX)

    if pc.count_distinct(currency).as_py() == 1:  # the usual file: one currency
        code = currency[0].as_py()
        return clean.each([amount], lambda value: minor(value, code), pa.int64(), where)
    return clean.each([amount, currency], minor, pa.int64(), where)
