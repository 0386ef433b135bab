"""Funnel decisions: follow → draw → pay, limits, stock, replay, concurrency."""

from __future__ import annotations

import threading
from pathlib import Path

import pendulum
import pytest
from funnel_support import AT, END, entrant, issue_coupon, make_campaign, make_pool
from hypothesis import given, settings
from hypothesis import strategies as st

from cardbenefits.coupons import (
    Coupon,
    CouponPool,
    CouponState,
    CouponTemplate,
    InstantDiscount,
    ThresholdDiscount,
    coupon_status,
    redeem_coupon,
)
from cardbenefits.coupons import issue_coupon as wallet_issue
from cardbenefits.funnel.campaign import DrawLimits, FunnelCampaign, OutOfStock, Stage
from cardbenefits.funnel.decide import (
    Entrant,
    WalletIssuer,
    decide_draw,
    decide_follow,
    decide_pay,
    participant,
    run_draw,
)
from cardbenefits.funnel.draws import draw_number, seed_fingerprint
from cardbenefits.funnel.state import ParticipantState
from cardbenefits.ledger.entries import EntryBatch, EntryKind, LedgerEntry
from cardbenefits.ledger.memory import MemoryLedger
from cardbenefits.ledger.protocol import Ledger
from cardbenefits.money import Money
from cardbenefits.risk import RiskPolicy, VelocityLimit

V = "v1"


def follow(
    ledger: Ledger, campaign: FunnelCampaign, who: Entrant, channel: str = "app", at: pendulum.DateTime = AT
) -> None:
    decision = decide_follow(campaign, who, channel=channel, at=at, view=ledger, catalog_version=V)
    assert decision.accepted, decision.render("en")
    assert decision.batch is not None
    ledger.apply(decision.batch)


def draw(
    ledger: Ledger,
    campaign: FunnelCampaign,
    who: Entrant,
    request: str,
    at: pendulum.DateTime = AT,
    **kwargs: object,
):  # type: ignore[no-untyped-def]
    return run_draw(ledger, campaign, who, request_id=request, at=at, issuer=issue_coupon, catalog_version=V,
                    **kwargs)  # type: ignore[arg-type]  # fmt: skip


def redeem(ledger: Ledger, issue: LedgerEntry, key: str) -> LedgerEntry:
    entry = LedgerEntry(
        kind=EntryKind.REDEEM, customer_id=issue.customer_id, programme_id="coupons", asset=issue.asset,
        units=1, at=AT.add(hours=2), catalog_version=V, reason="paid", ref=issue.entry_id,
    )  # fmt: skip
    ledger.apply(EntryBatch.of(key, [entry]))
    stored = ledger.entry(f"{key}#0")
    assert stored is not None
    return stored


def test_draw_before_follow_is_refused_naming_state_and_event(campaign: FunnelCampaign) -> None:
    ledger = MemoryLedger()
    decision = decide_draw(campaign, entrant(), request_id="r1", at=AT, view=ledger, issuer=issue_coupon,
                           catalog_version=V)  # fmt: skip
    assert not decision.accepted
    assert decision.batch is None
    assert decision.render("en") == (
        'Participant is in state "new": event "draw" is not allowed (allowed: follow)'
    )
    assert decision.render("zh_CN") == "当前阶段为「未参与」，不能进行「抽奖」（允许：关注）"


def test_follow_twice_and_channel_and_window(campaign: FunnelCampaign) -> None:
    ledger = MemoryLedger()
    who = entrant()
    follow(ledger, campaign, who, "wechat")
    again = decide_follow(campaign, who, channel="app", at=AT, view=ledger, catalog_version=V)
    assert not again.accepted
    assert "followed" in again.render("en")
    closed = decide_follow(campaign, entrant("c2"), channel="app", at=END, view=ledger, catalog_version=V)
    assert closed.render("en") == 'Campaign "e-Life dining" is not running (2026-11-01 to 2026-12-01)'
    narrow = make_campaign(channels={"wechat"})
    refused = decide_follow(narrow, entrant("c3"), channel="alipay", at=AT, view=ledger, catalog_version=V)
    assert refused.render("en") == "Channel alipay is not part of this campaign (channels: wechat)"
    assert participant(campaign, "c1", ledger).channel == "wechat"


