"""Type checking of rule leaves against a :class:`~cardbenefits.rules.schema.FieldSchema`.

The parser and the JSON loader call :func:`check_leaf` for every leaf they build, with
``where`` set to the position (``line:column``) or the JSON path, so an error points at
the offending clause.

>>> from cardbenefits.rules.ast import Compare
>>> from cardbenefits.rules.schema import default_schema
>>> check_leaf(Compare("lifecycle", "==", "dormnt"), default_schema(), "1:1")
Traceback (most recent call last):
  ...
cardbenefits.errors.RuleTypeError: 1:14: 'dormnt' is not a value of enum field 'lifecycle', did you mean ...
"""

from __future__ import annotations

import difflib
from decimal import Decimal
from typing import Final

from cardbenefits.errors import RuleTypeError
from cardbenefits.money import Money
from cardbenefits.rules.ast import (
    UNITS,
    After,
    Before,
    Compare,
    CompareFields,
    Contains,
    Flag,
    HasTags,
    Leaf,
    Member,
    Node,
    OlderThan,
    Presence,
    Value,
    Within,
)
from cardbenefits.rules.schema import FieldSchema, FieldSpec, FieldType

__all__ = ["MAX_DURATION", "check_leaf", "kind_of", "lookup"]

_ORDERING = ("<", "<=", ">", ">=")

#: Longest duration per unit (a century), so window arithmetic cannot overflow.
MAX_DURATION: Final = {
    "minutes": 60 * 24 * 36_525,
    "hours": 24 * 36_525,
    "days": 36_525,
    "weeks": 5_218,
    "months": 1_200,
    "years": 100,
}


def kind_of(value: Value) -> str:
    """The literal's kind as named in error messages.

    >>> kind_of(True), kind_of(3), kind_of(Decimal("1.5")), kind_of("x"), kind_of(Money.of(1))
    ('bool', 'int', 'decimal', 'str', 'money')
    """
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, Decimal):
        return "decimal"
    if isinstance(value, str):
        return "str"
    return "money"


def lookup(schema: FieldSchema, name: str, where: str, *, allow_group: bool = False) -> FieldSpec | None:
    """The spec of ``name``, or ``None`` for a group when ``allow_group``; else RuleTypeError."""
    if name in schema:
        return schema[name]
    if allow_group and name in schema.groups:
        return None
    hint = schema.suggest(name)
    extra = f", did you mean '{hint}'?" if hint else ""
    if name in schema.groups:
        extra = f": '{name}' is a group of fields; name one of its fields or test '{name} is present'"
    raise RuleTypeError(f"unknown field '{name}'{extra}", path=where, value=name)


def _shift(where: str, columns: int) -> str:
    """Move a ``line:column`` position right by ``columns`` (JSON paths are kept)."""
    line, sep, column = where.partition(":")
    if sep and line.isdigit() and column.isdigit():
        return f"{line}:{int(column) + columns}"
    return where


def _check_value(name: str, spec: FieldSpec, op: str, value: Value, where: str) -> None:
    kind = kind_of(value)
    ftype = spec.type
    if ftype is FieldType.DATETIME:
        raise RuleTypeError(
            f"'{name}' is a datetime: test it with 'within N days', 'older than N months', "
            "'before \"YYYY-MM-DD\"' or 'after \"YYYY-MM-DD\"'",
            path=where,
            value=value,
        )
    if ftype is FieldType.STRING_SET:
        raise RuleTypeError(
            f"'{name}' is a set of strings: test it with '\"x\" in {name}' or '{name} has any of {{…}}'",
            path=where,
            value=value,
        )
    if spec.is_numeric:
        if kind not in ("int", "decimal"):
            raise RuleTypeError(
                f"'{name}' is {ftype.value}, cannot compare it with {kind}", path=where, value=value
            )
        return
    if ftype is FieldType.MONEY:
        if not isinstance(value, Money):
            raise RuleTypeError(
                f"'{name}' is money: write the amount with its currency, e.g. 3000 {spec.currency} or ¥3000",
                path=where,
                value=value,
            )
        if value.currency != spec.currency:
            raise RuleTypeError(
                f"'{name}' is {spec.currency} money, cannot compare it with {value.currency}",
                path=where,
                value=value,
            )
        return
    if op in _ORDERING:
        raise RuleTypeError(
            f"'{name}' is {ftype.value}: only ==, != and in apply, not {op}", path=where, value=value
        )
    if ftype is FieldType.BOOL:
        if kind != "bool":
            raise RuleTypeError(f"'{name}' is bool, cannot compare it with {kind}", path=where, value=value)
        return
    if kind != "str":
        raise RuleTypeError(
            f"'{name}' is {ftype.value}, cannot compare it with {kind}", path=where, value=value
        )
    if ftype is FieldType.ENUM and value not in spec.choices:
        close = difflib.get_close_matches(str(value), spec.choices, n=1, cutoff=0.6)
        hint = f", did you mean '{close[0]}'?" if close else f"; allowed: {', '.join(spec.choices)}"
        raise RuleTypeError(f"'{value}' is not a value of enum field '{name}'{hint}", path=where, value=value)


