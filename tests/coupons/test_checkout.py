"""Checkout optimiser: exact against brute force, allocation exact, deterministic."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardbenefits.coupons import (
    BasketLine,
    Coupon,
    CouponTemplate,
    InstantDiscount,
    Payment,
    PercentOff,
    Stacking,
    StackingRules,
    ThresholdBasis,
    ThresholdDiscount,
    best_combination,
    exhaustive_combination,
)
from cardbenefits.coupons.checkout import _round_div
from cardbenefits.errors import EngineError, FactError
from cardbenefits.money import Money, Rounding, total

from .strategies import AT, payments, stacking_rules, wallets


def make(cid: str, effect: object, group: str = "default", priority: int = 100, **kw: object) -> Coupon:
    tpl = CouponTemplate(
        id=cid.split("#")[0], name=cid, effect=effect, stacking=Stacking(group, priority), **kw
    )  # type: ignore[arg-type]
    return Coupon.issue(tpl, coupon_id=cid, customer_id="c", at=AT.subtract(days=1))


@settings(max_examples=300, deadline=None)
@given(wallets(), payments(), stacking_rules())
def test_branch_and_bound_equals_brute_force(
    wallet: list[Coupon], payment: Payment, rules: StackingRules
) -> None:
    fast = best_combination(wallet, payment, rules)
    slow = exhaustive_combination(wallet, payment, rules)
    assert fast.without_search_stats() == slow.without_search_stats()


@settings(max_examples=200, deadline=None)
@given(wallets(), payments(), stacking_rules())
def test_plan_invariants(wallet: list[Coupon], payment: Payment, rules: StackingRules) -> None:
    plan = best_combination(wallet, payment, rules)
    assert len(plan.coupons) <= rules.max_coupons
    assert Money.zero() <= plan.discount <= payment.amount
    assert plan.payable == payment.amount - plan.discount
    assert all(a.saving.is_positive() for a in plan.coupons)
    refused = {r.coupon_id for r in plan.refused}
    assert refused.isdisjoint(plan.coupon_ids)
    if payment.lines:
        for applied in plan.coupons:
            assert total(applied.line_discounts) == applied.discount
        for i, line in enumerate(payment.lines):
            taken = total(a.line_discounts[i] for a in plan.coupons)
            assert Money.zero() <= taken <= line.amount
    # The result does not depend on the order of the wallet.
    again = best_combination(list(reversed(wallet)), payment, rules)
    assert again.without_search_stats() == plan.without_search_stats()


@given(st.integers(0, 10**9), st.integers(1, 10**6), st.sampled_from(list(Rounding)))
def test_round_div_matches_money_quantize(n: int, d: int, mode: Rounding) -> None:
    expected = (Money.from_minor(n) / d).quantize(mode).minor_units
    assert _round_div(n, d, mode) == expected


def test_threshold_basis_remaining_vs_original() -> None:
    first = make("ljj30", InstantDiscount(Money.of(30)), "bank", priority=1)
    remaining = make("mj100", ThresholdDiscount(Money.of(100), Money.of(20)), "merchant", priority=2)
    original = make(
        "mj100o",
        ThresholdDiscount(Money.of(100), Money.of(20)),
        "merchant",
        priority=2,
        threshold_basis=ThresholdBasis.ORIGINAL,
    )
    payment = Payment(Money.of(110), AT)
    rules = StackingRules(max_coupons=2, group_limits={"bank": 1, "merchant": 1})
    # After ¥30 off only ¥80 remains: the REMAINING-basis 满减 no longer applies.
    assert best_combination([first, remaining], payment, rules).coupon_ids == ("ljj30",)
    plan = best_combination([first, original], payment, rules)
    assert plan.coupon_ids == ("ljj30", "mj100o")
    assert plan.payable == Money.of(60)


def test_discount_never_exceeds_payable_and_zero_value_coupons_are_not_burnt() -> None:
    a = make("a", InstantDiscount(Money.of(50)), "g1")
    b = make("b", InstantDiscount(Money.of(50)), "g2")
    payment = Payment(Money.of(40), AT)
    plan = best_combination([a, b], payment, StackingRules(max_coupons=2, group_limits={"g1": 1, "g2": 1}))
    assert plan.coupon_ids == ("a",)
    assert plan.payable == Money.zero()


def test_exclusive_group_and_alone() -> None:
    x = make("x", InstantDiscount(Money.of(10)), "bank")
    y = make("y", InstantDiscount(Money.of(15)), "bank")
    solo = CouponTemplate(
        id="solo", name="solo", effect=InstantDiscount(Money.of(20)), stacking=Stacking("vip", alone=True)
    )
    s = Coupon.issue(solo, coupon_id="s", customer_id="c", at=AT.subtract(days=1))
    payment = Payment(Money.of(100), AT)
    rules = StackingRules(max_coupons=3, group_limits={"bank": 2})
    assert best_combination([x, y, s], payment, rules).coupon_ids == ("x", "y")
    assert best_combination([x, y, s], payment, StackingRules(max_coupons=3)).coupon_ids == ("s",)


def test_tie_break_prefers_fewer_coupons_then_earliest_expiry() -> None:
    tpl = CouponTemplate(id="ljj", name="ljj", effect=InstantDiscount(Money.of(10)))
    late = Coupon.issue(tpl, coupon_id="late", customer_id="c", at=AT.subtract(days=1))
    early = Coupon.issue(tpl, coupon_id="early", customer_id="c", at=AT.subtract(days=5))
    other = make("zz", InstantDiscount(Money.of(10)), "default")
    plan = best_combination([late, early, other], Payment(Money.of(100), AT), StackingRules())
    assert plan.coupon_ids == ("early",)


def test_refusals_name_the_reason() -> None:
    expired = Coupon.issue(
        CouponTemplate(id="old", name="old", effect=InstantDiscount(Money.of(5))),
        coupon_id="old1",
        customer_id="c",
        at=AT.subtract(days=30),
    )
    big = make("big", ThresholdDiscount(Money.of(500), Money.of(50)))
    half = make("half", PercentOff(50, Money.of(30)))
    plan = best_combination([expired, big, half], Payment(Money.of(100), AT))
    assert {(r.coupon_id, r.reason) for r in plan.refused} == {
        ("old1", "expired"),
        ("big", "minimum spend 500.00 not reached"),
    }
    assert plan.coupon_ids == ("half",)


def test_allocation_across_lines_is_exact() -> None:
    c = make("mj", ThresholdDiscount(Money.of(100), Money.of(10)))
    lines = tuple(BasketLine(f"l{i}", Money.of("33.34")) for i in range(3))
    plan = best_combination([c], Payment(Money.of("100.02"), AT, lines=lines))
    assert [str(m) for m in plan.coupons[0].line_discounts] == ["3.34", "3.33", "3.33"]


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(FactError, match="basket lines do not sum"):
        Payment(Money.of(10), AT, lines=(BasketLine("a", Money.of(9)),))
    c = make("a", InstantDiscount(Money.of(1)))
    with pytest.raises(EngineError, match="twice"):
        best_combination([c, c], Payment(Money.of(10), AT))
    with pytest.raises(EngineError, match="positive int"):
        StackingRules(max_coupons=0)
