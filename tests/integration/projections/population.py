"""Test populations with known ground truth. :func:`population`: the demo population with
every event of a signed-up customer carrying that customer's user_id, so all of one
customer's events share one routing key (``customer_key``) — for the sink tests, which need
no identity resolution. :func:`late_stitched`: the demo's own identities (anonymous visits,
e-mails keyed by address, orders by user id), some customers' sign-ups arriving late."""

from __future__ import annotations

import copy

from connectors.demo import generate_population
from producers.keys import RoutingKeys
from panorama.settings import Settings
from tests.integration.streams.population import Customer

BLANK_IDENTITIES = {"user_id": None, "anonymous_id": None, "email": None, "phone": None, "device_id": None,
                    "external_ids": {}}


def population(customers: int, seed: int = 11) -> list[dict]:
    records = [copy.deepcopy(r) for r in generate_population(customers, seed)]
    user_of: dict[str, str] = {}
    for r in records:
        ids = r["identities"]
        if ids["user_id"]:
            for kind in ("email", "phone", "anonymous_id"):
                if ids[kind]:
                    user_of[ids[kind]] = ids["user_id"]
    for r in records:
        ids = r["identities"]
        user = ids["user_id"] or next((user_of[ids[k]] for k in ("email", "phone", "anonymous_id") if ids[k] in user_of), None)
        if user:
            r["identities"] = BLANK_IDENTITIES | {"user_id": user}
    return records


def customer_keys(settings: Settings, records: list[dict]) -> list[str]:
    """The routing key of each record, as the producer computes it (the Kafka key)."""
    keys = RoutingKeys(settings.routing_key_secret.get_secret_value().encode())
    return [keys.for_identities(r["identities"]).decode() for r in records]


def late_stitched(customers: list[Customer], every: int = 4) -> tuple[list[dict], list[dict]]:
    """(early, late) events: the sign-up of every ``every``-th customer — the one event that
    ties its anonymous visits, e-mail and phone to its user id — is held back as ``late``,
    so until it arrives that customer is several customers. Those customers' first order is
    a guest checkout (keyed by the e-mail address alone), so orders move on the stitch too."""
    early, late = [], []
    for n, customer in enumerate(customers):
        held = n % every == 0
        email = customer.identities()["email"][0]
        orders = [e for e in customer.events if e["type"] == "order_placed"]
        for event in customer.events:
            if held and orders and event is orders[0]:
                event = copy.deepcopy(event) | {"identities": BLANK_IDENTITIES | {"email": email}}
            signup = event["type"] == "identify" and event["identities"]["anonymous_id"]
            (late if signup and held else early).append(event)
    return early, late
