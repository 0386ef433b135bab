"""The batch evaluator decides exactly what the engine decides (every figure, every counter)."""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from decimal import Decimal
from typing import Any

import pendulum
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cardbenefits.engine import Engine
from cardbenefits.engine.batch import (
    BatchEvaluator,
    FrameRows,
    ProgrammeTotals,
    Rows,
    ladder_windows,
    window_frame,
)
from cardbenefits.errors import EngineError
from cardbenefits.facts import CardHolding, Customer, Transaction, event_sort_key
from cardbenefits.ledger import MemoryLedger
from cardbenefits.money import Money
from cardbenefits.programmes import (
    AccrualReward,
    ActivationLadder,
    BonusMultiplier,
    FixedReward,
    ItemReward,
    Limit,
    PercentReward,
    Qualifier,
    Tier,
    TransactionProgramme,
)
from cardbenefits.rules import parse
from cardbenefits.simulate.metrics import MetricsCollector
from cardbenefits.simulate.replay import _tier_costs, reason_code

TZ = "Asia/Shanghai"
START = pendulum.datetime(2026, 10, 25, tz=TZ)
EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


def _card(
    card_id: str, product: str, tier: str, approved: str, billing_day: int, activated: str | None = None
) -> CardHolding:
    return CardHolding(card_id, product, tier, approved, activated_at=activated, billing_day=billing_day)


PEOPLE = {
    c.id: c
    for c in (
        Customer(
            "c0", "p0", tags={"gamer"}, cards=(_card("k0", "youth", "classic", "2026-01-05T09:00+08:00", 5),)
        ),
        Customer("c1", "p0", cards=(_card("k1", "career", "gold", "2025-03-01T09:00+08:00", 31),)),
        Customer(
            "c2", "p2", tags={"gamer"}, cards=(_card("k2", "career", "gold", "2024-06-01T09:00+08:00", 20),)
        ),
        # new cards: activation ladders count their first months (same person: one per person)
        Customer(
            "c3",
            "p3",
            cards=(_card("k3", "youth", "classic", "2026-10-20T10:00+08:00", 12, "2026-10-28T08:00+08:00"),),
        ),
        Customer(
            "c4",
            "p3",
            new_to_bank=False,
            cards=(_card("k4", "youth", "classic", "2026-10-31T23:30+08:00", 1),),
        ),
    )
}
MCCS = ["5411", "5812", "6011", "4511"]


