"""Races, concurrent SQLite writers, ladder refusals, group clawback, calendar and fast constructors."""

from __future__ import annotations

import multiprocessing
from decimal import Decimal
from pathlib import Path

import attrs
import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardbenefits.engine import (
    CapHit,
    Decision,
    Engine,
    GroupRate,
    Ineligible,
    LocalCalendar,
    RaceLost,
    build,
    decide_and_apply,
    evaluate_group,
)
from cardbenefits.ledger import MemoryLedger, SQLiteLedger
from cardbenefits.ledger.entries import Charge, EntryKind, FrozenMap, LedgerEntry
from cardbenefits.ledger.protocol import LedgerView
from cardbenefits.money import Money
from cardbenefits.periods import CalendarDay, CalendarMonth, StatementCycle
from cardbenefits.programmes import (
    ActivationLadder,
    FixedReward,
    GroupReward,
    ItemReward,
    Limit,
    LimitMeasure,
    LimitScope,
    PeriodUnit,
    Qualifier,
    Tier,
    TransactionProgramme,
)
from cardbenefits.rules import parse

from .support import ALICE, AT, TZ, card, customer, run, txn

BUDGETED = TransactionProgramme(
    "bonus10",
    Qualifier(),
    FixedReward(amount=Money.of(10)),
    limits=(Limit("budget", 30, scope=LimitScope.GLOBAL, measure=LimitMeasure.COST),),
)


# -- decide_and_apply --------------------------------------------------------------------------
class _Racer:
    """A ledger whose view hides another writer's grant until the first apply is attempted."""

    def __init__(self, engine: Engine, rival_gets_there_first: int) -> None:
        self.ledger = MemoryLedger()
        self.engine = engine
        self.races = rival_gets_there_first
        self.decisions: list[Decision] = []

    def decide(self, view: LedgerView) -> Decision:
        decision = self.engine.decide(ALICE, txn("mine", "80"), view)
        self.decisions.append(decision)
        if self.races:
            # between this decision and its apply, a rival spends the headroom
            self.races -= 1
            rival = customer(f"rival{self.races}", f"q{self.races}", cards=(card("k2"),))
            other = self.engine.decide(
                rival, txn(f"rival{self.races}", "80", cid=rival.id, card_id="k2"), view
            )
            self.ledger.apply(other.batch)
        return decision


def test_lost_race_is_redecided_against_fresh_state() -> None:
    engine = Engine([BUDGETED], catalog_version="v1")
    racer = _Racer(engine, rival_gets_there_first=1)
    run(engine, racer.ledger, txn("a", "80"))
    run(engine, racer.ledger, txn("b", "80"))  # 20 of 30 used; room for one more
    final = decide_and_apply(racer.decide, racer.ledger)
    assert len(racer.decisions) == 2
    assert racer.decisions[0].granted("bonus10") == 10  # decided on stale state, refused by the ledger
    assert final.granted("bonus10") == 0  # re-decided: the budget is spent
    refusal = final.refusal("bonus10")
    assert refusal is not None
    assert isinstance(refusal.reasons[0], CapHit)
    assert racer.ledger.usage("budget:bonus10:budget:all:all") == 30
    assert racer.ledger.has_applied(engine.key("tmine"))


def test_race_lost_every_time_drops_the_grant_with_racelost() -> None:
    engine = Engine([BUDGETED], catalog_version="v1")
    ledger = MemoryLedger()
    run(engine, ledger, txn("a", "80"))
    run(engine, ledger, txn("b", "80"))
    stale = engine.decide(ALICE, txn("mine", "80"), ledger)  # fits: 10 of the last 10
    run(engine, ledger, txn("c", "80"))  # a rival takes the last 10

    def always_stale(view: LedgerView) -> Decision:
        return stale

    final = decide_and_apply(always_stale, ledger, attempts=2)
    assert final.grants == ()
    refusal = final.refusal("bonus10")
    assert refusal is not None
    reason = refusal.reasons[-1]
    assert isinstance(reason, RaceLost)
    assert reason.counter == "budget:bonus10:budget:all:all"
    assert "lost a race" in reason.render("en")
    assert ledger.has_applied(engine.key("tmine"))
    assert ledger.balance("c1", "cashback") == 30  # a, b and c; not "mine"
    assert ledger.usage("budget:bonus10:budget:all:all") == 30


# -- concurrent SQLite writers -----------------------------------------------------------------
def _writer(path: str, worker: int, n: int) -> None:
    engine = Engine([BUDGETED], catalog_version="v1")
    ledger = SQLiteLedger(path)
    who = customer(f"w{worker}", f"pw{worker}")
    for i in range(n):
        t = txn(f"{worker}-{i}", "80", cid=who.id)
        decide_and_apply(lambda view, t=t: engine.decide(who, t, view), ledger, attempts=5)


