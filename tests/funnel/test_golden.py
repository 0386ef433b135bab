"""Golden test: a full ICBC e生活 funnel campaign (客户关注 → 抽奖领券 → 支付消费).

Modelled on the source article (seeds/004): e生活 runs 漏斗型促销 in its eight ecosystems;
here the 餐饮美食 (dining) ecosystem, with customers arriving from three channels over three
days, a prize pool with total and daily stock (the big prize runs out and falls back to the
谢谢参与 blank), 1 draw per day and 3 per campaign, a risk policy (blacklist tag, shared
device) and coupons redeemed at payment. Every decision is rendered in zh_CN and en, then
the funnel metrics; the transcript must match ``golden/e_life_funnel.txt`` byte for byte
(run with ``CARDBENEFITS_UPDATE_GOLDEN=1`` to rewrite it after an intended change).
"""

from __future__ import annotations

import os
from pathlib import Path

import pendulum

from cardbenefits.coupons import Coupon, CouponTemplate, InstantDiscount, ThresholdDiscount, redeem_coupon
from cardbenefits.facts import Customer, DrawRequest, Follow
from cardbenefits.funnel.campaign import DrawLimits, FunnelCampaign, OutOfStock, Prize, PrizePool
from cardbenefits.funnel.decide import Entrant, WalletIssuer, decide_pay, on_draw_request, on_follow
from cardbenefits.funnel.metrics import funnel_metrics
from cardbenefits.ledger.entries import EntryKind
from cardbenefits.ledger.memory import MemoryLedger
from cardbenefits.money import Money
from cardbenefits.risk import RiskPolicy, VelocityLimit

GOLDEN = Path(__file__).parent / "golden" / "e_life_funnel.txt"
V = "2026.11"
CHANNELS = ("wechat_official", "e_life_app", "mobile_banking")
ISSUER = WalletIssuer(
    {
        "dining-cut20": CouponTemplate(id="dining-cut20", name="满100减20元券",
                                       effect=ThresholdDiscount(Money.of(100), Money.of(20))),
        "dining-ljj5": CouponTemplate(id="dining-ljj5", name="5元立减金",
                                      effect=InstantDiscount(Money.of(5))),
    }
)  # fmt: skip


def campaign() -> FunnelCampaign:
    pool = PrizePool(
        "e-life-dining-pool",
        prizes=(
            Prize("cut20", "满100减20元券", coupon_template="dining-cut20", weight=20, stock=4, daily_stock=2,
                  name_en="¥20 off ¥100 coupon"),
            Prize("ljj5", "5元立减金", coupon_template="dining-ljj5", weight=30, stock=40, daily_stock=15,
                  name_en="¥5 instant discount"),
        ),
        blank_weight=50,
        on_out_of_stock=OutOfStock.BLANK,
    )  # fmt: skip
    return FunnelCampaign(
        "e-life-dining-2026-11",
        "工银e生活 · 餐饮美食 关注抽奖",
        name_en="ICBC e-Life dining: follow and draw",
        seed="icbc-e-life-dining-2026-11",
        pool=pool,
        starts_at=pendulum.datetime(2026, 11, 20, tz="Asia/Shanghai"),
        ends_at=pendulum.datetime(2026, 11, 27, tz="Asia/Shanghai"),
        draw_limits=DrawLimits(per_day=1, per_campaign=3),
        pay_min_amount=Money.of(30),
    )


