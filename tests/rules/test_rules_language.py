"""Example tests of the rule language: syntax, types, errors, semantics, safety."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pendulum
import pytest

from cardbenefits.errors import RuleError, RuleSyntaxError, RuleTypeError
from cardbenefits.money import Money
from cardbenefits.rules import FieldSpec, FieldType, Rule, compile_rule, default_schema, parse, python_source
from cardbenefits.rules.ast import And, Compare, Contains, Member, Not, Presence

AT = pendulum.datetime(2026, 11, 20, 12, tz="Asia/Shanghai")

RECORD = {
    "age": 61,
    "tags": frozenset({"silver", "gamer"}),
    "region": "SH",
    "delinquent": False,
    "lifecycle": "dormant",
    "card": {"tier": "gold", "approved_at": AT.subtract(days=10), "activated_at": AT.subtract(months=20)},
    "rfm": {"recency_days": 120, "frequency": 3, "monetary": Money.of(800), "score": 2},
    "spend": {"month": Money.of("2680"), "campaign": Money.of(5)},
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('age >= 60 and "silver" in tags and region in {"SH", "BJ"}', True),
        ('card.tier in ("gold", "platinum") and not delinquent and rfm.recency_days <= 90', False),
        ('card.tier in ("gold", "platinum") and not delinquent and rfm.recency_days <= 120', True),
        ("spend.month >= 3000 CNY", False),
        ("spend.month >= ¥2680", True),
        ("spend.month > ￥2,679.99", True),
        ("spend.month == 2680元", True),
        ("card.approved_at within 30 days", True),
        ("card.approved_at within 1 week", False),
        ("card.activated_at older than 18 months", True),
        ("card.activated_at older than 2 years", False),
        ('card.approved_at before "2026-12-01"', True),
        ('card.approved_at after "2026-11-10T12:00:00+08:00"', False),
        ('tags has any of {"gamer", "anime"}', True),
        ('tags has all of {"gamer", "anime"}', False),
        ('"anime" not in tags', True),
        ("employer_group is missing and age is present", True),
        ("card is present and segment is missing", True),
        ('lifecycle in {"dormant", "win_back"}', True),
        ('region not in ["SH"]', False),
        ("rfm.frequency == 3 and rfm.score != 3", True),
        ("spend.month >= spend.campaign", True),
        ("not (age < 60 or delinquent)", True),
        ("age ≥ 61 and age ≤ 61 and age ≠ 60", True),
        ("delinquent == false", True),
    ],
)
def test_examples(text: str, expected: bool) -> None:
    rule = parse(text)
    assert rule.evaluate(RECORD, AT) is expected
    assert compile_rule(rule)(RECORD, AT) is expected
    assert parse(rule.text) == rule
    assert parse(rule.canonical) == rule
    assert Rule.from_json(rule.to_json()) == rule


def test_precedence_and_flattening() -> None:
    rule = parse("age >= 1 or age >= 2 and not delinquent")
    assert rule.canonical == "age >= 1 or age >= 2 and not delinquent"
    assert parse("(segment is missing and age is present) and tags is present").node == And(
        (And((Presence("segment", False), Presence("age", True))), Presence("tags", True))
    )
    assert parse("not not delinquent").node == Not(Not(parse("delinquent").node))


def test_ast_shapes() -> None:
    node = parse('age >= 60 and "silver" in tags and region in {"SH", "BJ"}').node
    assert node == And((Compare("age", ">=", 60), Contains("tags", "silver"), Member("region", ("SH", "BJ"))))
    assert parse("spend.month >= 3000.50 CNY").node == Compare("spend.month", ">=", Money.of("3000.50"))
    assert parse("rfm.score >= 2.5").node == Compare("rfm.score", ">=", Decimal("2.5"))


# -- three-valued logic --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "record", "expected"),
    [
        ("age >= 60", {}, False),
        ("not (age >= 60)", {}, False),  # unknown stays unknown under not
        ('age >= 60 or region == "SH"', {"region": "SH"}, True),  # true or unknown = true
        ('age >= 60 and region == "SH"', {"region": "BJ"}, False),
        ('not (age >= 60 and region == "SH")', {"region": "BJ"}, True),  # false and unknown = false
        ('card.tier == "gold"', {"card": None}, False),
        ('card.tier != "gold"', {"card": {}}, False),
        ("card is missing", {"card": {}}, True),
        ("card is missing", {"card": None}, True),
        ("age is missing", {"age": None}, True),
        ("not (age is missing)", {"age": 0}, True),
    ],
)
def test_missing_values(text: str, record: dict[str, object], expected: bool) -> None:
    assert parse(text).evaluate(record, AT) is expected


# -- errors ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "error", "path", "fragment"),
    [
        ("rfm.recncy_days <= 90", RuleTypeError, "1:1", "did you mean 'rfm.recency_days'?"),
        ('lifecycle == "dormnt"', RuleTypeError, "1:14", "did you mean 'dormant'?"),
        ('lifecycle in {"new", "actve"}', RuleTypeError, "1:1", "did you mean 'active'?"),
        ("spend.month >= 3000", RuleTypeError, "1:16", "write the amount with its currency"),
        ("spend.month >= 30 USD", RuleTypeError, "1:16", "CNY money, cannot compare it with USD"),
        ("age >= ¥3", RuleTypeError, "1:8", "cannot compare it with money"),
        ('region < "SH"', RuleTypeError, "1:10", "only ==, != and in apply"),
        ("age", RuleTypeError, "1:1", "cannot stand alone"),
        ("card == 1", RuleTypeError, "1:1", "is a group of fields"),
        ('tags == "x"', RuleTypeError, "1:9", "set of strings"),
        ("card.approved_at >= 3", RuleTypeError, "1:21", "is a datetime"),
        ("age within 3 days", RuleTypeError, "1:1", "need a datetime field"),
        ("card.approved_at within 3 fortnights", RuleSyntaxError, "1:27", "a unit"),
        ("card.approved_at within 101 years", RuleTypeError, "1:1", "at most 100 years"),
        ('card.approved_at before "2026-13-01"', RuleTypeError, "1:25", "not a valid date"),
        ("age >= 60 and\n    (delinquent or", RuleSyntaxError, "2:19", "found the end of the rule"),
        ("age >= 60 delinquent", RuleSyntaxError, "1:11", "'and', 'or'"),
        ("age >= 60 $", RuleSyntaxError, "1:11", "unexpected character"),
        ('"silver" in age', RuleTypeError, "1:1", "not a set of strings"),
        ("age in 3", RuleSyntaxError, "1:8", "a set {…} or a list (…)"),
        ("age >= 60 and\n  rfm.frequncy > 2", RuleTypeError, "2:3", "did you mean 'rfm.frequency'?"),
        ('region == "unterminated', RuleSyntaxError, "1:11", "unexpected character"),
        ('region == "bad \\q escape"', RuleSyntaxError, "1:11", "invalid string literal"),
        ("spend.month >= spend.campaign and age > rfm.monetary", RuleTypeError, "1:35", "cannot compare"),
        ("(" * 60 + "age > 1" + ")" * 60, RuleSyntaxError, "1:49", "deeper than"),
        ("age > " + "9" * 50, RuleSyntaxError, "1:7", "number too long"),
    ],
)
def test_errors_point_at_the_problem(text: str, error: type[RuleError], path: str, fragment: str) -> None:
    with pytest.raises(error) as info:
        parse(text)
    assert info.value.path == path
    assert fragment in info.value.message


def test_error_string_names_path_and_value() -> None:
    with pytest.raises(RuleTypeError, match=r"^1:1: unknown field 'rfm.recncy_days', did you mean "):
        parse("rfm.recncy_days <= 90")


# -- schema ------------------------------------------------------------------------------
def test_catalog_schema_extension() -> None:
    schema = default_schema().extend(
        {"spend.week": FieldType.MONEY, "risk": FieldSpec.enum("low", "high"), "ratio": "decimal"}
    )
    rule = parse('spend.week >= ¥100 and risk == "low" and ratio > 0.5', schema)
    record = {"spend": {"week": Money.of(150)}, "risk": "low", "ratio": Decimal("0.75")}
    assert rule.evaluate(record, AT)
    with pytest.raises(RuleTypeError):
        parse("spend.week >= ¥100")  # not in the default schema
    with pytest.raises(RuleTypeError):
        default_schema().extend({"card.tier.code": FieldType.STR})  # under a field
    with pytest.raises(RuleTypeError):
        default_schema().extend({"x": "float"})
    with pytest.raises(RuleTypeError):
        FieldSpec(FieldType.STR, currency="CNY")
    usd = default_schema().extend({"fx": FieldSpec.money("USD")})
    assert parse("fx >= 5 USD", usd).evaluate({"fx": Money.of(6, "USD")}, AT)


# -- evaluation errors are RuleErrors -------------------------------------------------------
def test_bad_record_values_raise_rule_error() -> None:
    with pytest.raises(RuleError, match="record does not match the field schema"):
        parse("age >= 60").evaluate({"age": "sixty"}, AT)
    with pytest.raises(RuleError):
        parse("spend.month >= ¥1").evaluate({"spend": {"month": Money.of(5, "USD")}}, AT)
    with pytest.raises(RuleError):
        parse('card.tier == "gold"').evaluate({"card": "gold"}, AT)
    with pytest.raises(RuleError, match="aware"):
        parse("age >= 60").evaluate({"age": 70}, datetime(2026, 1, 1))
    with pytest.raises(RuleError):
        parse("age >= 60").evaluate([("age", 70)], AT)  # type: ignore[arg-type]


def test_stdlib_datetimes_and_month_arithmetic() -> None:
    at = datetime(2026, 3, 31, 12, tzinfo=UTC)
    rule = parse("card.approved_at within 1 month")
    assert (
        rule.evaluate({"card": {"approved_at": at - timedelta(days=31)}}, at) is True
    )  # Feb 28 is the start
    assert rule.evaluate({"card": {"approved_at": at - timedelta(days=32)}}, at) is False
    assert rule.evaluate({"card": {"approved_at": at + timedelta(seconds=1)}}, at) is False  # future


# -- safety ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('echo hi')",
        "age.__class__ == 1",
        "card.__dict__ is present",
        "__builtins__ is present",
        "age >= 60 or exec",
    ],
)
def test_code_is_not_a_rule(text: str) -> None:
    with pytest.raises(RuleError):
        parse(text)


def test_literals_stay_data_in_generated_code() -> None:
    evil = "'); import os; os.system('x') #\n\""
    literal = json.dumps(evil)
    rule = parse(f"region == {literal} or {literal} in tags")
    source = python_source(rule.node)
    assert "import os" not in source.replace(repr(evil), "")
    assert rule.evaluate({"region": evil}, AT)
    assert not rule.evaluate({"region": "SH", "tags": frozenset()}, AT)


def test_window_start_cache_follows_the_instant() -> None:
    check = compile_rule(parse("card.approved_at within 30 days and card.activated_at older than 1 month"))
    record = {"card": {"approved_at": AT.subtract(days=20), "activated_at": AT.subtract(days=40)}}
    assert check(record, AT) is True
    assert check(record, AT.add(days=15)) is False  # approved 35 days before the later instant
    assert check(record, AT.subtract(days=15)) is False  # activated only 25 days before
    assert check(record, AT) is True
