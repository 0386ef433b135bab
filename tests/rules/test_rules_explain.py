"""Explanation tests: structure, decisive clauses, gaps, and golden renderings in zh_CN and en.

Regenerate the golden files after a deliberate wording change with
``CARDBENEFITS_UPDATE_GOLDEN=1 pytest tests/rules/test_rules_explain.py`` and review the diff.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pendulum
import pytest

from cardbenefits.money import Money
from cardbenefits.rules import Truth, default_schema, explain, parse

GOLDEN = Path(__file__).parent / "golden"
AT = pendulum.datetime(2026, 11, 20, 12, tz="Asia/Shanghai")

CUSTOMER = {
    "age": 34,
    "tags": frozenset({"gamer", "new_city"}),
    "region": "SH",
    "delinquent": False,
    "lifecycle": "dormant",
    "card": {"tier": "gold", "approved_at": AT.subtract(days=45), "activated_at": AT.subtract(months=19)},
    "rfm": {"recency_days": 120, "frequency": 2, "monetary": Money.of("880.50"), "score": 2},
    "spend": {"month": Money.of("2680"), "campaign": Money.of("0")},
}

CASES = {
    "activation_gap": "spend.month >= ¥3000 and card.approved_at within 60 days",
    "win_back": (
        'card.tier in ("gold", "platinum") and not delinquent and rfm.recency_days <= 90\n'
        '  and lifecycle in {"dormant", "win_back"}'
    ),
    "missing_field": 'age >= 60 and "silver" in tags and region in {"SH", "BJ"} or segment == "silver"',
    "tags_and_dates": (
        'tags has any of {"gamer", "anime"} and tags has all of {"gamer", "vip"}'
        ' or card.activated_at older than 18 months and card.approved_at before "2026-12-01"'
    ),
    "eligible": "rfm.monetary > 800 CNY and rfm.frequency >= 2 and employer_group is missing",
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_golden(name: str, locale: str) -> None:
    text = explain(parse(CASES[name]), CUSTOMER, AT).render(locale) + "\n"
    path = GOLDEN / f"{name}.{locale}.txt"
    if os.environ.get("CARDBENEFITS_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_gap_and_decisive_clauses() -> None:
    result = explain(parse(CASES["activation_gap"]), CUSTOMER, AT)
    assert not result.eligible
    assert result.value is Truth.FALSE
    spend, window = result.root.children
    assert spend.gap == Money.of(320)
    assert spend.decisive
    assert spend.value is Truth.FALSE
    assert window.value is Truth.TRUE
    assert not window.decisive
    assert [c.text for c in result.decisive] == ["spend.month >= 3000 CNY"]
    assert "¥320.00" in result.render("zh_CN")


def test_unknown_names_the_missing_field() -> None:
    result = explain(parse('segment == "silver" and age >= 18'), CUSTOMER, AT)
    assert result.value is Truth.UNKNOWN
    assert not result.eligible
    assert result.missing == ("segment",)
    assert "segment" in result.render("en").splitlines()[0]


def test_strict_integer_gap_and_upper_bounds() -> None:
    schema = default_schema().extend({"ratio": "decimal"})
    record = {"age": 17, "ratio": Decimal("0.75"), "rfm": {"recency_days": 120}}
    gaps = [
        c.gap
        for c in explain(
            parse("age > 17 or ratio >= 0.9 or rfm.recency_days < 90", schema), record, AT
        ).root.children
    ]
    assert gaps == [1, Decimal("0.15"), 31]


def test_or_true_marks_only_true_children() -> None:
    result = explain(parse("age >= 18 or delinquent"), CUSTOMER, AT)
    assert [c.decisive for c in result.root.children] == [True, False]
