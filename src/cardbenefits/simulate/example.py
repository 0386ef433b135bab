"""The bundled example: a small campaign and a seeded synthetic data set to replay it on.

``cardbenefits simulate`` with no arguments runs this. The data set is **generated at run time**
by :mod:`cardbenefits.synth` with a fixed seed (:data:`EXAMPLE_CONFIG`: 400 customers, Sept–Nov
2026, about 20k events), so nothing large ships with the package and every run is identical.
September and October are history (they feed RFM and lifecycle); November is replayed
(:data:`EXAMPLE_AS_OF`). :func:`write_example` writes the same data as files (CSV, JSON lines
or Parquet) for trying the readers.

The campaign (:func:`example_engine`, :func:`example_funnels`), modelled on the domain's examples:

- ``cashback_small`` 小额多笔返现: each purchase ≥ ¥50 returns ¥5, at most 5 times per customer
  per calendar month, within a campaign budget of ¥20,000;
- ``points_basic``: 1 point per ¥20, floored per transaction, ¥0.01 issuer cost per point;
- ``welcome`` 阶梯式激活: first calendar month after approval spend ≥ ¥1,000 → video membership
  month card (¥12 cost); qualifying spend in each of three consecutive months → health check
  (¥260 cost), 300 in stock;
- funnel ``e_life`` (工银e生活-style follow → draw → pay) with a pool of ¥20-off and ¥5 coupons.

>>> customers, events = example_data()
>>> len(customers)
400
>>> engine = example_engine()
>>> [p.id for p in engine.programmes], [x.id for x in engine.ladders]
(['cashback_small', 'points_basic'], ['welcome'])
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import attrs
import pendulum

from cardbenefits.coupons import CouponTemplate, InstantDiscount, ThresholdDiscount
from cardbenefits.engine import Engine
from cardbenefits.facts import Customer, Event, customer_record
from cardbenefits.funnel.campaign import DrawLimits, FunnelCampaign, OutOfStock, Prize, PrizePool
from cardbenefits.funnel.decide import WalletIssuer
from cardbenefits.money import Money
from cardbenefits.programmes import (
    REAL_ESTATE_ETC,
    AccrualReward,
    ActivationLadder,
    FixedReward,
    ItemReward,
    Limit,
    LimitMeasure,
    LimitScope,
    PeriodUnit,
    Qualifier,
    Tier,
    TransactionProgramme,
)
from cardbenefits.simulate.io import write_customers, write_events
from cardbenefits.synth import SynthConfig, generate_customers, generate_events

__all__ = [
    "EXAMPLE_AS_OF",
    "EXAMPLE_CONFIG",
    "example_data",
    "example_engine",
    "example_funnels",
    "example_issuer",
    "write_example",
]

EXAMPLE_CONFIG = SynthConfig(seed=2026, customers=400, months=3, start="2026-09-01", campaigns=("e_life",))
"""The synthetic data set of the example (fixed seed)."""

EXAMPLE_AS_OF = pendulum.datetime(2026, 11, 1, tz="Asia/Shanghai")
"""Segments are computed as of this instant; earlier events are history, later ones replayed."""

EXAMPLE_VERSION = "cardbenefits-example@2026.11"


def example_engine() -> Engine:
    """The example campaign's engine (see the module docstring)."""
    qualifier = Qualifier(min_amount=Money.of(50), excluded_mccs=REAL_ESTATE_ETC)
    cashback = TransactionProgramme(
        "cashback_small",
        qualifier,
        FixedReward(amount=Money.of(5)),
        limits=(
            Limit("monthly", 5, period=PeriodUnit.MONTH),
            Limit("budget", 20000, scope=LimitScope.GLOBAL, measure=LimitMeasure.COST),
        ),
        name="小额多笔返现",
    )
    points = TransactionProgramme(
        "points_basic",
        Qualifier(excluded_mccs=REAL_ESTATE_ETC),
        AccrualReward(asset="points", per=Money.of(20)),
        cost_per_unit=Money.of("0.01"),
        name="积分累积",
    )
    welcome = ActivationLadder(
        "welcome",
        tiers=(
            Tier(
                "month1",
                ItemReward(asset="membership:video", units=1, cost=Money.of(12)),
                min_spend=Money.of(1000),
                first_period=1,
            ),
            Tier(
                "three_months",
                ItemReward(asset="service:health_check", units=1, cost=Money.of(260)),
                min_spend=Money.of(300),
                first_period=1,
                periods=3,
            ),
        ),
        qualifier=Qualifier(min_amount=Money.of(10), excluded_mccs=REAL_ESTATE_ETC),
        limits=(Limit("stock", 300, scope=LimitScope.GLOBAL),),
        name="阶梯式激活",
    )
    return Engine(
        [cashback, points],
        ladders=[welcome],
        catalog_version=EXAMPLE_VERSION,
        catalog_id="cardbenefits-example",
        record_of=customer_record,
    )


