"""Funnel campaign (关注 → 抽奖领券 → 支付消费) with prizes from examples/catalogs/coupons.yaml:
follows from two channels, seeded (replayable) draws, coupons in the wallet, the best
combination at checkout, the pay stage, and the funnel metrics."""

from cardbenefits import (
    Customer,
    DrawLimits,
    DrawRequest,
    Follow,
    FunnelCampaign,
    MemoryLedger,
    Money,
    OutOfStock,
    Payment,
    Prize,
    PrizePool,
    Wallet,
    WalletIssuer,
    best_combination,
    decide_pay,
    funnel_metrics,
    load_catalog,
    local_datetime,
    redeem_coupon,
)
from cardbenefits.coupons import coupon_templates, stacking_rules
from cardbenefits.funnel.decide import Entrant, on_draw_request, on_follow

coupons = load_catalog("examples/catalogs/coupons.yaml")
templates = coupon_templates(coupons)
V = coupons.ref
pool = PrizePool(
    "dining-pool",
    [
        Prize(
            "cut20", "满100减20元券", coupon_template="mj100-20", weight=30, stock=3, name_en="¥20 off ¥100"
        ),
        Prize(
            "ljj10",
            "10元立减金",
            coupon_template="ljj10",
            weight=30,
            stock=200,
            name_en="¥10 instant discount",
        ),
    ],
    blank_weight=40,
    on_out_of_stock=OutOfStock.BLANK,
)
campaign = FunnelCampaign(
    "dining-nov", "e生活 · 餐饮美食 关注抽奖", name_en="e-Life dining: follow and draw", seed="dining-nov-30",
    pool=pool, starts_at=local_datetime(2026, 11, 20), ends_at=local_datetime(2026, 11, 27),
    draw_limits=DrawLimits(per_day=1, per_campaign=3),
)  # fmt: skip
issuer = WalletIssuer(templates)
ledger = MemoryLedger()
people = [Customer(f"c{i:02d}", f"P{i:02d}") for i in range(1, 13)]
start = local_datetime(2026, 11, 21, 9)

for i, person in enumerate(people[:10]):
    channel = ("wechat_official", "e_life_app", "mobile_banking")[i % 3]
    follow = Follow(f"f-{person.id}", person.id, campaign.id, channel, start.add(minutes=i))
    ledger.apply(on_follow(campaign, person, follow, view=ledger, catalog_version=V).batch)

for day in range(3):
    print(f"== draws on {start.add(days=day).date()}")
    for i, person in enumerate(people[: 12 - 4 * day]):
        request = DrawRequest(
            f"d-{person.id}-{day}", person.id, campaign.id, start.add(days=day, hours=1, minutes=i)
        )
        decision = on_draw_request(ledger, campaign, person, request, issuer=issuer, catalog_version=V)
        print(person.id, decision.won or "-", "|", decision.render("en").splitlines()[0])

print("== checkout on 2026-11-26")
pay_at = local_datetime(2026, 11, 26, 12)
for n, person in enumerate(people):
    wallet = Wallet.from_ledger(ledger, person.id, templates)
    usable = wallet.available(pay_at)
    if not usable:
        continue
    payment = Payment(Money.of(60 + 30 * (n % 3)), pay_at.add(minutes=n), merchant="hotpot", mcc="5812",
                      channel="wechat_pay")  # fmt: skip
    plan = best_combination(usable, payment, stacking_rules(coupons))
    for applied in plan.coupons:
        used = redeem_coupon(wallet.get(applied.coupon_id).coupon, payment_id=f"pay-{person.id}",
                             at=payment.at, view=ledger, catalog_version=V)  # fmt: skip
        ledger.apply(used.batch)
        paid = decide_pay(campaign, Entrant.of(person), redemption=used.batch.entries[0], at=payment.at,
                          view=ledger, catalog_version=V, payment=payment.amount)  # fmt: skip
        if paid.batch is not None:
            ledger.apply(paid.batch)
    refused = "; ".join(f"{r.coupon_id}: {r.reason}" for r in plan.refused)
    line = f"{person.id} ¥{payment.amount} -> pay ¥{plan.payable} {list(plan.coupon_ids)}"
    print(line + (f" | not used: {refused}" if refused else ""))

metrics = funnel_metrics(campaign, ledger.entries(programme_id=campaign.id))
total = metrics.total
print("== metrics")
print(f"关注 {total.follow} → 抽奖 {total.draw} → 支付 {total.pay}")
print(f"draw rate {total.draw_rate}, pay rate {total.pay_rate}, overall {total.overall_rate}")
print(f"draws {metrics.draws}, wins {dict(sorted(metrics.wins.items()))}, blanks {metrics.blanks}, "
      f"fallbacks {metrics.fallbacks}")  # fmt: skip
for channel, counts in sorted(metrics.by_channel.items()):
    print(f"{channel}: {counts.follow}/{counts.draw}/{counts.pay}")
print("cut20 stock used:", ledger.usage(f"stock:prize:{pool.id}:cut20"), "of 3")
