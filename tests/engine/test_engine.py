"""Engine examples from the seed articles and hypothesis properties over event orders and refunds."""

from __future__ import annotations

from decimal import Decimal

import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardbenefits.engine import CapHit, Decision, Engine, OnePerPerson, evaluate_group, progress
from cardbenefits.facts import Transaction
from cardbenefits.ledger import MemoryLedger
from cardbenefits.money import Money
from cardbenefits.programmes import (
    REAL_ESTATE_ETC,
    AccrualReward,
    ActivationLadder,
    BonusMultiplier,
    FixedReward,
    Flooring,
    GroupReward,
    ItemReward,
    Limit,
    LimitMeasure,
    LimitScope,
    PercentReward,
    PeriodUnit,
    Qualifier,
    Tier,
    TransactionProgramme,
)

from .support import ALICE, AT, TZ, card, customer, refund, run, txn

SMALL = TransactionProgramme(
    "cashback50",
    Qualifier(min_amount=Money.of(50), excluded_mccs=REAL_ESTATE_ETC),
    FixedReward(amount=Money.of(5)),
    limits=(
        Limit("monthly", 5, period=PeriodUnit.MONTH),
        Limit("budget", 40, scope=LimitScope.GLOBAL, measure=LimitMeasure.COST),
    ),
)
PERCENT = TransactionProgramme(
    "pct5",
    Qualifier(),
    PercentReward(rate=5, per_transaction_cap=Money.of(20)),
    limits=(Limit("monthly_amount", 50, measure=LimitMeasure.AMOUNT, period=PeriodUnit.MONTH),),
)
POINTS = TransactionProgramme("points", Qualifier(), AccrualReward(asset="points", per=Money.of(20)))
PERIOD_POINTS = TransactionProgramme(
    "ppoints", Qualifier(), AccrualReward(asset="bonus", per=Money.of(20), flooring=Flooring.PERIOD)
)
MILES = TransactionProgramme(
    "miles3x", Qualifier(mccs={"4511"}), AccrualReward(asset="miles", per=Money.of(20), multiplier=3)
)
DOUBLE = TransactionProgramme("double", Qualifier(), BonusMultiplier(base="points", factor=2))


def test_small_multiple_cashback_five_per_month_then_cap_explained() -> None:
    engine, ledger = Engine([SMALL], catalog_version="v1"), MemoryLedger()
    decisions = [run(engine, ledger, txn(i, "50")) for i in range(6)]
    assert ledger.balance("c1", "cashback") == Decimal(25)
    refusal = decisions[-1].refusal("cashback50")
    assert isinstance(refusal.reasons[0], CapHit)
    assert refusal.render("en") == "cashback50: cap monthly reached: 5 of 5 used in 2026-11"
    assert "已达上限" in refusal.render("zh_CN")
    # next month resets
    run(engine, ledger, txn(9, "50", at=pendulum.datetime(2026, 12, 1, tz=TZ)))
    assert ledger.balance("c1", "cashback") == Decimal(30)


def test_excluded_mcc_and_minimum_amount() -> None:
    engine, ledger = Engine([SMALL], catalog_version="v1"), MemoryLedger()
    d1 = run(engine, ledger, txn(1, "500", mcc="9311"))
    d2 = run(engine, ledger, txn(2, "49.99"))
    assert d1.refusal("cashback50").reasons[0].code == "mcc_excluded"  # type: ignore[attr-defined]
    assert d2.refusal("cashback50").reasons[0].code == "min_amount"  # type: ignore[attr-defined]
    assert ledger.balance("c1", "cashback") == 0


def test_percent_cashback_per_transaction_and_period_caps_truncate() -> None:
    engine, ledger = Engine([PERCENT], catalog_version="v1"), MemoryLedger()
    run(engine, ledger, txn(1, "1000"))  # 50 -> capped 20
    run(engine, ledger, txn(2, "399.99"))  # 20.00
    d = run(engine, ledger, txn(3, "400"))  # 20 but only 10 left this month
    assert ledger.balance("c1", "cashback") == Decimal(50)
    assert d.granted("pct5") == Decimal(10)  # type: ignore[attr-defined]
    assert d.grants[0].reasons[1].truncated  # type: ignore[attr-defined]


def test_points_miles_and_doubling_card() -> None:
    engine, ledger = Engine([POINTS, MILES, DOUBLE], catalog_version="v1"), MemoryLedger()
    run(engine, ledger, txn(1, "59.90"))
    run(engine, ledger, txn(2, "100", mcc="4511"))
    assert ledger.balance("c1", "points") == Decimal(2 + 5) * 2
    assert ledger.balance("c1", "miles") == Decimal(15)