def example_issuer() -> WalletIssuer:
    """The coupon templates the example's prizes issue."""
    return WalletIssuer(
        {
            "cut20": CouponTemplate(id="cut20", name="满100减20元券",
                                    effect=ThresholdDiscount(Money.of(100), Money.of(20))),
            "ljj5": CouponTemplate(id="ljj5", name="5元立减金", effect=InstantDiscount(Money.of(5))),
        }
    )  # fmt: skip


def example_funnels() -> dict[str, FunnelCampaign]:
    """The example's funnel campaign ``e_life`` (November 2026)."""
    pool = PrizePool(
        "e_life_pool",
        prizes=(
            Prize("cut20", "满100减20元券", coupon_template="cut20", weight=20, stock=60, daily_stock=5),
            Prize("ljj5", "5元立减金", coupon_template="ljj5", weight=30, stock=400, daily_stock=30),
        ),
        blank_weight=50,
        on_out_of_stock=OutOfStock.BLANK,
    )
    campaign = FunnelCampaign(
        "e_life",
        "工银e生活 · 关注抽奖",
        name_en="e-Life: follow and draw",
        seed="cardbenefits-example-e-life",
        pool=pool,
        starts_at=pendulum.datetime(2026, 11, 1, tz="Asia/Shanghai"),
        ends_at=pendulum.datetime(2026, 12, 1, tz="Asia/Shanghai"),
        draw_limits=DrawLimits(per_day=1, per_campaign=3),
        pay_min_amount=Money.of(30),
    )
    return {campaign.id: campaign}


def example_data() -> tuple[dict[str, Customer], Iterator[Event]]:
    """The example's customers (by id) and its events in replay order (a lazy stream)."""
    customers = {c.id: c for c in generate_customers(EXAMPLE_CONFIG)}
    return customers, generate_events(EXAMPLE_CONFIG, customers.values())


def write_example(folder: str | Path, fmt: Literal["csv", "jsonl", "parquet"] = "csv") -> Path:
    """Write the example data set as an event-set directory (see :mod:`cardbenefits.simulate.io`)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    customers, events = example_data()
    # CSV and Parquet customers are flat (no attributes); the replay recomputes rfm/lifecycle anyway.
    people = [attrs.evolve(c, attributes={}) if fmt != "jsonl" else c for c in customers.values()]
    write_customers(folder / f"customers.{fmt}", people)
    by_kind: dict[str, list[Event]] = {"transactions": [], "follows": [], "draws": [], "referrals": []}
    names = {
        "transaction": "transactions",
        "follow": "follows",
        "draw_request": "draws",
        "referral": "referrals",
    }
    for event in events:
        by_kind[names[event.event_type]].append(event)
    for stem, items in by_kind.items():
        if items:
            write_events(folder / f"{stem}.{fmt}", items)
    return folder
