"""Typed payloads of the canonical interaction types; they mirror ``v<N>.avsc`` field by field.

A test holds these models and the current schema together (same fields, recursively).
Closed sets of values (``direction``, ``kind``...) are enforced by
:mod:`schemas.validation` from the schema's ``allowed`` lists, not duplicated here.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from schemas.money import Money


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Address(Frozen):
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None  # ISO-3166 alpha-2


class Traits(Frozen):
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    birthday: str | None = None  # YYYY-MM-DD
    gender: str | None = None
    address: Address | None = None
    company: str | None = None


class Page(Frozen):
    url: str | None = None
    path: str | None = None
    title: str | None = None
    referrer: str | None = None
    search: str | None = None


class Screen(Frozen):
    name: str


class Group(Frozen):
    group_id: str
    name: str | None = None


class Alias(Frozen):
    previous_id: str


class LineItem(Frozen):
    sku: str | None = None
    product_id: str | None = None
    name: str | None = None
    category: str | None = None
    quantity: int
    unit_price: Money


class Order(Frozen):
    order_id: str
    status: str | None = None
    total: Money
    subtotal: Money | None = None
    tax: Money | None = None
    shipping: Money | None = None
    discount: Money | None = None
    coupon: str | None = None
    line_items: tuple[LineItem, ...] = ()
    shipping_address: Address | None = None


class Refund(Frozen):
    order_id: str
    amount: Money
    reason: str | None = None
    line_items: tuple[LineItem, ...] = ()


class EmailEngagement(Frozen):
    campaign_id: str | None = None
    message_id: str | None = None
    list_id: str | None = None
    subject: str | None = None
    link_url: str | None = None
    bounce_type: str | None = None


class Call(Frozen):
    call_id: str
    direction: str
    duration_seconds: int | None = None
    outcome: str | None = None
    agent_id: str | None = None
    queue: str | None = None
    notes: str | None = None


class SocialInteraction(Frozen):
    platform: str
    interaction: str
    post_id: str | None = None
    handle: str | None = None
    text: str | None = None
    sentiment: str | None = None


class Ticket(Frozen):
    ticket_id: str
    status: str
    priority: str | None = None
    category: str | None = None
    subject: str | None = None
    assignee_id: str | None = None


class SurveyResponse(Frozen):
    survey_id: str
    kind: str
    score: int
    max_score: int
    comment: str | None = None


class Loyalty(Frozen):
    program_id: str
    points: int
    balance_after: int | None = None
    reason: str | None = None
    order_id: str | None = None


class PipelineStageChange(Frozen):
    object_type: str
    object_id: str
    stage: str
    previous_stage: str | None = None
    amount: Money | None = None
    owner_id: str | None = None
    outcome: str | None = None


class ConsentChange(Frozen):
    purpose: str
    channel: str | None = None
    granted: bool
    method: str | None = None
    policy_version: str | None = None
    recipient: str | None = None
    destination_region: str | None = None