def _value_where(where: str, node: Node) -> str:
    # Point at the literal for a "field op value" clause typed in text.
    if isinstance(node, Compare):
        return _shift(where, len(node.field) + len(node.op) + 2)
    return where


def check_leaf(node: Leaf, schema: FieldSchema, where: str) -> None:
    """Raise :class:`~cardbenefits.errors.RuleTypeError` if the leaf does not fit ``schema``."""
    if isinstance(node, Presence):
        lookup(schema, node.field, where, allow_group=True)
        return
    spec = lookup(schema, node.field, where)
    assert spec is not None
    name = node.field
    if isinstance(node, Flag):
        if spec.type is not FieldType.BOOL:
            raise RuleTypeError(
                f"'{name}' is {spec.type.value}, not bool: it cannot stand alone as a condition",
                path=where,
                value=name,
            )
    elif isinstance(node, Compare):
        _check_value(name, spec, node.op, node.value, _value_where(where, node))
    elif isinstance(node, CompareFields):
        other = lookup(schema, node.other, where)
        assert other is not None
        _check_fields(name, spec, node.op, node.other, other, where)
    elif isinstance(node, Member):
        if not (spec.is_numeric or spec.is_text):
            raise RuleTypeError(
                f"'{name}' is {spec.type.value}: 'in' lists apply to str, enum, int and decimal fields",
                path=where,
                value=name,
            )
        for value in node.values:
            _check_value(name, spec, "==", value, where)
    elif isinstance(node, Contains | HasTags):
        if spec.type is not FieldType.STRING_SET:
            raise RuleTypeError(
                f"'{name}' is {spec.type.value}, not a set of strings", path=where, value=name
            )
        values = (node.value,) if isinstance(node, Contains) else node.values
        for value in values:
            if not isinstance(value, str):
                raise RuleTypeError(f"'{name}' holds strings, not {kind_of(value)}", path=where, value=value)
    elif isinstance(node, Within | OlderThan | Before | After):
        if spec.type is not FieldType.DATETIME:
            raise RuleTypeError(
                f"'{name}' is {spec.type.value}: within/older than/before/after need a datetime field",
                path=where,
                value=name,
            )
        if isinstance(node, Within | OlderThan):
            if isinstance(node.amount, bool) or not isinstance(node.amount, int) or node.amount < 0:
                raise RuleTypeError("a duration is a whole number >= 0", path=where, value=node.amount)
            if node.unit not in UNITS:
                raise RuleTypeError(
                    f"unknown unit; use one of {', '.join(UNITS)}", path=where, value=node.unit
                )
            if node.amount > MAX_DURATION[node.unit]:
                raise RuleTypeError(
                    f"at most {MAX_DURATION[node.unit]} {node.unit}", path=where, value=node.amount
                )
    else:  # pragma: no cover - the node union is closed
        raise RuleTypeError("not a rule clause", path=where, value=node)


def _check_fields(name: str, spec: FieldSpec, op: str, other_name: str, other: FieldSpec, where: str) -> None:
    ok = False
    if spec.is_numeric and other.is_numeric:
        ok = True
    elif spec.type is FieldType.MONEY and other.type is FieldType.MONEY:
        if spec.currency != other.currency:
            raise RuleTypeError(
                f"'{name}' is {spec.currency} money but '{other_name}' is {other.currency}",
                path=where,
                value=other_name,
            )
        ok = True
    elif spec.type is FieldType.DATETIME and other.type is FieldType.DATETIME:
        ok = True
    elif (spec.is_text and other.is_text) or (spec.type is FieldType.BOOL and other.type is FieldType.BOOL):
        ok = op not in _ORDERING
    if not ok:
        raise RuleTypeError(
            f"cannot compare '{name}' ({spec.type.value}) {op} '{other_name}' ({other.type.value})",
            path=where,
            value=other_name,
        )
