"""The abstract syntax tree of eligibility rules, and its canonical text form.

Every rule is a tree of frozen nodes. Leaves name a field of the
:class:`~cardbenefits.rules.schema.FieldSchema` and hold literal values only
(``str``, ``int``, ``bool``, :class:`~decimal.Decimal`, :class:`~cardbenefits.money.Money`),
so a rule is data: it cannot name anything outside the schema nor run code.

:func:`to_text` prints the canonical text form; parsing it gives back an equal tree.

>>> from decimal import Decimal
>>> from cardbenefits.money import Money
>>> node = And((Compare("age", ">=", 60), Contains("tags", "silver"),
...             Member("region", ("SH", "BJ"), style="set")))
>>> to_text(node)
'age >= 60 and "silver" in tags and region in {"SH", "BJ"}'
>>> to_text(Or((Not(Flag("delinquent")), Compare("spend.month", ">=", Money.of(3000)))))
'not delinquent or spend.month >= 3000 CNY'
>>> sorted(fields_of(node))
['age', 'region', 'tags']
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, Literal, TypeAlias

import attrs

from cardbenefits.errors import RuleSyntaxError
from cardbenefits.money import Money

__all__ = [
    "COMPARISONS",
    "MAX_DEPTH",
    "UNITS",
    "After",
    "And",
    "Before",
    "Compare",
    "CompareFields",
    "Contains",
    "Flag",
    "HasTags",
    "Leaf",
    "Member",
    "Node",
    "Not",
    "OlderThan",
    "Or",
    "Presence",
    "Value",
    "Within",
    "children",
    "depth",
    "fields_of",
    "format_value",
    "to_text",
]

#: A literal in a rule.
Value: TypeAlias = "str | int | bool | Decimal | Money"

#: Comparison operators, canonical spelling.
COMPARISONS: Final = ("==", "!=", "<", "<=", ">", ">=")

#: Duration units of ``within`` / ``older than`` (canonical plural spelling).
UNITS: Final = ("minutes", "hours", "days", "weeks", "months", "years")

#: Deepest nesting accepted by the parser and the JSON loader (keeps compile() safe).
MAX_DEPTH: Final = 48

CompareOp: TypeAlias = Literal["==", "!=", "<", "<=", ">", ">="]


def _tuple(value: Iterable[object]) -> tuple[object, ...]:
    return tuple(value)


def _two_or_more(_instance: object, attribute: attrs.Attribute[Any], value: tuple[object, ...]) -> None:
    if len(value) < 2:
        raise RuleSyntaxError(
            f"'{attribute.name}' of and/or needs at least two rules", path="args", value=value
        )


@attrs.frozen
class And:
    """All of ``args`` hold (three-valued: one false → false; else one unknown → unknown)."""

    args: tuple[Node, ...] = attrs.field(converter=_tuple, validator=_two_or_more)


@attrs.frozen
class Or:
    """One of ``args`` holds (three-valued: one true → true; else one unknown → unknown)."""

    args: tuple[Node, ...] = attrs.field(converter=_tuple, validator=_two_or_more)


@attrs.frozen
class Not:
    """``arg`` does not hold (``not unknown`` is unknown)."""

    arg: Node


@attrs.frozen
class Flag:
    """A bool field standing alone: ``delinquent``."""

    field: str


@attrs.frozen
class Compare:
    """``field op value``: ``age >= 60``, ``lifecycle == "dormant"``, ``spend.month >= 3000 CNY``."""

    field: str
    op: CompareOp
    value: Value


@attrs.frozen
class CompareFields:
    """``field op other``, two fields of compatible types: ``spend.campaign >= spend.month``."""

    field: str
    op: CompareOp
    other: str


@attrs.frozen
class Member:
    """``field in {…}`` / ``field not in (…)``; ``style`` remembers braces (set) or a list."""

    field: str
    values: tuple[Value, ...] = attrs.field(converter=_tuple)
    style: Literal["set", "list"] = "set"
    negated: bool = False


@attrs.frozen
class Contains:
    """``"silver" in tags`` / ``"silver" not in tags`` over a string-set field."""

    field: str
    value: str
    negated: bool = False


@attrs.frozen
class HasTags:
    """``tags has any of {…}`` / ``tags has all of {…}``."""

    field: str
    mode: Literal["any", "all"]
    values: tuple[str, ...] = attrs.field(converter=_tuple)


@attrs.frozen
class Presence:
    """``field is present`` (``present=True``) / ``field is missing``; never unknown."""

    field: str
    present: bool


@attrs.frozen
class Within:
    """``field within N unit``: ``at - N unit <= field <= at`` (both ends included)."""

    field: str
    amount: int
    unit: str


@attrs.frozen
class OlderThan:
    """``field older than N unit``: ``field < at - N unit``."""

    field: str
    amount: int
    unit: str


@attrs.frozen
class Before:
    """``field before "2026-12-01"``: strictly earlier than the instant.

    ``text`` is the literal as written (a date means 00:00 in the schema time zone);
    ``instant`` is the resolved aware datetime.
    """

    field: str
    text: str
    instant: datetime = attrs.field(eq=False)


@attrs.frozen
class After:
    """``field after "2026-12-01"``: strictly later than the instant (see :class:`Before`)."""

    field: str
    text: str
    instant: datetime = attrs.field(eq=False)


Node: TypeAlias = (
    "And | Or | Not | Flag | Compare | CompareFields | Member | Contains | HasTags | Presence"
    " | Within | OlderThan | Before | After"
)


#: A clause that reads a field (every node but and/or/not).
Leaf: TypeAlias = (
    "Flag | Compare | CompareFields | Member | Contains | HasTags | Presence"
    " | Within | OlderThan | Before | After"
)


def children(node: Node) -> tuple[Node, ...]:
    """The direct sub-rules of ``node`` (empty for a leaf)."""
    if isinstance(node, And | Or):
        return node.args
    if isinstance(node, Not):
        return (node.arg,)
    return ()


def depth(node: Node) -> int:
    """Nesting depth (a leaf is 1)."""
    kids = children(node)
    return 1 + max((depth(k) for k in kids), default=0)


def fields_of(node: Node) -> Iterator[str]:
    """Every field name the rule reads (with repeats, in text order)."""
    if isinstance(node, And | Or | Not):
        for kid in children(node):
            yield from fields_of(kid)
        return
    yield node.field
    if isinstance(node, CompareFields):
        yield node.other


def format_value(value: Value) -> str:
    """A literal in rule syntax.

    >>> format_value("a\\"b"), format_value(True), format_value(Decimal("1.50")), format_value(-3)
    ('"a\\\\"b"', 'true', '1.50', '-3')
    >>> format_value(Decimal("100")), format_value(Money.of("9.9", "USD"))
    ('100.0', '9.9 USD')
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        text = format(value, "f")
        return text if "." in text else text + ".0"
    amount = format(value.amount, "f")
    return f"{amount} {value.currency}"


def _values(values: tuple[Value, ...], style: str) -> str:
    inner = ", ".join(format_value(v) for v in values)
    return "{" + inner + "}" if style == "set" else "(" + inner + ")"


def _unit(amount: int, unit: str) -> str:
    return unit[:-1] if amount == 1 else unit


def to_text(node: Node) -> str:
    """The canonical text of ``node`` (parsing it gives an equal node)."""
    if isinstance(node, And):
        return " and ".join(_wrap(arg, isinstance(arg, And | Or)) for arg in node.args)
    if isinstance(node, Or):
        return " or ".join(_wrap(arg, isinstance(arg, Or)) for arg in node.args)
    if isinstance(node, Not):
        return "not " + _wrap(node.arg, isinstance(node.arg, And | Or))
    if isinstance(node, Flag):
        return node.field
    if isinstance(node, Compare):
        return f"{node.field} {node.op} {format_value(node.value)}"
    if isinstance(node, CompareFields):
        return f"{node.field} {node.op} {node.other}"
    if isinstance(node, Member):
        op = "not in" if node.negated else "in"
        return f"{node.field} {op} {_values(node.values, node.style)}"
    if isinstance(node, Contains):
        op = "not in" if node.negated else "in"
        return f"{format_value(node.value)} {op} {node.field}"
    if isinstance(node, HasTags):
        return f"{node.field} has {node.mode} of {_values(node.values, 'set')}"
    if isinstance(node, Presence):
        return f"{node.field} is {'present' if node.present else 'missing'}"
    if isinstance(node, Within):
        return f"{node.field} within {node.amount} {_unit(node.amount, node.unit)}"
    if isinstance(node, OlderThan):
        return f"{node.field} older than {node.amount} {_unit(node.amount, node.unit)}"
    if isinstance(node, Before):
        return f"{node.field} before {format_value(node.text)}"
    return f"{node.field} after {format_value(node.text)}"


def _wrap(node: Node, parens: bool) -> str:
    text = to_text(node)
    return f"({text})" if parens else text
