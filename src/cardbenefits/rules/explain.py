"""Explain a rule decision: a structured, localizable trace of every clause.

:func:`explain` interprets the rule (three-valued, like the compiled predicate) and
returns an :class:`Explanation`: the result, and for each clause its value (true, false
or unknown), whether it *decided* the result, the customer's value, and for numeric or
money thresholds how far the customer is from meeting them.

Which clauses are decisive: the root is; under a decisive ``and`` that is false, its false
children (any one would have sunk it); under a true ``and``, all children; under an
unknown ``and``, the unknown children. ``or`` is the mirror image; ``not`` passes its
decisiveness on.

>>> from datetime import datetime, timezone
>>> from cardbenefits.money import Money
>>> from cardbenefits.rules import parse
>>> rule = parse("spend.month >= ¥3000 and rfm.recency_days <= 90")
>>> record = {"spend": {"month": Money.of("2680")}, "rfm": {"recency_days": 120}}
>>> result = explain(rule, record, datetime(2026, 11, 20, tzinfo=timezone.utc))
>>> result.eligible, result.value
(False, <Truth.FALSE: 'false'>)
>>> [c.gap for c in result.root.children]
[Money('320', 'CNY'), 30]
>>> print(result.render("en"))
Not eligible: spend.month >= 3000 CNY and rfm.recency_days <= 90
✗ all of [decisive]
  ✗ spend.month >= 3000 CNY — spend.month is CN¥2,680.00, needs ≥ CN¥3,000.00: CN¥320.00 more [decisive]
  ✗ rfm.recency_days <= 90 — rfm.recency_days is 120, needs ≤ 90: 30 over [decisive]
"""

from __future__ import annotations

import enum
import operator
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, cast

import attrs
from babel.numbers import format_decimal

from cardbenefits.errors import CardBenefitsError, RuleError
from cardbenefits.money import Money
from cardbenefits.rules.ast import (
    After,
    And,
    Before,
    Compare,
    CompareFields,
    Contains,
    Flag,
    HasTags,
    Member,
    Node,
    Not,
    OlderThan,
    Or,
    Presence,
    Within,
    format_value,
    to_text,
)
from cardbenefits.rules.messages import message
from cardbenefits.rules.rule import Rule
from cardbenefits.rules.runtime import check_instant, is_present, lookup_value, window_start

__all__ = ["Clause", "Explanation", "Truth", "explain", "truth"]

_OPS: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_SYMBOLS: Final = {"==": "=", "!=": "≠", "<": "<", "<=": "≤", ">": ">", ">=": "≥"}


class Truth(enum.StrEnum):
    """A three-valued truth: UNKNOWN when a field the clause needs is missing."""

    TRUE = "true"
    FALSE = "false"
    UNKNOWN = "unknown"

    @classmethod
    def of(cls, value: bool | None) -> Truth:
        """From ``True``/``False``/``None``."""
        return cls.UNKNOWN if value is None else cls.TRUE if value else cls.FALSE


@attrs.frozen
class Clause:
    """One clause of the trace.

    ``actual`` holds the field's value (``None`` when missing), ``missing`` the fields the
    clause needed but did not find, ``gap`` how far a numeric/money threshold is (amount
    more needed for ``>=``/``>``, amount over for ``<=``/``<``), ``window_start`` the
    lower bound of a ``within``/``older than`` window.
    """

    node: Node
    value: Truth
    decisive: bool = False
    actual: object = None
    missing: tuple[str, ...] = ()
    gap: Money | Decimal | int | None = None
    window_start: datetime | None = None
    children: tuple[Clause, ...] = ()

    @property
    def text(self) -> str:
        """The clause in canonical rule syntax."""
        return to_text(self.node)

    @property
    def field(self) -> str | None:
        """The field a leaf reads (``None`` for and/or/not)."""
        return None if isinstance(self.node, And | Or | Not) else self.node.field

    def walk(self) -> list[Clause]:
        """This clause and all below it, depth first."""
        result = [self]
        for child in self.children:
            result.extend(child.walk())
        return result


