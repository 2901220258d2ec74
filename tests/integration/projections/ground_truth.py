"""The analytics views recomputed in plain Python from the events themselves, as an
independent check of the SQL (same definitions, see ``projections/analytics.py``).

Every function takes ``(customer, record)`` pairs; :func:`stitch` names the customers the
way a person would: identities seen together in one event belong to one customer, from
the events alone (no identity graph, no worker, no ClickHouse)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime

from projections.analytics import CONVERSION_WINDOW_DAYS, FUNNEL_WINDOW_SECONDS, HIGH_TIER_SCORE, MID_TIER_SCORE
from streams.identity.nodes import NodeNamer

DAY_US = 86_400_000_000


def _day(micros: int) -> date:
    return datetime.fromtimestamp(micros / 1e6, UTC).date()


def _score(values: dict[str, int], higher_is_better: bool) -> dict[str, int]:
    """1 + 5 * (rank - 1) // n with rank() semantics: ties share the lowest rank."""
    n = len(values)
    ordered = sorted(values.values(), reverse=not higher_is_better)
    first_rank = {}
    for i, v in enumerate(ordered, 1):
        first_rank.setdefault(v, i)
    return {c: 1 + 5 * (first_rank[v] - 1) // n for c, v in values.items()}


def rfm(events: list[tuple[str, dict]]) -> dict[str, dict]:
    orders = [(k, r) for k, r in events if r["type"] == "order_placed"]
    as_of = _day(max(r["occurred_at"] for _, r in orders))
    last, freq, money = {}, defaultdict(int), defaultdict(int)
    for k, r in orders:
        last[k] = max(last.get(k, 0), r["occurred_at"])
        freq[k] += 1
        money[k] += r["order"]["total"]["amount_minor"]
    recency = {k: (as_of - _day(t)).days for k, t in last.items()}
    r_s, f_s, m_s = _score(recency, higher_is_better=False), _score(freq, True), _score(money, True)
    out = {}
    for k in last:
        total = r_s[k] + f_s[k] + m_s[k]
        tier = "high" if total >= HIGH_TIER_SCORE else "mid" if total >= MID_TIER_SCORE else "low"
        out[k] = {"recency_days": recency[k], "frequency": freq[k], "monetary_minor": money[k],
                  "r_score": r_s[k], "f_score": f_s[k], "m_score": m_s[k], "rfm_score": total, "value_tier": tier}
    return out


def cohort_retention(events: list[tuple[str, dict]]) -> dict[tuple[date, int], tuple[int, int]]:
    """(cohort month, months since first order) -> (customers ordering, cohort size)."""
    months = defaultdict(set)
    for k, r in events:
        if r["type"] == "order_placed":
            d = _day(r["occurred_at"])
            months[k].add(date(d.year, d.month, 1))
    cohort_of = {k: min(ms) for k, ms in months.items()}
    sizes = defaultdict(int)
    for first in cohort_of.values():
        sizes[first] += 1
    active = defaultdict(set)
    for k, ms in months.items():
        first = cohort_of[k]
        for m in ms:
            active[(first, (m.year - first.year) * 12 + m.month - first.month)].add(k)
    return {cell: (len(customers), sizes[cell[0]]) for cell, customers in active.items()}


def campaign_performance(events: list[tuple[str, dict]]) -> dict[str, dict]:
    sends = defaultdict(int)
    people = defaultdict(lambda: defaultdict(set))
    first_click = {}
    for k, r in events:
        if r["type"] in ("email_sent", "email_opened", "email_clicked") and r["email"]["campaign_id"]:
            c = r["email"]["campaign_id"]
            sends[c] += r["type"] == "email_sent"
            people[c][r["type"]].add(k)
            if r["type"] == "email_clicked":
                first_click[(c, k)] = min(first_click.get((c, k), r["occurred_at"]), r["occurred_at"])
    orders = defaultdict(list)
    for k, r in events:
        if r["type"] == "order_placed":
            orders[k].append(r)
    out = {}
    for c, by_type in people.items():
        recipients = len(by_type["email_sent"])
        conversions = revenue = 0
        for (campaign, k), clicked in first_click.items():
            if campaign != c:
                continue
            for o in orders[k]:
                if clicked <= o["occurred_at"] < clicked + CONVERSION_WINDOW_DAYS * DAY_US:
                    conversions += 1
                    revenue += o["order"]["total"]["amount_minor"]
        out[c] = {"sends": sends[c], "recipients": recipients, "openers": len(by_type["email_opened"]),
                  "clickers": len(by_type["email_clicked"]), "conversions": conversions, "revenue_minor": revenue}
    return out


def stitch(records: list[dict], namer: NodeNamer) -> tuple[list[str], dict[str, str]]:
    """Union-find over the identities that appear together in an event. Returns each
    record's customer (the smallest node of its component) and a translation of every name
    the views may give that customer — each node (``kind:hash``) and its bare hash (an
    identity no record has named yet) — to it."""
    parent: dict[str, str] = {}

    def root(node: str) -> str:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    nodes_of = []
    for r in records:
        nodes = [node for node, _ in namer.nodes(r["identities"])]
        for other in nodes:
            parent[root(other)] = root(nodes[0])
        nodes_of.append(nodes)
    components = defaultdict(list)
    for node in list(parent):
        components[root(node)].append(node)
    name = {}
    for members in components.values():
        customer = min(members)
        for node in members:
            name[node] = name[node.rpartition(":")[2]] = customer
    return [name[nodes[0]] for nodes in nodes_of], name


def channel_mix(events: list[tuple[str, dict]]) -> dict[tuple[date, str], tuple[int, int]]:
    """(month, channel) -> (events, distinct customers)."""
    counts, customers = defaultdict(int), defaultdict(set)
    for k, r in events:
        d = _day(r["occurred_at"])
        cell = (date(d.year, d.month, 1), r["source"]["channel"])
        counts[cell] += 1
        customers[cell].add(k)
    return {cell: (n, len(customers[cell])) for cell, n in counts.items()}


FUNNEL_STEPS = ("email_opened", "email_clicked", "order_placed")


def email_to_order_funnel(events: list[tuple[str, dict]]) -> dict[int, int]:
    """steps completed -> customers, as ``windowFunnel`` counts them: events in (second,
    step) order; an open starts a chain (the latest open restarts it), a later step extends
    the chain of the step before it while within the window of that chain's open."""
    timeline = defaultdict(list)
    for k, r in events:
        if r["type"] in FUNNEL_STEPS:
            timeline[k].append((r["occurred_at"] // 1_000_000, FUNNEL_STEPS.index(r["type"])))
    reached = defaultdict(int)
    for steps in timeline.values():
        chain: list[int | None] = [None] * len(FUNNEL_STEPS)  # the open each step's chain started at
        for second, step in sorted(steps):
            if step == 0:
                chain[0] = second
            elif chain[step - 1] is not None and second <= chain[step - 1] + FUNNEL_WINDOW_SECONDS:
                chain[step] = chain[step - 1]
        reached[max((i + 1 for i, start in enumerate(chain) if start is not None), default=0)] += 1
    return dict(reached)
