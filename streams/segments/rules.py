"""The segment rule language: a validated JSON tree over a customer's profile, compiled
once, evaluated as a pure function of (fields, now).

A rule is a condition::

    {"all": [cond, ...]}          every one holds (an empty list holds)
    {"any": [cond, ...]}          at least one holds
    {"not": cond}                 the condition does not hold
    {"field": F, "op": OP, "value": V}

Fields (:data:`FIELDS`, and the families in :data:`FAMILIES` followed by ``.<key>``)::

    orders  events  loyalty.balance  loyalty.points_total  support.open_tickets
    churn_risk.score                                               numbers
    lifecycle.stage  churn_risk.level                              strings
    first_seen  last_seen  first_purchase  last_purchase           instants (µs)
    products  categories                                           sets of strings
    revenue_minor.<CURRENCY>  events_by_type.<type>
    events_by_channel.<channel>                                    numbers (0 when absent)
    traits.<name>                                                  what the source sent
    consent.<purpose>  consent.<purpose>:<channel>                 true / false

Operators: ``=`` ``!=`` (any scalar), ``<`` ``<=`` ``>`` ``>=`` (numbers), ``in`` ``not_in``
(a non-empty list), ``contains`` (sets), ``exists`` (value true or false), and for instants
and ISO dates (``traits.birthday``): ``older_than_days`` (at least N days ago),
``within_last_days`` (less than N days ago), ``anniversary_within_days`` (the date's next
yearly anniversary, today included, is less than N days away: birthday coupons). A field
the customer does not have makes every operator but ``exists``/``not_in``/``!=`` false.

Time enters only through those day operators and through ``lifecycle.stage`` /
``churn_risk.*`` (whose changes the signal rules announce), so :meth:`Condition.boundaries`
lists the instants at which a condition may change with no new event: the sweep's timers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from panorama.errors import StreamError
from streams.signals.rules import DAY_US

Fields = Mapping[str, Any]
NUMBER, STRING, INSTANT, SET, ANY, BOOL = "number", "string", "instant", "set", "any", "bool"
FIELDS = {
    "orders": NUMBER, "events": NUMBER, "loyalty.balance": NUMBER, "loyalty.points_total": NUMBER,
    "support.open_tickets": NUMBER, "churn_risk.score": NUMBER,
    "lifecycle.stage": STRING, "churn_risk.level": STRING,
    "first_seen": INSTANT, "last_seen": INSTANT, "first_purchase": INSTANT, "last_purchase": INSTANT,
    "products": SET, "categories": SET,
}
FAMILIES = {"revenue_minor": NUMBER, "events_by_type": NUMBER, "events_by_channel": NUMBER, "traits": ANY,
            "consent": BOOL}
COMPARISONS = {"=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
               "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}
DAY_OPS = ("older_than_days", "within_last_days", "anniversary_within_days")
OPS = (*COMPARISONS, "in", "not_in", "contains", "exists", *DAY_OPS)
MAX_CONDITIONS = 100
MAX_DEPTH = 8
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_EPOCH = date(1970, 1, 1)


class SegmentError(StreamError):
    """A segment definition or request is wrong; the message says what to change."""


class RuleError(SegmentError):
    """A rule breaks the language: ``field`` is where in the rule (``rule.all[1].op``)."""

    def __init__(self, field: str, problem: str):
        self.field, self.problem = field, problem
        super().__init__(f"{field}: {problem}")


class Condition:
    """A compiled condition. ``boundaries`` yields instants after ``now`` at which
    ``matches`` may change with no new event (a superset is fine: it only costs a re-check)."""

    def matches(self, fields: Fields, now: int) -> bool:
        raise NotImplementedError

    def boundaries(self, fields: Fields, now: int) -> Iterator[int]:
        raise NotImplementedError


class _All(Condition):
    def __init__(self, parts: list[Condition], want: bool):
        self.parts, self.want = parts, want  # want=False: "any" (at least one holds)

    def matches(self, fields: Fields, now: int) -> bool:
        return all(p.matches(fields, now) for p in self.parts) if self.want else \
            any(p.matches(fields, now) for p in self.parts)

    def boundaries(self, fields: Fields, now: int) -> Iterator[int]:
        for part in self.parts:
            yield from part.boundaries(fields, now)


class _Not(Condition):
    def __init__(self, part: Condition):
        self.part = part

    def matches(self, fields: Fields, now: int) -> bool:
        return not self.part.matches(fields, now)

    def boundaries(self, fields: Fields, now: int) -> Iterator[int]:
        return self.part.boundaries(fields, now)


class _Test(Condition):
    def __init__(self, read: Callable[[Fields], Any], op: str, value: Any):
        self.read, self.op, self.value = read, op, value

    def matches(self, fields: Fields, now: int) -> bool:
        found = self.read(fields)
        op, value = self.op, self.value
        if op == "exists":
            return (found is not None) == value
        if op == "not_in":
            return found not in value
        if op == "!=":
            return found != value
        if found is None:
            return False
        if op == "=":
            return found == value
        if op in COMPARISONS:  # an ordering: numbers only (validated for the value)
            return isinstance(found, int | float) and not isinstance(found, bool) and COMPARISONS[op](found, value)
        if op == "in":
            return found in value
        if op == "contains":
            return value in found
        return _day_test(op, found, value, now)

    def boundaries(self, fields: Fields, now: int) -> Iterator[int]:
        if self.op in DAY_OPS and (found := self.read(fields)) is not None:
            at = _day_boundary(self.op, found, self.value, now)
            if at is not None and at > now:
                yield at


def _instant(found: Any) -> int | None:
    """µs of an instant field, or midnight UTC of an ISO date; None when it is neither."""
    if isinstance(found, int) and not isinstance(found, bool):
        return found
    if isinstance(found, str) and _ISO_DATE.match(found):
        try:
            return (date.fromisoformat(found[:10]) - _EPOCH).days * DAY_US
        except ValueError:
            return None
    return None


def _next_anniversary(found: Any, now: int) -> date | None:
    """The first day, today (UTC) or later, with the month and day of ``found``; 29 February
    falls on the 28th in other years."""
    at = _instant(found)
    if at is None:
        return None
    born, today = _EPOCH + timedelta(days=at // DAY_US), datetime.fromtimestamp(now / 1e6, UTC).date()
    for year in (today.year, today.year + 1):
        day = 28 if (born.month, born.day) == (2, 29) and not _leap(year) else born.day
        candidate = date(year, born.month, day)
        if candidate >= today:
            return candidate
    raise AssertionError("unreachable: next year's anniversary is always ahead")


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _midnight_us(day: date) -> int:
    return (day - _EPOCH).days * DAY_US


def _day_test(op: str, found: Any, days: int, now: int) -> bool:
    if op == "anniversary_within_days":
        upcoming = _next_anniversary(found, now)
        return upcoming is not None and now >= _midnight_us(upcoming) - (days - 1) * DAY_US
    at = _instant(found)
    if at is None:
        return False
    return (now - at >= days * DAY_US) if op == "older_than_days" else (now - at < days * DAY_US)


def _day_boundary(op: str, found: Any, days: int, now: int) -> int | None:
    if op != "anniversary_within_days":
        at = _instant(found)
        return None if at is None else at + days * DAY_US
    upcoming = _next_anniversary(found, now)
    if upcoming is None:
        return None
    enters = _midnight_us(upcoming) - (days - 1) * DAY_US
    return enters if now < enters else _midnight_us(upcoming) + DAY_US


def _reader(name: str, where: str) -> tuple[Callable[[Fields], Any], str]:
    """(how to read field ``name`` from segment fields, its kind); RuleError if unknown."""
    if name in FIELDS:
        return (lambda fields: fields.get(name)), FIELDS[name]
    family, _, key = name.partition(".")
    if family in FAMILIES and key:
        default = 0 if FAMILIES[family] == NUMBER else None
        return (lambda fields: fields[family].get(key, default)), FAMILIES[family]
    known = ", ".join([*FIELDS, *(f"{f}.<key>" for f in FAMILIES)])
    raise RuleError(where, f"unknown field {name!r}; known: {known}")


def _check_value(op: str, kind: str, value: Any, where: str) -> Any:
    scalar = (str, int, float, bool)
    if op == "exists":
        if value is None:
            return True
        if not isinstance(value, bool):
            raise RuleError(where, "'exists' takes true or false (or no value)")
        return value
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value or not all(isinstance(v, scalar) for v in value):
            raise RuleError(where, f"{op!r} needs a non-empty list of strings or numbers")
        return frozenset(value)
    if op in DAY_OPS:
        if kind not in (INSTANT, ANY):
            raise RuleError(where, f"{op!r} needs an instant field (first_seen, last_purchase, traits.birthday...)")
        limit = 366 if op == "anniversary_within_days" else 36_500
        if type(value) is not int or not 1 <= value <= limit:
            raise RuleError(where, f"{op!r} needs a whole number of days from 1 to {limit}")
        return value
    if op == "contains":
        if kind != SET or not isinstance(value, str):
            raise RuleError(where, "'contains' needs a set field (products, categories) and a string")
        return value
    if kind == SET:
        raise RuleError(where, f"{op!r} does not apply to a set; use 'contains' or 'exists'")
    if not isinstance(value, scalar):
        raise RuleError(where, f"{op!r} needs a string, number or boolean")
    if op in ("<", "<=", ">", ">=") and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise RuleError(where, f"{op!r} needs a number")
    return value


class _Compiler:
    def __init__(self):
        self.tests = 0

    def compile(self, rule: Any, where: str, depth: int) -> Condition:
        if depth > MAX_DEPTH:
            raise RuleError(where, f"nested deeper than {MAX_DEPTH} levels")
        if not isinstance(rule, dict):
            raise RuleError(where, "must be an object with 'all', 'any', 'not' or 'field'")
        for combinator in ("all", "any"):
            if combinator in rule:
                self._only(rule, {combinator}, where)
                parts = rule[combinator]
                if not isinstance(parts, list):
                    raise RuleError(f"{where}.{combinator}", "must be a list of conditions")
                return _All([self.compile(p, f"{where}.{combinator}[{i}]", depth + 1) for i, p in enumerate(parts)],
                            combinator == "all")
        if "not" in rule:
            self._only(rule, {"not"}, where)
            return _Not(self.compile(rule["not"], f"{where}.not", depth + 1))
        if "field" not in rule:
            raise RuleError(where, "must have one of 'all', 'any', 'not' or 'field'")
        self._only(rule, {"field", "op", "value"}, where)
        self.tests += 1
        if self.tests > MAX_CONDITIONS:
            raise RuleError(where, f"more than {MAX_CONDITIONS} conditions in one rule")
        if not isinstance(rule["field"], str):
            raise RuleError(f"{where}.field", "must be a string")
        read, kind = _reader(rule["field"], f"{where}.field")
        op = rule.get("op")
        if op not in OPS:
            raise RuleError(f"{where}.op", f"{op!r} is not one of {', '.join(OPS)}")
        if "value" not in rule and op != "exists":
            raise RuleError(f"{where}.value", f"{op!r} needs a value")
        return _Test(read, op, _check_value(op, kind, rule.get("value"), f"{where}.value"))

    @staticmethod
    def _only(rule: dict, allowed: set[str], where: str) -> None:
        extra = sorted(set(rule) - allowed)
        if extra:
            raise RuleError(f"{where}.{extra[0]}", f"not allowed here (this condition takes {', '.join(sorted(allowed))})")


def compile_rule(rule: Any, where: str = "rule") -> Condition:
    """Validate and compile ``rule``; RuleError naming the first problem's place otherwise."""
    return _Compiler().compile(rule, where, 1)
