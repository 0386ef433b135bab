"""compose(): every constraint type, their combinations, and structured refusals."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardbenefits.catalog import (
    BenefitModule,
    BundleSelection,
    CardProduct,
    CompositionRefusal,
    ModulePrice,
    ViolationCode,
    compose,
)
from cardbenefits.catalog.eligibility import AT, Eligibility
from cardbenefits.facts import CardHolding, Customer
from cardbenefits.i18n import LocalizedText
from cardbenefits.money import Money
from cardbenefits.rules import default_schema

V = ViolationCode


def text(value: str) -> LocalizedText:
    return LocalizedText.from_value(value)


def module(mid: str, **kwargs: Any) -> BenefitModule:
    kwargs.setdefault("benefits", (f"b_{mid}",))
    return BenefitModule(id=mid, name=text(mid), **kwargs)


def rule(source: str) -> Eligibility:
    return Eligibility.parse(source, default_schema())


PRODUCT = CardProduct(
    id="p",
    name=text("卡"),
    tiers=("gold", "platinum"),
    core=("core_cashback",),
    slots=3,
    points_budget=5000,
    max_shared=1,
    modules=(
        module("a", exclusive_group="g", price=ModulePrice(points=2000), shareable=True),
        module("b", exclusive_group="g", price=ModulePrice(points=1000)),
        module("c", requires=("a",), price=ModulePrice(fee=Money.of("99"))),
        module("d", segments=("gen_z",)),
        module("e", tiers=("platinum",), shareable=True),
        module("f", eligibility=rule("age >= 60"), price=ModulePrice(points=3000)),
        module("h", requires=("c",), price=ModulePrice(fee=Money.of("1.50"))),
    ),
)

RECORD: dict[str, Any] = {
    "id": "c1",
    "segment": "gen_z",
    "age": 25,
    "tags": frozenset(),
    "card": {"product": "p", "tier": "gold", "supplementary": False},
}


def refused(modules: list[str], record: dict[str, Any] | None = None, **kwargs: Any) -> CompositionRefusal:
    result = compose(PRODUCT, record or RECORD, modules, AT, **kwargs)
    assert isinstance(result, CompositionRefusal), result
    assert result.ok is False
    return result


def test_a_valid_bundle() -> None:
    result = compose(PRODUCT, RECORD, ["c", "a", "d"], AT, shared=["a"])
    assert isinstance(result, BundleSelection)
    assert result.ok is True
    assert result.modules == ("a", "c", "d")  # product order
    assert result.shared == ("a",)
    assert result.points == 2000
    assert result.fee == Money.of("99")
    assert result.benefits == ("core_cashback", "b_a", "b_c", "b_d")
    assert result.slots_used == 3
    assert result.customer == "c1"


def test_empty_bundle_is_valid_and_costs_nothing() -> None:
    result = compose(PRODUCT, RECORD, [], AT)
    assert isinstance(result, BundleSelection)
    assert result.fee == Money.zero()
    assert result.benefits == ("core_cashback",)


@pytest.mark.parametrize(
    ("modules", "code", "involved"),
    [
        (["zz"], V.UNKNOWN_MODULE, ("zz",)),
        (["d", "d"], V.DUPLICATE_MODULE, ("d",)),
        (["a", "c", "d", "h"], V.SLOTS_EXCEEDED, ("a", "c", "d", "h")),
        (["a", "b"], V.EXCLUSIVE_GROUP, ("a", "b")),
        (["c"], V.MISSING_PREREQUISITE, ("c", "a")),
        (["e"], V.TIER_RESTRICTED, ("e",)),
    ],
)
def test_each_constraint(modules: list[str], code: ViolationCode, involved: tuple[str, ...]) -> None:
    result = refused(modules)
    assert code in result.codes
    violation = next(v for v in result.violations if v.code is code)
    assert violation.modules == involved
    assert violation.message.get("en") != violation.message.get("zh_CN")
    assert violation.message.get("zh_CN")


def test_points_budget() -> None:
    product = CardProduct(
        id="p",
        name=text("卡"),
        points_budget=2500,
        modules=(module("x", price=ModulePrice(points=2000)), module("y", price=ModulePrice(points=1000))),
    )
    result = compose(product, RECORD, ["x", "y"], AT)
    assert isinstance(result, CompositionRefusal)
    [violation] = result.violations
    assert violation.code is V.POINTS_BUDGET_EXCEEDED
    assert (violation.limit, violation.actual) == (2500, 3000)
    assert "3000" in violation.message.get("en")


def test_segment_restriction_and_unknown_segment() -> None:
    result = refused(["d"], {**RECORD, "segment": "silver"})
    assert result.codes == (V.SEGMENT_RESTRICTED,)
    result = refused(["d"], {**RECORD, "segment": None})
    assert "unknown" in result.violations[0].message.get("en")


def test_tier_restriction_without_a_card() -> None:
    assert refused(["e"], {**RECORD, "card": None}).codes == (V.TIER_RESTRICTED,)


def test_eligibility_violation_carries_the_explanation() -> None:
    result = refused(["f"])
    [violation] = result.violations
    assert violation.code is V.NOT_ELIGIBLE
    assert violation.explanation is not None
    assert violation.explanation.eligible is False
    assert "age" in violation.render("en")
    assert "age >= 60" in violation.message.get("zh_CN")


def test_sharing_constraints() -> None:
    assert refused(["a", "d"], shared=["d"]).codes == (V.NOT_SHAREABLE,)
    assert refused(["d"], shared=["a"]).codes == (V.SHARED_NOT_SELECTED,)
    result = refused(["a", "e"], {**RECORD, "card": {"product": "p", "tier": "platinum"}}, shared=["a", "e"])
    assert result.codes == (V.SHARED_LIMIT_EXCEEDED,)
    assert result.violations[0].modules == ("a", "e")


def test_supplementary_cards_cannot_choose_and_the_card_must_match() -> None:
    card = {"product": "p", "tier": "gold", "supplementary": True}
    assert refused(["d"], {**RECORD, "card": card}).codes == (V.SUPPLEMENTARY_CARD,)
    assert isinstance(compose(PRODUCT, {**RECORD, "card": card}, [], AT), BundleSelection)
    other = {"product": "other", "tier": "gold", "supplementary": False}
    assert refused([], {**RECORD, "card": other}).codes == (V.WRONG_PRODUCT,)


def test_every_violation_is_listed_not_only_the_first() -> None:
    record = {**RECORD, "segment": "silver", "age": 30}
    result = refused(["a", "b", "c", "d", "e", "f", "h", "zz"], record, shared=["b", "zz"])
    assert set(result.codes) == {
        V.UNKNOWN_MODULE,
        V.SLOTS_EXCEEDED,
        V.POINTS_BUDGET_EXCEEDED,
        V.EXCLUSIVE_GROUP,
        V.SEGMENT_RESTRICTED,
        V.TIER_RESTRICTED,
        V.NOT_ELIGIBLE,
        V.NOT_SHAREABLE,
        V.SHARED_NOT_SELECTED,
        V.SHARED_LIMIT_EXCEEDED,
    }
    assert "\n" in result.render("en")


def test_with_a_customer_fact_uses_the_card_of_the_product() -> None:
    other = CardHolding("k0", "other", "standard", "2026-01-01T00:00:00+08:00")
    mine = CardHolding("k1", "p", "platinum", "2026-10-01T00:00:00+08:00")
    customer = Customer("c9", "person9", segment="gen_z", age=61, cards=(other, mine))
    result = compose(PRODUCT, customer, ["e", "f"], AT)
    assert isinstance(result, BundleSelection)
    assert result.customer == "c9"


# -- a property: the refusal lists exactly the independently computed violations ----------------
def expected_codes(modules: list[str], record: dict[str, Any]) -> set[ViolationCode]:
    known = [m for m in modules if PRODUCT.has_module(m)]
    chosen = set(known)
    codes: set[ViolationCode] = set()
    if len(known) != len(modules):
        codes.add(V.UNKNOWN_MODULE)
    if len(chosen) != len(known):
        codes.add(V.DUPLICATE_MODULE)
    if PRODUCT.slots is not None and len(chosen) > PRODUCT.slots:
        codes.add(V.SLOTS_EXCEEDED)
    points = sum(PRODUCT.module(m).price.points for m in chosen)
    if PRODUCT.points_budget is not None and points > PRODUCT.points_budget:
        codes.add(V.POINTS_BUDGET_EXCEEDED)
    groups = [PRODUCT.module(m).exclusive_group for m in chosen if PRODUCT.module(m).exclusive_group]
    if len(groups) != len(set(groups)):
        codes.add(V.EXCLUSIVE_GROUP)
    for m in chosen:
        mod = PRODUCT.module(m)
        if not set(mod.requires) <= chosen:
            codes.add(V.MISSING_PREREQUISITE)
        if mod.segments and record["segment"] not in mod.segments:
            codes.add(V.SEGMENT_RESTRICTED)
        if mod.tiers and record["card"]["tier"] not in mod.tiers:
            codes.add(V.TIER_RESTRICTED)
        if mod.eligibility is not None and not record["age"] >= 60:
            codes.add(V.NOT_ELIGIBLE)
    return codes


@settings(max_examples=150, deadline=None)
@given(
    modules=st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f", "h", "zz"]), max_size=6),
    segment=st.sampled_from(["gen_z", "silver"]),
    tier=st.sampled_from(["gold", "platinum"]),
    age=st.integers(18, 80),
)
def test_refusal_lists_exactly_the_violated_constraints(
    modules: list[str], segment: str, tier: str, age: int
) -> None:
    record = {**RECORD, "segment": segment, "age": age, "card": {"product": "p", "tier": tier}}
    result = compose(PRODUCT, record, modules, AT)
    expected = expected_codes(modules, record)
    if expected:
        assert isinstance(result, CompositionRefusal)
        assert set(result.codes) == expected
    else:
        assert isinstance(result, BundleSelection)
        assert set(result.modules) == set(modules)


def test_every_pair_of_constraints_combines() -> None:
    # Each pair of independent violations is reported together.
    cases: dict[ViolationCode, tuple[list[str], dict[str, Any]]] = {
        V.EXCLUSIVE_GROUP: (["a", "b"], {}),
        V.MISSING_PREREQUISITE: (["h"], {}),
        V.SEGMENT_RESTRICTED: (["d"], {"segment": "silver"}),
        V.TIER_RESTRICTED: (["e"], {}),
        V.NOT_ELIGIBLE: (["f"], {}),
        V.UNKNOWN_MODULE: (["zz"], {}),
    }
    for (c1, (m1, r1)), (c2, (m2, r2)) in itertools.combinations(cases.items(), 2):
        result = refused(m1 + m2, {**RECORD, **r1, **r2})
        assert {c1, c2} <= set(result.codes), (c1, c2, result.codes)
