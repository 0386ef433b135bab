"""Hypothesis strategies for rule ASTs and customer records over a test schema."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from hypothesis import strategies as st

from cardbenefits.money import Money
from cardbenefits.rules import FieldSpec, FieldType, default_schema
from cardbenefits.rules.ast import (
    COMPARISONS,
    UNITS,
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
)
from cardbenefits.rules.parser import parse_instant

SCHEMA = default_schema().extend(
    {
        "score.ratio": FieldType.DECIMAL,
        "score.grade": FieldSpec.enum("a", "b", "c"),
        "vip": FieldType.BOOL,
    }
)
AT = pendulum.datetime(2026, 6, 15, 12, tz="Asia/Shanghai")

WORDS = ["a", "b", "SH", "BJ", "gold", "silver", "gamer"]
words = st.one_of(st.sampled_from(WORDS), st.text(max_size=6))
ints = st.integers(min_value=-5, max_value=120)
decimals = st.decimals(min_value=-100, max_value=100, places=2, allow_nan=False, allow_infinity=False)
moneys = st.builds(Money.of, st.decimals(min_value=-50, max_value=5000, places=2))
numbers = st.one_of(ints, decimals)
DATES = ["2026-06-01", "2026-06-15", "2026-06-15T12:00:00+08:00", "2025-12-31T23:59:59Z", "2024-02-29"]


def fields_of_type(*types: FieldType) -> list[str]:
    return sorted(name for name, spec in SCHEMA.items() if spec.type in types)


def leaf(name: str) -> st.SearchStrategy[Node]:
    spec = SCHEMA[name]
    t = spec.type
    options: list[st.SearchStrategy[Node]] = [st.builds(Presence, st.just(name), st.booleans())]
    if spec.is_numeric:
        options += [
            st.builds(Compare, st.just(name), st.sampled_from(COMPARISONS), numbers),
            st.builds(
                Member,
                st.just(name),
                st.lists(numbers, max_size=4),
                st.sampled_from(["set", "list"]),
                st.booleans(),
            ),
            st.builds(
                CompareFields,
                st.just(name),
                st.sampled_from(COMPARISONS),
                st.sampled_from(fields_of_type(FieldType.INT, FieldType.DECIMAL)),
            ),
        ]
    elif t is FieldType.MONEY:
        options += [
            st.builds(Compare, st.just(name), st.sampled_from(COMPARISONS), moneys),
            st.builds(
                CompareFields,
                st.just(name),
                st.sampled_from(COMPARISONS),
                st.sampled_from(fields_of_type(FieldType.MONEY)),
            ),
        ]
    elif t is FieldType.STR:
        options += [
            st.builds(Compare, st.just(name), st.sampled_from(["==", "!="]), words),
            st.builds(
                Member,
                st.just(name),
                st.lists(words, max_size=4),
                st.sampled_from(["set", "list"]),
                st.booleans(),
            ),
        ]
    elif t is FieldType.ENUM:
        choice = st.sampled_from(spec.choices)
        options += [
            st.builds(Compare, st.just(name), st.sampled_from(["==", "!="]), choice),
            st.builds(
                Member,
                st.just(name),
                st.lists(choice, max_size=3),
                st.sampled_from(["set", "list"]),
                st.booleans(),
            ),
        ]
    elif t is FieldType.BOOL:
        options += [
            st.builds(Flag, st.just(name)),
            st.builds(Compare, st.just(name), st.sampled_from(["==", "!="]), st.booleans()),
        ]
    elif t is FieldType.DATETIME:
        amount = st.integers(min_value=0, max_value=40)
        options += [
            st.builds(Within, st.just(name), amount, st.sampled_from(UNITS)),
            st.builds(OlderThan, st.just(name), amount, st.sampled_from(UNITS)),
            st.sampled_from(DATES).map(lambda d: Before(name, d, parse_instant(d))),
            st.sampled_from(DATES).map(lambda d: After(name, d, parse_instant(d))),
        ]
    elif t is FieldType.STRING_SET:
        options += [
            st.builds(Contains, st.just(name), words, st.booleans()),
            st.builds(HasTags, st.just(name), st.sampled_from(["any", "all"]), st.lists(words, max_size=3)),
        ]
    return st.one_of(options)


leaves: st.SearchStrategy[Node] = st.one_of(
    st.sampled_from(sorted(SCHEMA)).flatmap(leaf),
    st.builds(Presence, st.sampled_from(sorted(SCHEMA.groups)), st.booleans()),
)


def _extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    group = st.lists(children, min_size=2, max_size=4).map(tuple)
    return st.one_of(st.builds(And, group), st.builds(Or, group), st.builds(Not, children))


nodes: st.SearchStrategy[Node] = st.recursive(leaves, _extend, max_leaves=12)


def _value(name: str) -> st.SearchStrategy[Any]:
    spec = SCHEMA[name]
    t = spec.type
    if t is FieldType.INT:
        return ints
    if t is FieldType.DECIMAL:
        return decimals
    if t is FieldType.MONEY:
        return moneys
    if t is FieldType.STR:
        return words
    if t is FieldType.ENUM:
        return st.sampled_from(spec.choices)
    if t is FieldType.BOOL:
        return st.booleans()
    if t is FieldType.DATETIME:
        offsets = st.one_of(
            st.integers(min_value=-2000, max_value=200).map(lambda d: timedelta(days=d)),
            st.integers(min_value=-100_000, max_value=100).map(lambda m: timedelta(minutes=m)),
        )
        return offsets.map(lambda off: AT + off)
    return st.frozensets(st.sampled_from(WORDS), max_size=4)


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for name in sorted(SCHEMA):
        choice = draw(st.sampled_from(["value", "value", "value", "none", "absent"]))
        if choice == "absent":
            continue
        value = None if choice == "none" else draw(_value(name))
        parts = name.split(".")
        target = record
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    for group in ("card", "rfm", "spend", "score"):
        fate = draw(st.sampled_from(["keep", "keep", "keep", "none", "absent", "empty"]))
        if fate == "none":
            record[group] = None
        elif fate == "absent":
            record.pop(group, None)
        elif fate == "empty":
            record[group] = {}
    return record