def test_per_day_and_per_campaign_limits(campaign: FunnelCampaign) -> None:
    ledger = MemoryLedger()
    who = entrant()
    follow(ledger, campaign, who)
    assert draw(ledger, campaign, who, "d1").accepted
    second = draw(ledger, campaign, who, "d2")
    assert not second.accepted
    assert second.render("en") == "No draws left today (1 per person per day, 2026-11-23)"
    # A new Beijing day starts at 16:00 UTC.
    assert draw(ledger, campaign, who, "d3", at=pendulum.datetime(2026, 11, 23, 16, tz="UTC")).accepted
    assert draw(ledger, campaign, who, "d4", at=AT.add(days=2)).accepted
    fourth = draw(ledger, campaign, who, "d5", at=AT.add(days=3))
    assert fourth.render("zh_CN") == "本活动抽奖次数已用完（每人限 3 次）"
    assert participant(campaign, "c1", ledger).draws == 3


def test_limits_count_per_person_across_cards(campaign: FunnelCampaign) -> None:
    ledger = MemoryLedger()
    card_a, card_b = entrant("card-a", "ID-1"), entrant("card-b", "ID-1")
    follow(ledger, campaign, card_a)
    follow(ledger, campaign, card_b)
    assert draw(ledger, campaign, card_a, "a1").accepted
    assert not draw(ledger, campaign, card_b, "b1").accepted


def test_stage_eligibility_rule() -> None:
    class RegionRule:
        text = 'region == "SH"'

        def holds(self, record: object, at: object) -> bool:
            return isinstance(record, dict) and record.get("region") == "SH"

    campaign = make_campaign(eligibility={Stage.DRAW: RegionRule()})
    ledger = MemoryLedger()
    outsider = entrant("c1", region="BJ")
    follow(ledger, campaign, outsider)
    refused = draw(ledger, campaign, outsider, "r1")
    assert refused.render("en") == 'Not eligible for the "draw" stage: region == "SH"'
    local = entrant("c2", region="SH")
    follow(ledger, campaign, local)
    assert draw(ledger, campaign, local, "r2").accepted


def test_win_issues_coupon_in_the_same_batch_and_meta_is_auditable(campaign: FunnelCampaign) -> None:
    ledger = MemoryLedger()
    who = entrant()
    follow(ledger, campaign, who)
    request = next(f"r{i}" for i in range(200)
                   if draw_number(campaign.seed, campaign.id, f"r{i}").point(100) < 10)  # fmt: skip
    decision = draw(ledger, campaign, who, request)
    assert decision.won == "cut20"
    assert decision.batch is not None
    marker, issued = decision.batch.entries
    assert issued.kind is EntryKind.ISSUE
    assert issued.asset == "coupon:cut20"
    assert ledger.balance("c1", "coupon:cut20") == 1
    assert marker.meta["draw.random"] == draw_number(campaign.seed, campaign.id, request).hex
    assert marker.meta["draw.seed"] == seed_fingerprint(campaign.seed)
    assert marker.meta["draw.out_of_stock_rule"] == "blank"
    assert ledger.usage("stock:prize:eat-pool:cut20") == 1
    assert ledger.usage("stock:prize:eat-pool:cut20:2026-11-23") == 1
    assert decision.render("en").splitlines()[:2] == ["Won ¥20 off ¥100", "Coupon cut20 added to the wallet"]