def test_period_flooring_and_refund_of_other_transaction() -> None:
    engine, ledger = Engine([PERIOD_POINTS], catalog_version="v1"), MemoryLedger()
    run(engine, ledger, txn(1, "15"))
    run(engine, ledger, txn(2, "10"))
    assert ledger.balance("c1", "bonus") == 1
    run(engine, ledger, refund(1, "t1", "15"))
    assert ledger.balance("c1", "bonus") == 0


def test_replaying_an_event_changes_nothing() -> None:
    engine, ledger = Engine([SMALL], catalog_version="v1"), MemoryLedger()
    run(engine, ledger, txn(1, "60"))
    again = run(engine, ledger, txn(1, "60"))
    assert again.replayed  # type: ignore[attr-defined]
    assert ledger.balance("c1", "cashback") == 5


def test_posting_date_moves_late_posting_to_next_month() -> None:
    late = TransactionProgramme(
        "post",
        Qualifier(time_basis="posting"),
        FixedReward(amount=Money.of(1)),
        limits=(Limit("m", 1, period=PeriodUnit.MONTH),),
    )
    engine, ledger = Engine([late], catalog_version="v1"), MemoryLedger()
    end = pendulum.datetime(2026, 11, 30, 23, tz=TZ)
    run(engine, ledger, txn("a", "10", at=end, posted_at=end))
    d = run(engine, ledger, txn("b", "10", at=end, posted_at=end.add(hours=2)))
    assert d.granted("post") == 1  # type: ignore[attr-defined]


LADDER = ActivationLadder(
    "welcome",
    tiers=(
        Tier("month1", ItemReward(asset="membership:video", units=1), min_spend=Money.of(1000)),
        Tier(
            "three_months",
            ItemReward(asset="service:health_check", units=1, on_clawback="keep"),
            min_count=1,
            periods=3,
        ),
    ),
    qualifier=Qualifier(min_amount=Money.of(10)),
)


def test_ladder_first_month_progress_grant_and_clawback() -> None:
    engine, ledger = Engine(catalog_version="v1", ladders=[LADDER]), MemoryLedger()
    run(engine, ledger, txn(1, "680"))
    text = progress(engine, LADDER, ALICE, ALICE.cards[0], ledger, AT).render("en")
    assert "welcome/month1: spend ¥320.00 more by 2026-11-30" in text
    assert "2026-11-30前再消费¥320.00" in progress(engine, LADDER, ALICE, ALICE.cards[0], ledger, AT).render(
        "zh_CN"
    )
    d = run(engine, ledger, txn(2, "400"))
    assert d.granted("welcome") == 1  # type: ignore[attr-defined]
    assert ledger.balance("c1", "membership:video") == 1
    run(engine, ledger, refund(2, "t2", "100"))
    assert ledger.balance("c1", "membership:video") == 0


def test_ladder_progress_says_expired_when_a_consecutive_month_was_missed() -> None:
    engine, ledger = Engine(catalog_version="v1", ladders=[LADDER]), MemoryLedger()
    # No purchase in November; December qualifies.
    run(engine, ledger, txn(1, "20", at=pendulum.datetime(2026, 12, 10, tz=TZ)))
    state = progress(engine, LADDER, ALICE, ALICE.cards[0], ledger, pendulum.datetime(2026, 12, 11, tz=TZ))
    month1, three = state.tiers
    assert month1.expired
    assert three.expired
    assert three.distance is None
    assert three.deadline is None
    assert three.render("en") == "welcome/three_months: expired"
    assert three.render("zh_CN") == "welcome/three_months: 已过期"
    # Before November ends the same tier is still open, with its deadline.
    early = progress(engine, LADDER, ALICE, ALICE.cards[0], ledger, pendulum.datetime(2026, 11, 20, tz=TZ))
    assert not early.tiers[1].expired
    assert early.tiers[1].deadline == "2026-11-30"


def test_ladder_three_consecutive_months_and_one_per_person() -> None:
    engine, ledger = Engine(catalog_version="v1", ladders=[LADDER]), MemoryLedger()
    for i, month in enumerate((11, 12, 1)):
        year = 2026 if month > 2 else 2027
        run(engine, ledger, txn(i, "20", at=pendulum.datetime(year, month, 15, tz=TZ)))
    assert ledger.balance("c1", "service:health_check") == 1
    second = customer("c2", "p1", cards=(card("k9"),))
    last: Decision | None = None
    for i, month in enumerate((11, 12, 1)):
        year = 2026 if month > 2 else 2027
        t = txn(f"x{i}", "20", at=pendulum.datetime(year, month, 15, tz=TZ), cid="c2", card_id="k9")
        last = run(engine, ledger, t, second)
    assert ledger.balance("c2", "service:health_check") == 0
    assert last is not None
    refusal = last.refusal("welcome")
    assert refusal is not None
    assert refusal.tier_id == "three_months"
    assert isinstance(refusal.reasons[0], OnePerPerson)
    assert "one per person" in refusal.render("en")
    assert "c1/k1" in refusal.render("en")
    assert "每人限领一次" in refusal.render("zh_CN")