def _us(at: _dt.datetime) -> int:
    d = at - EPOCH
    return (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds


def rows_of(engine: Engine, events: list[Transaction], framed: bool = False) -> Rows | FrameRows:
    """The evaluator's input: plain lists, or a polars frame (its vectorized path)."""
    rows = Rows.of(events, engine)
    return FrameRows.of_rows(rows) if framed else rows


limits = st.builds(
    Limit,
    id=st.sampled_from(["a", "b", "c"]),
    maximum=st.sampled_from([1, 3, 5, 12, 40, 200]),
    scope=st.sampled_from(["customer", "person", "global"]),
    measure=st.sampled_from(["count", "amount", "cost"]),
    period=st.sampled_from(["day", "month", "statement", "campaign"]),
)


@st.composite
def programmes(draw: Any) -> list[TransactionProgramme]:
    out: list[TransactionProgramme] = []
    for i in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["fixed", "percent", "accrual", "period", "bonus"]))
        accruals = [p.id for p in out if isinstance(p.reward, AccrualReward)]
        if kind == "bonus" and not accruals:
            kind = "accrual"
        qualifier = Qualifier(
            kinds=draw(st.sampled_from([{"purchase"}, {"purchase", "cash_advance"}])),
            min_amount=draw(st.sampled_from([None, Money.of(10), Money.of(50)])),
            excluded_mccs=draw(st.sampled_from([set(), {"6011"}])),
            mccs=draw(st.sampled_from([None, None, {"5411", "5812"}])),
            channels=draw(st.sampled_from([None, None, {"online"}])),
            time_basis=draw(st.sampled_from(["transaction", "transaction", "posting"])),
        )
        reward: Any
        cost = Money.zero()
        chosen = draw(st.lists(limits, max_size=2, unique_by=lambda lim: lim.id))
        period = draw(st.sampled_from(["month", "day", "statement"]))
        if kind == "fixed":
            reward = FixedReward(amount=Money.of(draw(st.sampled_from(["5", "0.5", "12.34"]))))
        elif kind == "percent":
            cap = draw(st.sampled_from([None, Money.of(3)]))
            rounding = draw(st.sampled_from(["half_up", "down", "half_even"]))
            rate = draw(st.sampled_from(["1", "2.5", "5"]))
            reward = PercentReward(rate, per_transaction_cap=cap, rounding=rounding)
        elif kind in ("accrual", "period"):
            reward = AccrualReward("points", Money.of(draw(st.sampled_from(["20", "7.5"]))),
                                   units=draw(st.sampled_from([1, 2])),
                                   flooring="period" if kind == "period" else "transaction")  # fmt: skip
            cost = Money.of("0.01")
            if kind == "period":
                chosen = [lim for lim in chosen if lim.measure.value != "count"]
        else:
            reward = BonusMultiplier(draw(st.sampled_from(accruals)), draw(st.sampled_from(["1.5", "2"])))
            cost = Money.of("0.01")
        eligibility = draw(st.sampled_from([None, None, parse('tags has any of {"gamer"}')]))
        valid_from = draw(st.sampled_from([None, START.add(days=9)]))
        out.append(TransactionProgramme(f"p{i}", qualifier, reward, limits=tuple(chosen),
                                        eligibility=eligibility, period=period, valid_from=valid_from,
                                        cost_per_unit=cost))  # fmt: skip
    return out


@st.composite
def streams(draw: Any, who: tuple[str, ...] = tuple(sorted(PEOPLE))) -> list[Transaction]:
    events: list[Transaction] = []
    left: dict[str, tuple[Transaction, Decimal]] = {}
    for i in range(draw(st.integers(1, 60))):
        at = START.add(hours=draw(st.integers(0, 24 * 70)), minutes=draw(st.integers(0, 59)))
        open_ = [t for t, rest in left.values() if rest > 0 and t.transacted_at <= at]
        if open_ and draw(st.integers(0, 3)) == 0:
            original = draw(st.sampled_from(sorted(open_, key=lambda t: t.id)))
            rest = left[original.id][1]
            kind = draw(st.sampled_from(["refund", "refund", "reversal"]))
            amount = (
                rest if kind == "reversal" or draw(st.booleans()) else (rest / 2).quantize(Decimal("0.01"))
            )
            if amount <= 0:
                continue
            left[original.id] = (original, rest - amount)
            events.append(Transaction(f"r{i}", original.customer_id, original.card_id, Money(amount, "CNY"),
                                      "m1", original.mcc, original.channel, kind, at,
                                      refund_of=original.id))  # fmt: skip
            continue
        cid = draw(st.sampled_from(who))
        amount = Decimal(draw(st.integers(100, 40_000))) / 100
        posted = at.add(days=draw(st.sampled_from([0, 0, 1, 3])))
        t = Transaction(f"t{i}", cid, PEOPLE[cid].cards[0].card_id, Money(amount, "CNY"), "m1",
                        draw(st.sampled_from(MCCS)), draw(st.sampled_from(["pos", "online"])),
                        draw(st.sampled_from(["purchase", "purchase", "purchase", "cash_advance"])), at,
                        posted_at=posted)  # fmt: skip
        events.append(t)
        left[t.id] = (t, amount)
    return sorted(events, key=event_sort_key)


def reference(engine: Engine, events: list[Transaction]) -> tuple[MetricsCollector, MemoryLedger]:
    ledger = MemoryLedger()
    metrics = MetricsCollector(timezone=engine.timezone, tier_costs=_tier_costs(engine))
    for t in events:
        decision = engine.decide(PEOPLE[t.customer_id], t, ledger)
        ledger.apply(decision.batch)
        metrics.on_batch(decision.batch)
        for refusal in decision.refusals:
            metrics.on_refusal(refusal.programme_id, reason_code(refusal.reasons[0]))
    return metrics, ledger