@attrs.frozen
class Explanation:
    """Why a record is or is not eligible under a rule at an instant."""

    rule: Rule
    at: datetime
    root: Clause

    @property
    def value(self) -> Truth:
        """The three-valued result."""
        return self.root.value

    @property
    def eligible(self) -> bool:
        """True only when the rule is TRUE (UNKNOWN is not eligible)."""
        return self.root.value is Truth.TRUE

    @property
    def decisive(self) -> list[Clause]:
        """The leaf clauses that decided the result."""
        return [c for c in self.root.walk() if c.decisive and not c.children]

    @property
    def missing(self) -> tuple[str, ...]:
        """Missing fields among the decisive clauses, in rule order, without repeats."""
        seen: dict[str, None] = {}
        for clause in self.decisive:
            seen.update(dict.fromkeys(clause.missing))
        return tuple(seen)

    def render(self, locale: str = "zh_CN") -> str:
        """A readable, localized text of the trace (money via :meth:`Money.format`)."""
        if self.eligible:
            head = message(locale, "eligible")
        elif self.value is Truth.UNKNOWN:
            head = message(locale, "unknown_result", fields=", ".join(self.missing))
        else:
            head = message(locale, "not_eligible")
        lines = [message(locale, "head", verdict=head, rule=self.rule.canonical)]
        _render(self.root, locale, 0, lines)
        return "\n".join(lines)


_MARKS: Final = {Truth.TRUE: "✓", Truth.FALSE: "✗", Truth.UNKNOWN: "?"}


def _render(clause: Clause, locale: str, level: int, lines: list[str]) -> None:
    node = clause.node
    mark = _MARKS[clause.value]
    tail = f" [{message(locale, 'decisive')}]" if clause.decisive else ""
    indent = "  " * level
    if isinstance(node, And | Or | Not):
        key = "and" if isinstance(node, And) else "or" if isinstance(node, Or) else "not"
        lines.append(f"{indent}{mark} {message(locale, key)}{tail}")
        for child in clause.children:
            _render(child, locale, level + 1, lines)
        return
    lines.append(f"{indent}{mark} {clause.text} — {_detail(clause, locale)}{tail}")


def _fmt(value: object, locale: str) -> str:
    if isinstance(value, Money):
        return value.format(locale)
    if isinstance(value, bool):
        return message(locale, "bool_true" if value else "bool_false")
    if isinstance(value, int | Decimal):
        return str(format_decimal(value, locale=locale, decimal_quantization=False))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="minutes")
    if isinstance(value, str):
        return format_value(value)
    if isinstance(value, frozenset | set | list | tuple):
        return (
            "{" + ", ".join(format_value(v) if isinstance(v, str) else repr(v) for v in sorted(value)) + "}"
        )
    return repr(value)


def _detail(clause: Clause, locale: str) -> str:
    node = clause.node
    if clause.missing:
        return "; ".join(message(locale, "missing", field=f) for f in clause.missing)
    field = clause.field
    actual = clause.actual
    if isinstance(node, Presence):
        return message(locale, "present" if is_present(actual) else "missing", field=field)
    if isinstance(node, Compare) and node.op in ("<", "<=", ">", ">=") and clause.value is Truth.FALSE:
        key = "needs_more" if node.op in (">", ">=") else "needs_less"
        params = {
            "field": field,
            "actual": _fmt(actual, locale),
            "op": _SYMBOLS[node.op],
            "threshold": _fmt(node.value, locale),
        }
        if clause.gap is None:
            return message(locale, "needs", **params)
        return message(locale, key, gap=_fmt(clause.gap, locale), **params)
    if isinstance(node, Contains):
        found = node.value in actual  # type: ignore[operator]
        return message(locale, "has" if found else "lacks", field=field, value=format_value(node.value))
    if isinstance(node, HasTags):
        tags = frozenset(cast("Iterable[str]", actual))
        hits = sorted(set(node.values) & tags)
        if node.mode == "any":
            if hits:
                return message(locale, "has_some", field=field, values=_fmt(hits, locale))
            return message(locale, "has_none", field=field, values=_fmt(node.values, locale))
        lacking = sorted(set(node.values) - tags)
        if lacking:
            return message(locale, "lacks_some", field=field, values=_fmt(lacking, locale))
        return message(locale, "has_some", field=field, values=_fmt(node.values, locale))
    if isinstance(node, Within | OlderThan) and clause.window_start is not None:
        return message(
            locale,
            "window",
            field=field,
            actual=_fmt(actual, locale),
            start=_fmt(clause.window_start, locale),
        )
    if isinstance(node, Before | After):
        return message(
            locale, "before", field=field, actual=_fmt(actual, locale), limit=_fmt(node.instant, locale)
        )
    if isinstance(node, CompareFields):
        parts = [message(locale, "is", field=field, actual=_fmt(actual, locale))]
        return "; ".join(parts)
    return message(locale, "is", field=field, actual=_fmt(actual, locale))


def truth(node: Node, record: Mapping[str, object], at: datetime) -> bool | None:
    """The three-valued value of ``node`` for ``record`` (``None`` = UNKNOWN), interpreted."""
    value = _trace(node, record, at).value
    return None if value is Truth.UNKNOWN else value is Truth.TRUE


