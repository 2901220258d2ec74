"""Row connectors for bulk import: one flat row (after the mapping file renamed its
columns) → canonical events, cleaning every value on the way.

Event ids come from (connector, natural key): the customer id plus ``updated_at`` for a
customer row, the order id for an order row, so importing the same file again adds
nothing, while a later export with changed customers adds their new state.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from connectors import records
from connectors.base import Connector
from connectors.importer import cleaning
from panorama.errors import ContractError
from schemas.contract import CANONICAL_TYPES


class ImportConfig(BaseModel):
    """How to read values the file leaves ambiguous."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    timezone: str = "UTC"
    default_phone_region: str | None = None
    currency: str = "EUR"
    date_format: str | None = None
    channel: str = "import"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            records.zone(value)
        except ContractError as e:
            raise ValueError(e.problem) from None
        return value


def _required(row: dict, column: str) -> str:
    value = records.text(row.get(column))
    if value is None:
        raise ContractError(column, "is required", "missing_field")
    return value


class _RowConnector(Connector):
    """Each event starts as a copy of a template built once by ``records.interaction``
    (every envelope field with this connector's constant values) and gets the row's own
    values: the same record, for a fraction of the per-row cost of an import."""

    input_format = "row"
    Config = ImportConfig
    event_type: str

    def __init__(self, config: Any = None):
        super().__init__(config)
        self._template = records.interaction(self.event_type, event_id="", occurred_at=0, received_at=0,
                                             connector=self.name, channel=self.config.channel, identities={})

    def event(self, event_id: str, occurred_at: int, received_at: int, identities: dict[str, Any],
              payload: dict[str, Any], consent: dict[str, bool] | None = None) -> dict[str, Any]:
        template = self._template
        record = dict(template)
        record.update(event_id=event_id, occurred_at=occurred_at, received_at=received_at,
                      source=dict(template["source"]), identities=identities, context=dict(template["context"]),
                      consent=consent or {})
        record[self.payload_field] = payload
        return record

    @property
    def payload_field(self) -> str:
        return CANONICAL_TYPES[self.event_type]

    def identities(self, row: dict) -> dict[str, Any]:
        c: ImportConfig = self.config
        return {"user_id": records.text(row.get("customer_id")), "anonymous_id": None,
                "email": records.email(row.get("email"), "email"),
                "phone": records.phone(row.get("phone"), "phone", c.default_phone_region),
                "device_id": None, "external_ids": {}}

    def when(self, row: dict, column: str) -> int | None:
        return cleaning.moment(row.get(column), column, self.config.timezone, self.config.date_format)


class CustomerRowConnector(_RowConnector):
    """Columns: customer_id (required), email, phone, first_name, last_name, birthday,
    gender, company, address_line1, city, region, postal_code, country, marketing_consent,
    updated_at (or created_at)."""

    name = "customers"
    channel = "import"
    description = "customer rows (CSV/JSONL/Parquet) → identify, with marketing consent"
    event_type = "identify"

    def to_events(self, raw: Any, received_at: int) -> list[dict[str, Any]]:
        customer_id = _required(raw, "customer_id")
        identities = self.identities(raw)
        country = cleaning.country(raw.get("country"))
        address_fields = ("address_line1", "city", "region", "postal_code")
        address = None
        if country or any(records.text(raw.get(k)) for k in address_fields):
            address = {"line1": records.text(raw.get("address_line1")), "line2": None, "city": records.text(raw.get("city")),
                       "region": records.text(raw.get("region")), "postal_code": records.text(raw.get("postal_code")),
                       "country": country}
        traits = {"first_name": records.text(raw.get("first_name")), "last_name": records.text(raw.get("last_name")),
                  "email": identities["email"], "phone": identities["phone"],
                  "birthday": cleaning.iso_date(raw.get("birthday"), "birthday"),
                  "gender": records.text(raw.get("gender")), "address": address, "company": records.text(raw.get("company"))}
        updated = self.when(raw, "updated_at") or self.when(raw, "created_at")
        consent = cleaning.flag(raw.get("marketing_consent"), "marketing_consent")
        return [self.event(records.batch_event_id(self.name, customer_id, updated or ""), updated or received_at,
                           received_at, identities, traits, {"marketing": consent} if consent is not None else None)]


class OrderRowConnector(_RowConnector):
    """Columns: order_id, ordered_at, total (required), currency, customer_id / email /
    phone (one at least), status, coupon, and one optional line item: sku, product_name,
    category, quantity, unit_price."""

    name = "orders"
    channel = "import"
    description = "order rows (CSV/JSONL/Parquet) → order_placed with money and a line item"
    event_type = "order_placed"

    def to_events(self, raw: Any, received_at: int) -> list[dict[str, Any]]:
        order_id = _required(raw, "order_id")
        ordered_at = self.when(raw, "ordered_at")
        if ordered_at is None:
            raise ContractError("ordered_at", "is required", "missing_field")
        text = records.text
        currency = text(raw.get("currency")) or self.config.currency
        items = []
        sku, product_name = text(raw.get("sku")), text(raw.get("product_name"))
        if sku or product_name:
            items.append({"sku": sku, "product_id": sku, "name": product_name, "category": text(raw.get("category")),
                          "quantity": cleaning.positive_int(raw.get("quantity"), "quantity", default=1),
                          "unit_price": records.money(text(raw.get("unit_price")) or "0", currency, "unit_price")})
        order = {"order_id": order_id, "status": text(raw.get("status")) or "placed",
                 "total": records.money(_required(raw, "total"), currency, "total"),
                 "subtotal": None, "tax": None, "shipping": None, "discount": None,
                 "coupon": text(raw.get("coupon")), "line_items": items, "shipping_address": None}
        return [self.event(records.batch_event_id(self.name, order_id), ordered_at, received_at,
                           self.identities(raw), order)]