def assert_same(
    engine: Engine, events: list[Transaction], chunks: int = 1, framed: bool = False
) -> BatchEvaluator:
    metrics, ledger = reference(engine, events)
    batch = BatchEvaluator(engine, PEOPLE)
    size = max(1, -(-len(events) // chunks))
    for start in range(0, len(events), size):
        batch.run(rows_of(engine, events[start : start + size], framed))
    expected = metrics.result(tuple(p.id for p in engine.programmes) + tuple(x.id for x in engine.ladders))
    for pid, totals in batch.totals.items():
        row = expected.programmes[pid]
        assert dict(sorted((+totals.tiers | -totals.tiers).items())) == {
            k: v for k, v in row.tiers.items() if v
        }
        assert isinstance(totals, ProgrammeTotals)
        burn: list[tuple[str, Decimal]] = []
        running = Decimal(0)
        for day in sorted(totals.cost_by_day):
            running += totals.cost_by_day[day]
            burn.append((day, running))
        quantity, refusals = dict(sorted(totals.quantity.items())), dict(sorted(totals.refusals.items()))
        got = (totals.grants, totals.clawbacks, len(totals.customers), totals.cost, totals.clawback_cost,
               quantity, tuple(burn), refusals)  # fmt: skip
        want = (row.grants, row.clawbacks, row.customers_reached, row.issuer_cost, row.clawback_cost,
                row.quantity, row.burn, row.refusals)  # fmt: skip
        assert got == want, pid
    assert (len(batch.refunds), sum(batch.refunds.values(), Decimal(0))) == (
        expected.refunds,
        expected.refunded_amount,
    )
    nonzero = {k: v for k, v in ledger.counters().items() if v != 0}
    assert {k: v for k, v in batch.counters.items() if v != 0} == nonzero
    return batch


@pytest.mark.parametrize("framed", [False, True], ids=["lists", "frame"])
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programmes(), streams(), st.integers(1, 4))
def test_batch_decides_what_the_engine_decides(
    framed: bool, chosen: list[TransactionProgramme], events: list[Transaction], chunks: int
) -> None:
    engine = Engine(chosen, catalog_version="v1", timezone=TZ)
    assert_same(engine, events, chunks, framed)


@st.composite
def ladders(draw: Any) -> ActivationLadder:
    policy = draw(st.sampled_from(["reverse", "charge", "keep"]))
    charge = Money.of(30) if policy == "charge" else None

    def reward(asset: str, cost: int) -> ItemReward:
        if asset == "cashback":
            return ItemReward(asset, amount=Money.of(cost), on_clawback=policy, charge=charge)
        return ItemReward(asset, units=draw(st.sampled_from([1, 3])), cost=Money.of(cost), on_clawback=policy,
                          charge=charge)  # fmt: skip

    tiers = [
        Tier(
            "first",
            reward("membership:video", 12),
            min_spend=Money.of(draw(st.sampled_from([100, 300]))),
            first_period=draw(st.sampled_from([0, 1])),
        ),
        Tier(
            "three",
            reward("service:health", 260),
            min_spend=Money.of(100),
            first_period=0,
            periods=draw(st.sampled_from([2, 3])),
        ),
        Tier(
            "quick",
            reward("cashback", 50),
            min_spend=Money.of(200),
            min_count=2,
            within_days=draw(st.sampled_from([10, 30])),
        ),
    ]
    chosen = draw(st.lists(st.sampled_from(tiers), min_size=1, max_size=3, unique_by=lambda t: t.id))
    stock = (Limit("stock", 2, scope="global"),)
    budget = (Limit("budget", 300, scope="global", measure="cost"),)
    limits = draw(st.sampled_from([(), stock, budget]))
    qualifier = Qualifier(min_amount=draw(st.sampled_from([None, Money.of(20)])), excluded_mccs={"6011"})
    return ActivationLadder(
        "welcome",
        tuple(chosen),
        qualifier,
        anchor=draw(st.sampled_from(["approval", "activation"])),
        basis=draw(st.sampled_from(["month", "statement"])),
        limits=limits,
        one_per_person=draw(st.booleans()),
        eligibility=draw(st.sampled_from([None, None, parse("not new_to_bank")])),
    )


@pytest.mark.parametrize("framed", [False, True], ids=["lists", "frame"])
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programmes(), ladders(), streams(("c0", "c3", "c3", "c4", "c4")), st.integers(1, 3))
def test_batch_decides_ladders_as_the_engine_does(
    framed: bool,
    chosen: list[TransactionProgramme],
    ladder: ActivationLadder,
    events: list[Transaction],
    chunks: int,
) -> None:
    engine = Engine(chosen, ladders=[ladder], catalog_version="v1", timezone=TZ)
    batch = assert_same(engine, events, chunks, framed)
    assert "welcome" in batch.totals