def test_group_reward_at_eighty_percent() -> None:
    group = GroupReward("team80", reward=ItemReward(asset="fund:team", amount=Money.of(5000)))
    engine, ledger = Engine(catalog_version="v1"), MemoryLedger()
    members = [
        customer(f"e{i}", f"pe{i}", cards=(card(activated_at=AT if i < 4 else None),), employer_group="acme")
        for i in range(5)
    ]
    idle = [customer(f"e{i}", f"pe{i}", employer_group="acme") for i in (8, 9)]
    d = evaluate_group(engine, group, "acme", members[:4] + idle, ledger, AT)
    assert d.refusals
    assert not d.grants
    assert d.refusals[0].render("en") == "team80: group activation 4/6 (need 5, 80%)"
    d = evaluate_group(engine, group, "acme", members, ledger, AT)
    ledger.apply(d.batch)
    assert ledger.balance("group:acme", "fund:team") == 5000


# -- properties ---------------------------------------------------------------------------------

amounts = st.decimals(min_value=1, max_value=600, places=2)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(amounts, st.integers(0, 100)), min_size=1, max_size=25), st.randoms())
def test_caps_and_budget_never_exceeded_and_full_refunds_leave_nothing(
    spends: list[tuple[Decimal, int]], rnd: object
) -> None:
    engine = Engine([SMALL, PERCENT, POINTS, PERIOD_POINTS, DOUBLE], catalog_version="v1")
    ledger = MemoryLedger()
    events: list[Transaction] = [txn(i, str(a)) for i, (a, _r) in enumerate(spends)]
    rnd.shuffle(events)  # type: ignore[attr-defined]
    for e in events:
        run(engine, ledger, e)
        counters = ledger.counters()
        assert all(v <= 5 for k, v in counters.items() if k.startswith("cap:cashback50:monthly"))
        assert all(v <= 40 for k, v in counters.items() if k.startswith("budget:cashback50"))
        assert ledger.balance("c1", "cashback") >= 0
    # refund everything, in random pieces and order
    refunds = []
    for i, (a, r) in enumerate(spends):
        part = (a * r / 100).quantize(Decimal("0.01"))
        if 0 < part < a:
            refunds += [refund(f"{i}a", f"t{i}", str(part)), refund(f"{i}b", f"t{i}", str(a - part))]
        else:
            refunds.append(refund(i, f"t{i}", str(a)))
    rnd.shuffle(refunds)  # type: ignore[attr-defined]
    for r in refunds:
        run(engine, ledger, r)
    for asset in ("cashback", "points", "bonus"):
        assert ledger.balance("c1", asset) == 0, asset
    assert all(v == 0 for k, v in ledger.counters().items() if not k.startswith("refunded:"))


@settings(max_examples=40, deadline=None)
@given(amounts, st.integers(1, 99))
def test_partial_refund_leaves_what_the_remainder_earns(amount: Decimal, pct: int) -> None:
    engine, ledger = Engine([SMALL, POINTS, PERCENT], catalog_version="v1"), MemoryLedger()
    run(engine, ledger, txn(1, str(amount)))
    part = (amount * pct / 100).quantize(Decimal("0.01"))
    if part <= 0 or part >= amount:
        return
    run(engine, ledger, refund(1, "t1", str(part)))
    fresh_engine, fresh = Engine([SMALL, POINTS, PERCENT], catalog_version="v1"), MemoryLedger()
    run(fresh_engine, fresh, txn(1, str(amount - part)))
    for asset in ("cashback", "points"):
        assert ledger.balance("c1", asset) == fresh.balance("c1", asset), asset


def test_full_refund_beyond_original_is_refused() -> None:
    from cardbenefits.errors import EngineError

    engine, ledger = Engine([SMALL], catalog_version="v1"), MemoryLedger()
    run(engine, ledger, txn(1, "60"))
    with pytest.raises(EngineError, match="refund exceeds"):
        engine.decide(ALICE, refund("x", "t1", "60.01"), ledger)