def test_replaying_a_request_does_not_draw_again(campaign: FunnelCampaign) -> None:
    ledger = MemoryLedger()
    who = entrant()
    follow(ledger, campaign, who)
    first = draw(ledger, campaign, who, "r1")
    again = draw(ledger, campaign, who, "r1")
    assert again.replayed
    assert again.batch == first.batch
    # The replay carries the audited outcome, so callers see the same prize.
    assert again.outcome == first.outcome
    assert again.won == first.won
    assert participant(campaign, "c1", ledger).draws == 1


def test_out_of_stock_falls_back_to_blank_or_redraws() -> None:
    for rule in OutOfStock:
        campaign = make_campaign(make_pool(stock=0, rule=rule), draw_limits=DrawLimits())
        ledger = MemoryLedger()
        who = entrant()
        follow(ledger, campaign, who)
        request = next(f"r{i}" for i in range(200)
                       if draw_number(campaign.seed, campaign.id, f"r{i}").point(100) < 10)  # fmt: skip
        decision = draw(ledger, campaign, who, request)
        assert decision.accepted
        assert decision.outcome is not None
        assert decision.outcome.drawn_id == "cut20"
        assert decision.won != "cut20"
        assert decision.outcome.fallback == str(rule)
        text = decision.render("en")
        assert "out of stock" in text


def test_risk_policy_refusal_names_the_control(campaign: FunnelCampaign) -> None:
    ledger = MemoryLedger()
    policy = RiskPolicy("draw-risk", blacklist_tags={"farm"}, velocity=[VelocityLimit("device", 1, "day")])
    bad = Entrant("c1", person_id="P1", record={"tags": frozenset({"farm"})})
    follow(ledger, campaign, bad)
    refused = draw(ledger, campaign, bad, "r1", risk=policy)
    assert refused.render("en").startswith('Refused by risk control "blacklist"')
    phone_a = Entrant("c2", person_id="P2", device_id="phone")
    phone_b = Entrant("c3", person_id="P3", device_id="phone")
    follow(ledger, campaign, phone_a)
    follow(ledger, campaign, phone_b)
    assert draw(ledger, campaign, phone_a, "r2", risk=policy).accepted
    assert 'risk control "velocity"' in draw(ledger, campaign, phone_b, "r3", risk=policy).render("en")


def test_pay_stage_completed_by_redeeming_a_campaign_coupon(campaign: FunnelCampaign) -> None:
    ledger = MemoryLedger()
    who = entrant()
    follow(ledger, campaign, who)
    request = next(f"r{i}" for i in range(200)
                   if 10 <= draw_number(campaign.seed, campaign.id, f"r{i}").point(100) < 50)  # fmt: skip
    won = draw(ledger, campaign, who, request)
    assert won.won == "cut5"
    assert won.batch is not None
    issue = won.batch.entries[1]
    stranger = LedgerEntry(kind=EntryKind.ISSUE, customer_id="c1", programme_id="other", asset="coupon:x",
                           units=1, at=AT, catalog_version=V, reason="gift")  # fmt: skip
    ledger.apply(EntryBatch.of("gift", [stranger]))
    foreign = redeem(ledger, ledger.entries(customer_id="c1", programme_id="other")[0], "pay-foreign")
    not_ours = decide_pay(campaign, who, redemption=foreign, at=AT, view=ledger, catalog_version=V)
    assert not not_ours.accepted
    redemption = redeem(ledger, issue, "pay-1")
    minimum = make_campaign(pay_min_amount=Money.of(50))
    low = decide_pay(minimum, who, redemption=redemption, at=AT, view=ledger, catalog_version=V,
                     payment=Money.of(30))  # fmt: skip
    assert low.render("en") == "Payment ¥30.00 is below ¥50.00; it does not count as the pay stage"
    paid = decide_pay(campaign, who, redemption=redemption, at=AT, view=ledger, catalog_version=V,
                      payment=Money.of(88))  # fmt: skip
    assert paid.accepted
    assert paid.state_after is ParticipantState.PAID
    assert paid.batch is not None
    ledger.apply(paid.batch)
    assert participant(campaign, "c1", ledger).state is ParticipantState.PAID
    assert paid.render("zh_CN") == "使用活动优惠券 cut5 支付，完成支付消费阶段"


