"""The analytics views recomputed in plain Python from the events themselves, as an
independent check of the SQL (same definitions, see ``projections/analytics.py``)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime

from projections.analytics import CONVERSION_WINDOW_DAYS, HIGH_TIER_SCORE, MID_TIER_SCORE

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