def test_concurrent_sqlite_writers_never_exceed_the_budget(tmp_path: Path) -> None:
    path = str(tmp_path / "ledger.db")
    SQLiteLedger(path)  # create the schema once
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_writer, args=(path, w, 8)) for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(120)
        assert p.exitcode == 0
    ledger = SQLiteLedger(path)
    granted = sum(ledger.balance(f"w{w}", "cashback") for w in range(4))
    assert ledger.usage("budget:bonus10:budget:all:all") == granted == 30
    assert sum(1 for _ in ledger.batches()) == 32  # every event decided once (granted or not)


# -- ladders -----------------------------------------------------------------------------------
def test_ladder_eligibility_failure_is_refused_with_the_rule_trace() -> None:
    ladder = ActivationLadder(
        "welcome",
        tiers=(Tier("month1", ItemReward(asset="membership:video", units=1), min_spend=Money.of(100)),),
        eligibility=parse("new_to_bank"),
    )
    engine, ledger = Engine(catalog_version="v1", ladders=[ladder]), MemoryLedger()
    d = run(engine, ledger, txn(1, "500"))
    refusal = d.refusal("welcome")
    assert refusal is not None
    reason = refusal.reasons[0]
    assert isinstance(reason, Ineligible)
    assert "new_to_bank" in refusal.render("en")
    assert "new_to_bank is false" in reason.trace
    assert ledger.balance("c1", "membership:video") == 0
    newcomer = customer(new_to_bank=True)
    d = run(engine, ledger, txn(2, "500"), newcomer)
    assert d.granted("welcome") == 1


def test_statement_cycle_ladder_counts_from_the_card_billing_day() -> None:
    ladder = ActivationLadder(
        "stmt",
        tiers=(Tier("c0", ItemReward(asset="membership:video", units=1), min_spend=Money.of(100)),),
        basis="statement",
    )
    engine, ledger = Engine(catalog_version="v1", ladders=[ladder]), MemoryLedger()
    who = customer(cards=(card(approved=pendulum.datetime(2026, 11, 2, tz=TZ), billing_day=5),))
    run(engine, ledger, txn(1, "60", at=pendulum.datetime(2026, 11, 5, 20, tz=TZ)), who)
    d = run(engine, ledger, txn(2, "60", at=pendulum.datetime(2026, 11, 6, 9, tz=TZ)), who)  # next cycle
    assert d.granted("stmt") == 0
    d = run(engine, ledger, txn(3, "40", at=pendulum.datetime(2026, 11, 4, 9, tz=TZ)), who)
    assert d.granted("stmt") == 1


# -- group rewards -----------------------------------------------------------------------------
GROUP = GroupReward(
    "team80",
    reward=ItemReward(asset="fund:team", amount=Money.of(5000)),
    deadline=pendulum.datetime(2026, 12, 31, tz=TZ),
)


def _staff(n_active: int, n_idle: int) -> list[object]:
    active = [
        customer(f"a{i}", f"pa{i}", cards=(card(activated_at=AT),), employer_group="acme")
        for i in range(n_active)
    ]
    idle = [customer(f"i{i}", f"pi{i}", employer_group="acme") for i in range(n_idle)]
    return [*active, *idle]


def test_group_reward_clawed_back_when_the_rate_falls_before_the_deadline_and_regranted() -> None:
    engine, ledger = Engine(catalog_version="v1", group_rewards=[GROUP]), MemoryLedger()
    d = evaluate_group(engine, GROUP, "acme", _staff(4, 1), ledger, AT)  # type: ignore[arg-type]
    ledger.apply(d.batch)
    assert ledger.balance("group:acme", "fund:team") == 5000
    later = AT.add(days=10)
    d = evaluate_group(engine, GROUP, "acme", _staff(4, 2), ledger, later)  # type: ignore[arg-type]
    ledger.apply(d.batch)
    assert d.grants[0].kind is EntryKind.CLAWBACK
    assert isinstance(d.grants[0].reasons[0], GroupRate)
    assert ledger.balance("group:acme", "fund:team") == 0
    d = evaluate_group(engine, GROUP, "acme", _staff(8, 2), ledger, later.add(days=1))  # type: ignore[arg-type]
    ledger.apply(d.batch)
    assert ledger.balance("group:acme", "fund:team") == 5000