def test_points_clawback_is_priced_like_the_grant() -> None:
    points = TransactionProgramme("pts", Qualifier(), AccrualReward("points", Money.of(20)),
                                  cost_per_unit=Money.of("0.01"))  # fmt: skip
    engine = Engine([points], catalog_version="v1", timezone=TZ)
    buy = Transaction("t1", "c0", "k0", Money.of(200), "m1", "5411", "pos", "purchase", START)
    back = Transaction("r1", "c0", "k0", Money.of(100), "m1", "5411", "pos", "refund", START.add(days=1),
                       refund_of="t1")  # fmt: skip
    batch = assert_same(engine, [buy, back])
    totals = batch.totals["pts"]
    assert (totals.cost, totals.clawback_cost, totals.quantity) == (
        Decimal("0.05"),
        Decimal("0.05"),
        {"points": Decimal(5)},
    )


def test_refund_beyond_the_original_raises_like_the_engine() -> None:
    cash = TransactionProgramme("cash", Qualifier(), FixedReward(amount=Money.of(5)))
    engine = Engine([cash], catalog_version="v1", timezone=TZ)
    buy = Transaction("t1", "c0", "k0", Money.of(60), "m1", "5411", "pos", "purchase", START)
    back = Transaction("r1", "c0", "k0", Money.of(61), "m1", "5411", "pos", "refund", START, refund_of="t1")
    with pytest.raises(EngineError) as expected:
        reference(engine, [buy, back])
    batch = BatchEvaluator(engine, PEOPLE)
    with pytest.raises(EngineError) as got:
        batch.run(rows_of(engine, [buy, back]))
    assert (str(got.value), got.value.path) == (str(expected.value), expected.value.path)


@pytest.mark.parametrize("framed", [False, True], ids=["lists", "frame"])
def test_unknown_customer_is_an_error_naming_the_row(framed: bool) -> None:
    cash = TransactionProgramme("cash", Qualifier(), FixedReward(amount=Money.of(5)))
    engine = Engine([cash], catalog_version="v1", timezone=TZ)
    known = Transaction("t1", "c0", "k0", Money.of(60), "m1", "5411", "pos", "purchase", START)
    later = START.add(hours=1)
    stranger = Transaction("t9", "c9", "k9", Money.of(60), "m1", "5411", "pos", "purchase", later)
    batch = BatchEvaluator(engine, PEOPLE)
    with pytest.raises(EngineError, match="unknown customer") as caught:
        batch.run(rows_of(engine, [known, stranger], framed))
    assert caught.value.path == "t9.customer_id"
    assert batch.totals["cash"].grants == 1  # the rows before it are decided


def test_refusals_are_counted_by_reason_code() -> None:
    small = TransactionProgramme("small", Qualifier(min_amount=Money.of(50), excluded_mccs={"6011"}),
                                 FixedReward(amount=Money.of(5)),
                                 limits=(Limit("monthly", 1, period="month"),))  # fmt: skip
    engine = Engine([small], catalog_version="v1", timezone=TZ)
    events = [
        Transaction(f"t{i}", "c0", "k0", Money.of(amount), "m1", mcc, "pos", "purchase", START.add(hours=i))
        for i, (amount, mcc) in enumerate([(60, "5411"), (60, "5411"), (20, "5411"), (80, "6011")])
    ]
    batch = assert_same(engine, events)
    assert batch.totals["small"].refusals == Counter(
        {"cap:monthly": 1, "not_qualified:min_amount": 1, "not_qualified:mcc_excluded": 1}
    )


