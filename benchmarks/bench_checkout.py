"""Benchmark: exact checkout optimisation (branch and bound) against brute force.

Wallets of 10/30/50 coupons drawn from a catalog of 400 templates, every coupon of a
different template (so de-duplication of identical copies does not help), mixing 满减, 立减金,
percentage-off, cashback and multiplier coupons in exclusive and stackable groups, some out of
scope or expired; up to 3 coupons per
payment. Prints median and p99 microseconds per call of :func:`best_combination` and of the
brute-force :func:`exhaustive_combination`, their ratio, and checks both give the same plan.

    python benchmarks/bench_checkout.py [--runs 200] [--brute-runs 20]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Callable

import pendulum

from cardbenefits.coupons import (
    CheckoutPlan,
    Coupon,
    CouponCashback,
    CouponEffect,
    CouponScope,
    CouponTemplate,
    InstantDiscount,
    Payment,
    PercentOff,
    PointsMultiplier,
    Stacking,
    StackingRules,
    ThresholdBasis,
    ThresholdDiscount,
    best_combination,
    exhaustive_combination,
)
from cardbenefits.facts import Channel
from cardbenefits.money import Money

AT = pendulum.datetime(2026, 11, 4, 12, tz="Asia/Shanghai")
RULES = StackingRules(
    max_coupons=3, group_limits={"merchant": 1, "bank": 1, "platform": 2, "cashback": 1, "points": 1}
)


def _effect(rng: random.Random) -> tuple[CouponEffect, str]:
    roll = rng.random()
    if roll < 0.35:
        threshold = rng.choice([50, 100, 150, 200, 300, 500])
        return ThresholdDiscount(Money.of(threshold), Money.of(rng.randint(5, threshold // 4))), "merchant"
    if roll < 0.6:
        return InstantDiscount(Money.of(rng.randint(2, 30)), Money.of(rng.choice([0, 10, 50, 100]))), "bank"
    if roll < 0.8:
        return PercentOff(rng.choice([5, 10, 20, 50]), Money.of(rng.choice([10, 30, 50]))), "platform"
    if roll < 0.93:
        return CouponCashback(Money.of(rng.randint(1, 20)), Money.of(rng.choice([0, 50, 100]))), "cashback"
    return PointsMultiplier("points", 2, Money.zero(), Money.of(rng.randint(1, 5))), "points"


def catalog(rng: random.Random, size: int = 400) -> list[CouponTemplate]:
    """``size`` coupon templates, a fifth of them restricted to one channel."""
    result = []
    for i in range(size):
        effect, group = _effect(rng)
        scope = CouponScope()
        if rng.random() < 0.2:
            scope = CouponScope(channels=frozenset({rng.choice(list(Channel))}))
        result.append(
            CouponTemplate(
                id=f"t{i}",
                name=f"t{i}",
                effect=effect,
                scope=scope,
                stacking=Stacking(group, priority=rng.randint(0, 3)),
                threshold_basis=rng.choice(list(ThresholdBasis)),
            )
        )
    return result


def wallet(rng: random.Random, templates: list[CouponTemplate], size: int) -> list[Coupon]:
    """A wallet of ``size`` coupons, each of a distinct template, some already expired."""
    result = []
    for i, tpl in enumerate(rng.sample(templates, size)):
        issued = AT.subtract(days=rng.randint(0, 8), hours=rng.randint(0, 23))
        result.append(Coupon.issue(tpl, coupon_id=f"c{i:03d}", customer_id="cust", at=issued))
    return result


def payment(rng: random.Random) -> Payment:
    """A payment of ¥20–¥600 over WeChat Pay."""
    return Payment(Money.from_minor(rng.randint(2000, 60000)), AT, mcc="5812", channel=Channel.WECHAT_PAY)


def _time(fn: Callable[[], CheckoutPlan]) -> tuple[float, CheckoutPlan]:
    start = time.perf_counter_ns()
    plan = fn()
    return (time.perf_counter_ns() - start) / 1000, plan


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    """Run the benchmark and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--brute-runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=20261104)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (p99 is sensitive to it)")
    print(
        f"{'coupons':>7} {'bb median µs':>13} {'bb p99 µs':>10} {'nodes med':>9} "
        f"{'brute median µs':>16} {'ratio':>7} {'agree':>6}"
    )
    templates = catalog(random.Random(args.seed))
    for size in (10, 30, 50):
        rng = random.Random(args.seed + size)
        cases = [(wallet(rng, templates, size), payment(rng)) for _ in range(args.runs)]
        for w, p in cases:  # warm up: templates' integer forms are computed once per catalog
            best_combination(w, p, RULES)
        fast: list[float] = []
        nodes: list[int] = []
        plans = []
        for w, p in cases:
            micros, plan = _time(lambda w=w, p=p: best_combination(w, p, RULES))  # type: ignore[misc]
            fast.append(micros)
            nodes.append(plan.nodes)
            plans.append(plan)
        slow: list[float] = []
        agree = True
        for (w, p), plan in list(zip(cases, plans, strict=True))[: args.brute_runs]:
            micros, ref = _time(lambda w=w, p=p: exhaustive_combination(w, p, RULES))  # type: ignore[misc]
            slow.append(micros)
            agree &= ref.without_search_stats() == plan.without_search_stats()
        # Ratio on the same cases: brute-force median over branch-and-bound median.
        fast_same = statistics.median(fast[: args.brute_runs])
        ratio = statistics.median(slow) / fast_same
        print(
            f"{size:>7} {statistics.median(fast):>13.0f} {_pct(fast, 0.99):>10.0f} "
            f"{statistics.median(nodes):>9.0f} {statistics.median(slow):>16.0f} {ratio:>6.0f}x {agree!s:>6}"
        )


if __name__ == "__main__":
    main()