def transcript() -> str:
    camp = campaign()
    risk = RiskPolicy("e-life-risk", blacklist_tags={"farm_account"},
                      velocity=[VelocityLimit("device", 2, "day")])  # fmt: skip
    ledger = MemoryLedger()
    customers = [
        Customer(f"c{i:02d}", f"P{i % 11:02d}", tags={"farm_account"} if i == 7 else set(),
                 device_id="shared-phone" if i in (3, 4, 5) else f"phone-{i}")
        for i in range(14)
    ]  # fmt: skip
    lines: list[str] = []

    def log(label: str, text_zh: str, text_en: str) -> None:
        lines.append(f"## {label}")
        lines.extend(f"zh: {line}" for line in text_zh.splitlines())
        lines.extend(f"en: {line}" for line in text_en.splitlines())

    day0 = pendulum.datetime(2026, 11, 21, 9, tz="Asia/Shanghai")
    for i, customer in enumerate(customers):
        if i == 13:
            continue  # never follows: their draw is refused by the state machine
        follow = Follow(f"f-{customer.id}", customer.id, camp.id, CHANNELS[i % 3], day0.add(minutes=7 * i))
        decision = on_follow(camp, customer, follow, view=ledger, catalog_version=V)
        assert decision.batch is not None
        ledger.apply(decision.batch)
        log(f"follow {customer.id} via {follow.channel}", decision.render("zh_CN"), decision.render("en"))
    for day in range(3):
        for i, customer in enumerate(customers):
            at = day0.add(days=day, hours=2, minutes=5 * i)
            for attempt in range(2 if i % 4 == 0 else 1):  # some try twice a day
                request = DrawRequest(f"d-{customer.id}-{day}-{attempt}", customer.id, camp.id, at,
                                      device_id=customer.device_id)  # fmt: skip
                decision = on_draw_request(ledger, camp, customer, request, issuer=ISSUER,
                                           catalog_version=V, risk=risk)  # fmt: skip
                log(f"draw {request.id}", decision.render("zh_CN"), decision.render("en"))
    # Pay: every other winner pays with the coupon (核销 through the coupon package); one pays
    # below the campaign's minimum.
    issues = [e for e in ledger.entries() if e.kind is EntryKind.ISSUE]
    for n, issue in enumerate(issues):
        if n % 2:
            continue
        amount = Money.of(25) if n == 2 else Money.of(60 + n)
        template = ISSUER.templates[issue.meta["template_id"]]
        coupon = Coupon.issue(template, coupon_id=issue.meta["coupon_id"], customer_id=issue.customer_id,
                              at=issue.at, pool_id=issue.meta["pool_id"])  # fmt: skip
        used = redeem_coupon(coupon, payment_id=f"pay-{n}", at=issue.at.add(hours=5), view=ledger,
                             catalog_version=V)  # fmt: skip
        assert used.batch is not None
        ledger.apply(used.batch)
        redemption = used.batch.entries[0]
        who = Entrant(issue.customer_id, issue.person_id)
        decision = decide_pay(camp, who, redemption=redemption, at=redemption.at, view=ledger,
                              catalog_version=V, payment=amount)  # fmt: skip
        if decision.batch is not None:
            ledger.apply(decision.batch)
        log(f"pay {issue.customer_id} {amount.amount}", decision.render("zh_CN"), decision.render("en"))

    metrics = funnel_metrics(camp, ledger.entries(programme_id=camp.id))
    lines.append("## metrics")
    lines.append(f"total follow={metrics.total.follow} draw={metrics.total.draw} pay={metrics.total.pay} "
                 f"draw_rate={metrics.total.draw_rate} pay_rate={metrics.total.pay_rate} "
                 f"overall={metrics.total.overall_rate}")  # fmt: skip
    lines.append(f"draws={metrics.draws} wins={dict(metrics.wins)} blanks={metrics.blanks} "
                 f"fallbacks={metrics.fallbacks}")  # fmt: skip
    for channel, counts in metrics.by_channel.items():
        lines.append(f"channel {channel}: {counts.follow}/{counts.draw}/{counts.pay} "
                     f"draw_rate={counts.draw_rate} pay_rate={counts.pay_rate}")  # fmt: skip
    for row in metrics.rows():
        lines.append(" ".join(f"{key}={value}" for key, value in row.items()))
    for prize in camp.pool.prizes:
        counter = f"stock:prize:{camp.pool.id}:{prize.id}"
        lines.append(f"stock {prize.id}: {ledger.usage(counter)}/{prize.stock}")
    return "\n".join(lines) + "\n"


def test_e_life_funnel_golden() -> None:
    text = transcript()
    if os.environ.get("CARDBENEFITS_UPDATE_GOLDEN"):
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")


def test_transcript_is_reproducible() -> None:
    assert transcript() == transcript()