def test_ladder_one_per_person_and_a_tier_earned_again_after_a_clawback() -> None:
    quick = Tier("quick", ItemReward("membership:video", units=1, cost=Money.of(12)), min_spend=Money.of(200),
                 within_days=30)  # fmt: skip
    ladder = ActivationLadder("welcome", (quick,), Qualifier(), one_per_person=True)
    engine = Engine([], ladders=[ladder], catalog_version="v1", timezone=TZ)

    def buy(i: str, cid: str, amount: int, day: int, of: str | None = None) -> Transaction:
        kind = "refund" if of else "purchase"
        card = PEOPLE[cid].cards[0].card_id
        return Transaction(
            i, cid, card, Money.of(amount), "m1", "5411", "pos", kind, START.add(days=day), refund_of=of
        )

    events = [
        buy("t1", "c3", 250, 0),  # c3 reaches the tier
        buy("r1", "c3", 100, 1, of="t1"),  # 150 left: clawed back
        buy("t2", "c3", 100, 2),  # 250 again: granted again
        buy("t3", "c4", 250, 8),  # same person on another card: refused
        buy("r2", "c3", 100, 9, of="t2"),  # clawed back again (the second grant)
    ]
    batch = assert_same(engine, sorted(events, key=event_sort_key))
    totals = batch.totals["welcome"]
    assert (totals.grants, totals.clawbacks, dict(totals.refusals)) == (2, 2, {"OnePerPerson": 1})


def test_a_horizon_forgets_old_transactions_as_the_windowed_ledger_does() -> None:
    from datetime import timedelta

    from cardbenefits.ledger.windowed import WindowedLedger

    cash = TransactionProgramme("cash", Qualifier(), FixedReward(amount=Money.of(5)))
    engine = Engine([cash], catalog_version="v1", timezone=TZ)
    late = START.add(days=20)

    def txn(i: str, cid: str, at: Any, of: str | None = None) -> Transaction:
        kind = "refund" if of else "purchase"
        card = PEOPLE[cid].cards[0].card_id
        return Transaction(i, cid, card, Money.of(60), "m1", "5411", "pos", kind, at, refund_of=of)

    events = [
        txn("t1", "c0", START),
        txn("t2", "c0", START.add(days=8)),
        txn("t3", "c1", late),
        txn("r1", "c0", late, of="t1"),
        txn("r2", "c0", late, of="t2"),
    ]
    ledger = WindowedLedger(horizon=timedelta(days=15))
    for t in events:
        ledger.apply(engine.decide(PEOPLE[t.customer_id], t, ledger).batch)
    batch = BatchEvaluator(engine, PEOPLE, horizon=timedelta(days=15))
    for t in events:
        batch.run(rows_of(engine, [t]))
    # t1 (20 days before the refund) is forgotten by both; t2 (12 days) is clawed back by both
    batch._prune()  # and its memory goes (pruning is amortized: not after every chunk)
    assert (batch.totals["cash"].clawbacks, batch.forgotten) == (1, 1)
    assert batch.usage("refunded:t1") == 0
    assert ledger.balance("c0", "cashback") == Decimal(5) == batch.totals["cash"].cost - 5


