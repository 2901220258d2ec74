"""Lifecycle stage and churn risk as a pure function of (merged partial, now).

Stage, from purchase recency and frequency (first rule that holds wins):

==========  ==============================================================================
prospect    never purchased
churned     no purchase for ``churned_days``
at_risk     no purchase for ``at_risk_days``
won_back    bought again after a gap of at least ``churned_days``, within ``won_back_days``
new         first purchase within ``new_days``
loyal       at least ``loyal_orders`` orders
active      otherwise
==========  ==============================================================================

Churn risk (0-100, with the reasons that add up to it): inactivity measured against the
customer's *own* rhythm (mean gap between their recent purchases; ``default_rhythm_days``
with fewer than two) in steps at 1.5x, 2x, 3x and 4x, plus negative signals — complaints
(tickets opened), unresolved tickets, unsubscribes, refunds, a low NPS or CSAT answer.

Everything that depends on ``now`` is a step at an instant known in advance, so
:func:`evaluate` also returns ``next_change``: when the stage or the score would change if
no new event arrives. The worker keeps that instant in a timer set and re-evaluates then.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from panorama.errors import ConfigError
from panorama.settings import Settings
from streams.profiles.fold import Partial, is_open_ticket

DAY_US = 86_400_000_000
# (numerator, denominator) of the inactivity/rhythm ratio, and the points from that ratio on
INACTIVITY_STEPS = (((3, 2), 10), ((2, 1), 25), ((3, 1), 40), ((4, 1), 60))


@dataclass(frozen=True)
class SignalRules:
    new_days: int = 30
    won_back_days: int = 60
    at_risk_days: int = 90
    churned_days: int = 180
    loyal_orders: int = 5
    default_rhythm_days: int = 60
    min_rhythm_days: int = 7
    high_risk: int = 60
    medium_risk: int = 30


def configured_signal_rules(settings: Settings) -> SignalRules:
    """:class:`SignalRules` with ``CDP_SIGNAL_RULES`` over the defaults; a ConfigError names
    an unknown rule, a value that is not positive, or thresholds in the wrong order."""
    names = [f.name for f in fields(SignalRules)]
    for name, value in settings.signal_rules.items():
        if name not in names:
            raise ConfigError(f"CDP_SIGNAL_RULES: unknown rule {name!r}; the rules are {', '.join(names)}")
        if value < 1:
            raise ConfigError(f"CDP_SIGNAL_RULES: {name}: must be at least 1, got {value}")
    rules = replace(SignalRules(), **settings.signal_rules)
    for lower, higher in (("at_risk_days", "churned_days"), ("medium_risk", "high_risk")):
        if getattr(rules, lower) >= getattr(rules, higher):
            raise ConfigError(f"CDP_SIGNAL_RULES: {lower} ({getattr(rules, lower)}) must be below {higher} "
                              f"({getattr(rules, higher)})")
    if rules.high_risk > 100:
        raise ConfigError(f"CDP_SIGNAL_RULES: high_risk is a score of 0-100, got {rules.high_risk}")
    return rules


@dataclass(frozen=True)
class Reason:
    code: str
    points: int
    detail: str


@dataclass(frozen=True)
class Signals:
    stage: str
    score: int
    level: str
    reasons: tuple[Reason, ...]
    next_change: int | None  # µs since the epoch; None: nothing changes without new events

    @property
    def fingerprint(self) -> tuple:
        """What a change is published for (details such as "for 95 days" move every day)."""
        return self.stage, self.score, tuple(r.code for r in self.reasons)

    def as_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "churn_risk": {
            "score": self.score, "level": self.level,
            "reasons": [{"code": r.code, "points": r.points, "detail": r.detail} for r in self.reasons]}}


def evaluate(partial: Partial, now: int, rules: SignalRules = SignalRules()) -> Signals:
    reasons = _negative_reasons(partial)
    boundaries: list[int] = []
    if partial.orders:
        last = partial.order_times[0] if partial.order_times else partial.last_order[0]
        rhythm = _rhythm(partial.order_times, rules)
        reasons = _inactivity(now - last, rhythm) + reasons
        boundaries = [last + -(-num * rhythm // den) for (num, den), _ in INACTIVITY_STEPS]
        boundaries += [last + days * DAY_US for days in (rules.won_back_days, rules.at_risk_days, rules.churned_days)]
        if partial.first_order is not None:
            boundaries.append(partial.first_order + rules.new_days * DAY_US)
    score = min(100, sum(r.points for r in reasons))
    level = "high" if score >= rules.high_risk else "medium" if score >= rules.medium_risk else "low"
    return Signals(_stage(partial, now, rules), score, level, tuple(reasons),
                   min((b for b in boundaries if b > now), default=None))


def _stage(partial: Partial, now: int, rules: SignalRules) -> str:
    if not partial.orders:
        return "prospect"
    times = partial.order_times
    recency = now - (times[0] if times else partial.last_order[0])
    if recency >= rules.churned_days * DAY_US:
        return "churned"
    if recency >= rules.at_risk_days * DAY_US:
        return "at_risk"
    if len(times) >= 2 and times[0] - times[1] >= rules.churned_days * DAY_US and recency < rules.won_back_days * DAY_US:
        return "won_back"
    if partial.first_order is not None and now - partial.first_order < rules.new_days * DAY_US:
        return "new"
    return "loyal" if partial.orders >= rules.loyal_orders else "active"


def _rhythm(times: list[int], rules: SignalRules) -> int:
    """The customer's usual gap between purchases, µs (mean over the recent ones)."""
    if len(times) < 2:
        return rules.default_rhythm_days * DAY_US
    return max(rules.min_rhythm_days * DAY_US, (times[0] - times[-1]) // (len(times) - 1))


def _inactivity(recency: int, rhythm: int) -> list[Reason]:
    points = max((p for (num, den), p in INACTIVITY_STEPS if recency * den >= num * rhythm), default=0)
    if not points:
        return []
    return [Reason("inactive", points, f"no purchase for {recency // DAY_US} days, "
                                       f"{recency / rhythm:.1f}x their usual {rhythm / DAY_US:.0f}-day rhythm")]


def _negative_reasons(partial: Partial) -> list[Reason]:
    by_type = partial.by_type
    reasons = []
    open_tickets = sum(1 for reg in partial.tickets.values() if is_open_ticket(reg[2]))
    for code, count, per, cap, what in (
        ("complaints", by_type.get("ticket_opened", 0), 5, 15, "support tickets opened"),
        ("unresolved_tickets", open_tickets, 15, 15, "tickets still open"),
        ("unsubscribed", by_type.get("email_unsubscribed", 0), 10, 10, "unsubscribes"),
        ("refunds", by_type.get("order_refunded", 0), 10, 20, "refunds"),
    ):
        if count:
            reasons.append(Reason(code, min(cap, per * count), f"{count} {what}"))
    for kind, low, points in (("nps", 0.6, 15), ("csat", 0.4, 10)):
        answer = partial.surveys.get(kind)
        if answer is not None and answer[2]["score"] <= low * answer[2]["max_score"]:
            reasons.append(Reason(f"low_{kind}", points, f"latest {kind.upper()} {answer[2]['score']}/{answer[2]['max_score']}"))
    return reasons