def test_group_reward_is_final_after_the_deadline() -> None:
    engine, ledger = Engine(catalog_version="v1", group_rewards=[GROUP]), MemoryLedger()
    ledger.apply(evaluate_group(engine, GROUP, "acme", _staff(4, 1), ledger, AT).batch)  # type: ignore[arg-type]
    after = pendulum.datetime(2027, 1, 5, tz=TZ)
    d = evaluate_group(engine, GROUP, "acme", _staff(4, 3), ledger, after)  # type: ignore[arg-type]
    ledger.apply(d.batch)
    assert d.grants == ()
    assert ledger.balance("group:acme", "fund:team") == 5000


# -- calendar vs pendulum ----------------------------------------------------------------------
ZONES = ["Asia/Shanghai", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(ZONES),
    st.sampled_from(ZONES),
    st.integers(0, 4 * 366 * 24 * 60),
    st.integers(1, 31),
)
def test_local_calendar_labels_match_pendulum_periods(
    zone: str, event_zone: str, minutes: int, billing: int
) -> None:
    instant = pendulum.datetime(2024, 1, 1, tz="UTC").add(minutes=minutes).in_timezone(event_zone)
    day = LocalCalendar(zone).day(instant)
    assert day.label == CalendarDay(zone).containing(instant).label
    assert day.month == CalendarMonth(zone).containing(instant).label
    cycles = StatementCycle(billing_day=billing, tz=zone)
    assert day.cycle(billing) == (cycles._index(instant), cycles.containing(instant).label)


# -- trusted constructors ----------------------------------------------------------------------
@settings(max_examples=100, deadline=None)
@given(
    st.decimals(min_value=0, max_value=10**6, places=2),
    st.text("abc:_1", min_size=1, max_size=12).filter(lambda s: s == s.strip()),
    st.dictionaries(st.text("xyz", min_size=1, max_size=3), st.text(max_size=5), max_size=4),
    st.booleans(),
)
def test_trusted_constructors_equal_validated_ones(
    amount: Decimal, counter: str, meta: dict[str, str], money_asset: bool
) -> None:
    assert build.charge(counter, amount, None) == Charge(counter, amount, None)
    assert build.money(amount, "CNY") == Money(amount, "CNY")
    assert build.frozen_map(meta) == FrozenMap(meta)
    assert build.frozen_map(meta)._items == FrozenMap(meta)._items
    asset = "cashback" if money_asset else "points"
    fields = {
        "kind": EntryKind.GRANT,
        "customer_id": "c1",
        "programme_id": "p",
        "asset": asset,
        "at": AT,
        "catalog_version": "v1",
        "reason": "earned",
        "amount": Money(amount, "CNY") if money_asset else None,
        "units": Decimal(0) if money_asset else amount,
        "person_id": "p1",
        "benefit_id": None,
        "ref": "t1",
        "charges": (Charge(counter, amount, None),),
        "meta": FrozenMap(meta),
        "entry_id": "k#0",
    }
    assert build.entry(**fields) == LedgerEntry(**fields)  # type: ignore[arg-type]
    fast = build.entry(**fields)  # type: ignore[arg-type]
    assert attrs.asdict(fast, recurse=False) == attrs.asdict(LedgerEntry(**fields), recurse=False)  # type: ignore[arg-type]


def test_indexed_and_naive_decisions_agree() -> None:
    programmes = [
        BUDGETED,
        TransactionProgramme(
            "air", Qualifier(mccs={"4511"}, channels={"online"}), FixedReward(amount=Money.of(1))
        ),
    ]
    engine = Engine(programmes, catalog_version="v1")
    for i, (mcc, channel) in enumerate([("4511", "online"), ("4511", "pos"), ("5411", "online")]):
        t = txn(i, "80", mcc=mcc, channel=channel)
        a, b = (
            engine.on_transaction(ALICE, t, MemoryLedger()),
            engine.on_transaction(ALICE, t, MemoryLedger(), naive=True),
        )
        assert a.batch == b.batch
        assert a.grants == b.grants


def test_statement_caps_need_the_card_billing_day() -> None:
    from cardbenefits.errors import EngineError

    p = TransactionProgramme(
        "stmt",
        Qualifier(),
        FixedReward(amount=Money.of(1)),
        limits=(Limit("c", 1, period=PeriodUnit.STATEMENT),),
    )
    engine = Engine([p], catalog_version="v1")
    with pytest.raises(EngineError, match="billing day"):
        engine.decide(ALICE, txn(1, "10"), MemoryLedger())
    billed = customer(cards=(card(billing_day=5),))
    d = engine.decide(billed, txn(1, "10"), MemoryLedger())
    assert d.batch.entries[0].charges[0].counter == "cap:stmt:c:c1:2026-10-06..2026-11-05"