def test_a_spent_budget_refunded_in_the_same_chunk_grants_again() -> None:
    once = TransactionProgramme("once", Qualifier(), FixedReward(amount=Money.of(5)),
                                limits=(Limit("budget", 1, scope="global"),))  # fmt: skip
    engine = Engine([once], catalog_version="v1", timezone=TZ)

    def txn(i: str, cid: str, hours: int, of: str | None = None) -> Transaction:
        kind = "refund" if of else "purchase"
        card = PEOPLE[cid].cards[0].card_id
        return Transaction(
            i, cid, card, Money.of(60), "m1", "5411", "pos", kind, START.add(hours=hours), refund_of=of
        )

    events = [txn("t1", "c0", 0), txn("t2", "c1", 1), txn("t3", "c2", 2), txn("r1", "c0", 3, of="t1"),
              txn("t4", "c1", 4), txn("t5", "c2", 5)]  # fmt: skip
    batch = assert_same(engine, events)
    assert (batch.totals["once"].grants, dict(batch.totals["once"].refusals)) == (2, {"stock:budget": 3})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ladders(), st.sampled_from([None, 0, _us(START), _us(START) + 40 * 86_400_000_000]),
       st.sampled_from([TZ, "America/New_York", "UTC"]))  # fmt: skip
def test_window_frame_is_ladder_windows_column_wise(
    ladder: ActivationLadder, since: int | None, tz: str
) -> None:
    engine = Engine([], ladders=[ladder], catalog_version="v1", timezone=tz)
    frame = window_frame(engine, ladder, PEOPLE, since)
    got = {card: (lo, hi) for card, lo, hi in frame.iter_rows()}
    assert got == ladder_windows(engine, ladder, PEOPLE, since)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.sampled_from(["t1", "t2", "t3", "t10", "t4"]), min_size=1, max_size=12),
    st.lists(st.sampled_from(["t0", "t1", "t2", "t3", "t10", "t4", "t9"]), max_size=6),
    st.booleans(),
)
def test_kept_chunks_find_the_last_row_of_each_id(ids: list[str], wanted: list[str], ordered: bool) -> None:
    import polars as pl

    from cardbenefits.engine.batch import _Kept

    ids = sorted(ids) if ordered else ids
    kept = _Kept(pl.DataFrame({"id": ids, "row": range(len(ids))}))
    want = sorted(set(wanted))
    last = {tid: i for i, tid in enumerate(ids)}
    expected = sorted(((tid, i) for tid, i in last.items() if tid in want), key=lambda r: r[1])
    assert kept.find(want).rows() == expected


def test_amounts_finer_than_the_frame_decimals_are_decided_in_python() -> None:
    """Amounts with more than 8 decimals cannot be cast exactly: the frame path decides them as lists do."""
    points = TransactionProgramme("pts", Qualifier(min_amount=Money.of("50")),
                                  AccrualReward(asset="points", per=Money.of(20)))  # fmt: skip
    cash = TransactionProgramme("cash", Qualifier(min_amount=Money.of("50")), FixedReward(amount=Money.of(5)))
    engine = Engine([points, cash], catalog_version="v1", timezone=TZ)
    amounts = [Decimal("49.999999999"), Decimal("50.000000001"), Decimal("60"), Decimal("39.999999999")]
    n = len(amounts)
    columns = {
        "id": [f"t{i}" for i in range(n)], "customer_id": ["c0"] * n, "card_id": ["k0"] * n,
        "merchant_id": ["m1"] * n, "mcc": ["5411"] * n, "channel": ["pos"] * n, "kind": ["purchase"] * n,
        "amount": amounts, "currency": ["CNY"] * n, "refund_of": [None] * n,
        "at_us": [_us(START) + i for i in range(n)], "posted_us": [_us(START) + i for i in range(n)],
        "day": ["2026-10-25"] * n, "posted_day": ["2026-10-25"] * n,
    }  # fmt: skip
    lists, frames = BatchEvaluator(engine, PEOPLE), BatchEvaluator(engine, PEOPLE)
    lists.run(Rows(**columns))
    frames.run(FrameRows.of_columns(columns))
    for pid in ("pts", "cash"):
        a, b = lists.totals[pid], frames.totals[pid]
        assert (a.grants, a.quantity, a.cost, a.refusals) == (b.grants, b.quantity, b.cost, b.refusals)
    assert lists.totals["cash"].grants == 2
    assert dict(lists.totals["pts"].refusals) == {"not_qualified:min_amount": 2}