def _assert_stock_kept(ledger: Ledger, campaign: FunnelCampaign) -> None:
    """Stock never exceeded, and every unit of stock taken is a coupon in a wallet."""
    pool = campaign.pool
    issues = [e for e in ledger.entries(programme_id=campaign.id) if e.kind is EntryKind.ISSUE]
    for prize in pool.prizes:
        won = [e for e in issues if e.asset == f"coupon:{prize.coupon_template}"]
        total = ledger.usage(f"stock:prize:{pool.id}:{prize.id}")
        assert total == len(won)
        if prize.stock is not None:
            assert total <= prize.stock
        per_day: dict[str, int] = {}
        for entry in won:
            day = campaign.day(entry.at)
            per_day[day] = per_day.get(day, 0) + 1
        for day, count in per_day.items():
            assert ledger.usage(f"stock:prize:{pool.id}:{prize.id}:{day}") == count
            if prize.daily_stock is not None:
                assert count <= prize.daily_stock


@settings(max_examples=25, deadline=None)
@given(
    stock=st.integers(0, 6),
    daily=st.integers(0, 4),
    rule=st.sampled_from(list(OutOfStock)),
    plan=st.lists(st.tuples(st.integers(0, 15), st.integers(0, 3)), min_size=1, max_size=40),
)
def test_stock_never_exceeded_and_never_lost(
    stock: int, daily: int, rule: OutOfStock, plan: list[tuple[int, int]]
) -> None:
    campaign = make_campaign(make_pool(stock=stock, daily=daily, rule=rule, blank=10),
                             draw_limits=DrawLimits(per_day=2, per_campaign=5))  # fmt: skip
    ledger = MemoryLedger()
    followed: set[str] = set()
    for index, (customer, day) in enumerate(plan):
        who = entrant(f"c{customer}")
        if who.customer_id not in followed:
            follow(ledger, campaign, who)
            followed.add(who.customer_id)
        draw(ledger, campaign, who, f"req-{index}", at=AT.subtract(days=3).add(days=day))
    _assert_stock_kept(ledger, campaign)


def test_replay_with_same_seed_gives_same_draws_in_any_order() -> None:
    campaign = make_campaign(make_pool(stock=None, daily=None), draw_limits=DrawLimits())
    requests = [(f"c{i % 7}", f"req-{i}") for i in range(40)]

    def run(order: list[tuple[str, str]]) -> dict[str, str]:
        ledger = MemoryLedger()
        for customer in sorted({c for c, _ in order}):
            follow(ledger, campaign, entrant(customer))
        return {req: str(draw(ledger, campaign, entrant(c), req).won) for c, req in order}

    assert run(requests) == run(list(reversed(requests)))