def explain(rule: Rule, record: Mapping[str, object], at: datetime) -> Explanation:
    """Evaluate ``rule`` on ``record`` at instant ``at`` with a full trace."""
    check_instant(at)
    if not isinstance(record, Mapping):
        raise RuleError("a customer record is a mapping", path="record", value=record)
    try:
        root = _trace(rule.node, record, at)
    except RuleError:
        raise
    except (TypeError, AttributeError, ValueError, OverflowError, CardBenefitsError) as exc:
        raise RuleError(
            f"record does not match the field schema ({type(exc).__name__}: {exc})",
            path=rule.canonical,
            value=None,
        ) from exc
    return Explanation(rule, at, _mark(root, True))


def _kleene_and(values: list[Truth]) -> Truth:
    if Truth.FALSE in values:
        return Truth.FALSE
    return Truth.UNKNOWN if Truth.UNKNOWN in values else Truth.TRUE


def _kleene_or(values: list[Truth]) -> Truth:
    if Truth.TRUE in values:
        return Truth.TRUE
    return Truth.UNKNOWN if Truth.UNKNOWN in values else Truth.FALSE


_NEGATE: Final = {Truth.TRUE: Truth.FALSE, Truth.FALSE: Truth.TRUE, Truth.UNKNOWN: Truth.UNKNOWN}


def _trace(node: Node, record: Mapping[str, object], at: datetime) -> Clause:
    if isinstance(node, And | Or):
        kids = tuple(_trace(arg, record, at) for arg in node.args)
        combine = _kleene_and if isinstance(node, And) else _kleene_or
        return Clause(node, combine([k.value for k in kids]), children=kids)
    if isinstance(node, Not):
        kid = _trace(node.arg, record, at)
        return Clause(node, _NEGATE[kid.value], children=(kid,))
    actual = lookup_value(record, node.field)
    if isinstance(node, Presence):
        return Clause(node, Truth.of(is_present(actual) == node.present), actual=actual)
    missing = [node.field] if actual is None else []
    other: object = None
    if isinstance(node, CompareFields):
        other = lookup_value(record, node.other)
        if other is None:
            missing.append(node.other)
    if missing:
        return Clause(node, Truth.UNKNOWN, actual=actual, missing=tuple(missing))
    start: datetime | None = None
    gap: Money | Decimal | int | None = None
    if isinstance(node, Flag):
        result = bool(actual)
    elif isinstance(node, Compare):
        result = bool(_OPS[node.op](actual, node.value))
        if not result and node.op in ("<", "<=", ">", ">="):
            gap = _gap(node, actual)
    elif isinstance(node, CompareFields):
        result = bool(_OPS[node.op](actual, other))
    elif isinstance(node, Member):
        result = (actual in frozenset(node.values)) != node.negated
    elif isinstance(node, Contains):
        result = (node.value in actual) != node.negated  # type: ignore[operator]
    elif isinstance(node, HasTags):
        wanted = frozenset(node.values)
        result = (not wanted.isdisjoint(actual)) if node.mode == "any" else wanted.issubset(actual)  # type: ignore[arg-type]
    elif isinstance(node, Within):
        start = window_start(at, node.amount, node.unit)
        result = bool(start <= actual <= at)  # type: ignore[operator]
    elif isinstance(node, OlderThan):
        start = window_start(at, node.amount, node.unit)
        result = bool(actual < start)  # type: ignore[operator]
    elif isinstance(node, Before):
        result = bool(actual < node.instant)  # type: ignore[operator]
    else:
        result = bool(actual > node.instant)  # type: ignore[operator]
    return Clause(node, Truth.of(result), actual=actual, gap=gap, window_start=start)


def _gap(node: Compare, actual: object) -> Money | Decimal | int | None:
    threshold = node.value
    if not isinstance(threshold, Money | int | Decimal) or isinstance(threshold, bool):
        return None
    gap = threshold - actual if node.op in (">", ">=") else actual - threshold  # type: ignore[operator]
    # A strict bound on whole numbers needs one more unit.
    if node.op in (">", "<") and isinstance(gap, int) and isinstance(actual, int):
        gap += 1
    return gap


def _mark(clause: Clause, decisive: bool) -> Clause:
    if not clause.children:
        return attrs.evolve(clause, decisive=decisive)
    node = clause.node
    if isinstance(node, Not):
        kids = tuple(_mark(k, decisive) for k in clause.children)
    else:
        if clause.value is Truth.UNKNOWN:
            wanted = Truth.UNKNOWN
        elif isinstance(node, And):
            wanted = Truth.FALSE if clause.value is Truth.FALSE else Truth.TRUE
        else:
            wanted = Truth.TRUE if clause.value is Truth.TRUE else Truth.FALSE
        kids = tuple(_mark(k, decisive and k.value is wanted) for k in clause.children)
    return attrs.evolve(clause, decisive=decisive, children=kids)
