"""Hypothesis strategies for coupon templates, wallets and payments."""

from __future__ import annotations

import datetime as dt
import itertools

import pendulum
from hypothesis import strategies as st

from cardbenefits.coupons import (
    BasketLine,
    Coupon,
    CouponCashback,
    CouponEffect,
    CouponScope,
    CouponTemplate,
    Gift,
    InstantDiscount,
    Payment,
    PercentOff,
    PointsMultiplier,
    Stacking,
    StackingRules,
    ThresholdBasis,
    ThresholdDiscount,
)
from cardbenefits.facts import Channel
from cardbenefits.money import Money, Rounding

AT = pendulum.datetime(2026, 11, 4, 12, tz="Asia/Shanghai")
GROUPS = ("merchant", "bank", "platform", "default")


def fen(lo: int, hi: int) -> st.SearchStrategy[Money]:
    return st.integers(lo, hi).map(Money.from_minor)


@st.composite
def effects(draw: st.DrawFn) -> CouponEffect:
    kind = draw(st.sampled_from(["threshold", "instant", "percent", "cashback", "multiplier", "gift"]))
    if kind == "threshold":
        threshold = draw(fen(100, 30000))
        return ThresholdDiscount(threshold, draw(fen(1, threshold.minor_units)))
    if kind == "instant":
        return InstantDiscount(draw(fen(1, 5000)), draw(st.just(Money.zero()) | fen(0, 20000)))
    if kind == "percent":
        percent = draw(st.sampled_from(["5", "10", "12.5", "33.3", "50", "88", "100"]))
        cap = draw(st.none() | fen(1, 5000))
        return PercentOff(percent, cap, draw(fen(0, 20000)), draw(st.sampled_from(list(Rounding))))
    if kind == "cashback":
        return CouponCashback(draw(fen(1, 3000)), draw(fen(0, 20000)))
    if kind == "multiplier":
        return PointsMultiplier("points", 2, draw(fen(0, 20000)), draw(fen(0, 500)))
    return Gift("video month card", draw(fen(0, 20000)), draw(fen(0, 2000)))


@st.composite
def templates(draw: st.DrawFn, template_id: str) -> CouponTemplate:
    return CouponTemplate(
        id=template_id,
        name=template_id,
        effect=draw(effects()),
        stacking=Stacking(
            group=draw(st.sampled_from(GROUPS)),
            priority=draw(st.integers(0, 3)),
            alone=draw(st.booleans().map(lambda b: b and draw(st.integers(0, 5)) == 0)),
            max_per_payment=draw(st.integers(1, 2)),
        ),
        threshold_basis=draw(st.sampled_from(list(ThresholdBasis))),
        scope=draw(
            st.sampled_from(
                [
                    CouponScope(),
                    CouponScope(channels=frozenset({Channel.ALIPAY})),
                    CouponScope(mccs=frozenset({"5812"})),
                ]
            )
        ),
    )


@st.composite
def wallets(draw: st.DrawFn, max_coupons: int = 9) -> list[Coupon]:
    n_templates = draw(st.integers(1, 6))
    tpls = [draw(templates(f"t{i}")) for i in range(n_templates)]
    n = draw(st.integers(1, max_coupons))
    result = []
    for i in range(n):
        tpl = draw(st.sampled_from(tpls))
        issued = AT - dt.timedelta(days=draw(st.integers(0, 7)), hours=draw(st.integers(0, 23)))
        result.append(Coupon.issue(tpl, coupon_id=f"c{i:02d}", customer_id="cust", at=issued))
    return result


@st.composite
def payments(draw: st.DrawFn) -> Payment:
    amount = draw(fen(1, 500) | fen(5000, 40000) | fen(5000, 40000))
    lines: tuple[BasketLine, ...] = ()
    if draw(st.booleans()) and amount.minor_units >= 3:
        cuts = sorted(draw(st.sets(st.integers(1, amount.minor_units - 1), min_size=1, max_size=3)))
        bounds = [0, *cuts, amount.minor_units]
        lines = tuple(
            BasketLine(f"l{i}", Money.from_minor(b - a))
            for i, (a, b) in enumerate(itertools.pairwise(bounds))
        )
    return Payment(
        amount,
        AT,
        mcc=draw(st.sampled_from(["5812", "5411"])),
        channel=draw(st.sampled_from([Channel.ALIPAY, Channel.WECHAT_PAY])),
        lines=lines,
    )


@st.composite
def stacking_rules(draw: st.DrawFn) -> StackingRules:
    limits = {g: draw(st.integers(1, 3)) for g in GROUPS if draw(st.booleans())}
    return StackingRules(max_coupons=draw(st.integers(1, 4)), group_limits=limits)