def _concurrent_draws(make_ledger: object, tmp_path: Path) -> None:
    campaign = make_campaign(make_pool(stock=5, daily=3, rule=OutOfStock.REDRAW, blank=0),
                             draw_limits=DrawLimits(per_day=1))  # fmt: skip
    setup = make_ledger()  # type: ignore[operator]
    people = [entrant(f"c{i}") for i in range(24)]
    for who in people:
        follow(setup, campaign, who)

    def worker(chunk: list[Entrant]) -> None:
        ledger = make_ledger()  # type: ignore[operator]
        for who in chunk:
            for attempt in range(2):  # the second draw of the day must be refused
                draw(ledger, campaign, who, f"{who.customer_id}-{attempt}")

    threads = [threading.Thread(target=worker, args=(people[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    check = make_ledger()  # type: ignore[operator]
    _assert_stock_kept(check, campaign)
    # With no blank, every first draw wins something: cut20 only 3 today (daily stock), the rest cut5.
    issued = [e for e in check.entries(programme_id=campaign.id) if e.kind is EntryKind.ISSUE]
    assert len(issued) == len(people)
    assert sum(1 for e in issued if e.asset == "coupon:cut20") <= 3
    assert all(check.usage(f"draws:{campaign.id}:{w.person}:2026-11-23") == 1 for w in people)


def test_concurrent_memory_writers(tmp_path: Path) -> None:
    shared = MemoryLedger()
    _concurrent_draws(lambda: shared, tmp_path)


def test_concurrent_sqlite_writers(tmp_path: Path) -> None:
    sqlite = pytest.importorskip("cardbenefits.ledger.sqlite")
    path = tmp_path / "ledger.db"
    _concurrent_draws(lambda: sqlite.SQLiteLedger(path), tmp_path)


def _wallet_issuer(cut20_stock: int | None = None) -> WalletIssuer:
    templates = {
        "cut20": CouponTemplate(
            id="cut20", name="满100减20", effect=ThresholdDiscount(Money.of(100), Money.of(20))
        ),
        "cut5": CouponTemplate(id="cut5", name="5元立减金", effect=InstantDiscount(Money.of(5))),
    }
    pools = {} if cut20_stock is None else {"cut20": CouponPool(id="cut20-pool", template_id="cut20",
                                                                total_stock=cut20_stock)}  # fmt: skip
    return WalletIssuer(templates, pools)


def test_wallet_issuer_puts_the_coupon_in_the_wallet_and_its_redemption_completes_pay() -> None:
    campaign = make_campaign()
    issuer = _wallet_issuer()
    ledger = MemoryLedger()
    who = entrant()
    follow(ledger, campaign, who)
    request = next(f"r{i}" for i in range(200)
                   if draw_number(campaign.seed, campaign.id, f"r{i}").point(100) < 10)  # fmt: skip
    decision = run_draw(ledger, campaign, who, request_id=request, at=AT, issuer=issuer, catalog_version=V)
    assert decision.won == "cut20"
    wallet_coupons = [c for c in ledger.entries(customer_id="c1") if c.kind is EntryKind.ISSUE]
    assert [c.meta["coupon_id"] for c in wallet_coupons] == [f"{campaign.id}:{request}"]
    coupon = Coupon.issue(issuer.templates["cut20"], coupon_id=f"{campaign.id}:{request}", customer_id="c1",
                          at=AT, pool_id=campaign.id)  # fmt: skip
    status = coupon_status(ledger, coupon)
    assert status is not None
    assert status.state is CouponState.ISSUED
    used = redeem_coupon(coupon, payment_id="pay-1", at=AT.add(hours=1), view=ledger, catalog_version=V)
    assert used.batch is not None
    ledger.apply(used.batch)
    redemption = used.batch.entries[0]
    paid = decide_pay(campaign, who, redemption=redemption, at=redemption.at, view=ledger, catalog_version=V)
    assert paid.accepted
    assert paid.render("en") == "Paid with campaign coupon cut20: pay stage completed"


def test_coupon_pool_refusal_counts_as_out_of_stock() -> None:
    campaign = make_campaign(draw_limits=DrawLimits())
    issuer = _wallet_issuer(cut20_stock=1)
    ledger = MemoryLedger()
    # Someone claims the coupon pool's only coupon outside the campaign.
    claimed = wallet_issue(issuer.pools["cut20"], issuer.templates["cut20"], customer_id="other",
                           request_id="x", at=AT, view=ledger)  # fmt: skip
    assert claimed.batch is not None
    ledger.apply(claimed.batch)
    who = entrant()
    follow(ledger, campaign, who)
    request = next(f"r{i}" for i in range(200)
                   if draw_number(campaign.seed, campaign.id, f"r{i}").point(100) < 10)  # fmt: skip
    decision = run_draw(ledger, campaign, who, request_id=request, at=AT, issuer=issuer, catalog_version=V)
    assert decision.outcome is not None
    assert decision.outcome.fallback == "blank"
    assert decision.won is None
    assert "the coupon cannot be issued" in decision.render("en")
    assert ledger.usage("stock:prize:eat-pool:cut20") == 0
