"""Applying batches: the same behaviour, refusals and messages from every adapter."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from ledger_helpers import batch, cash, units

from cardbenefits.errors import LedgerError, LimitExceededError
from cardbenefits.ledger import (
    Charge,
    CounterLimitExceededError,
    CounterUnderflowError,
    EntryKind,
    IdempotencyConflictError,
    Ledger,
    LedgerView,
    MemoryLedger,
    SQLiteLedger,
)


@pytest.fixture(params=["memory", "sqlite"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    if request.param == "memory":
        yield MemoryLedger()
    else:
        with SQLiteLedger(tmp_path / "ledger.db", synchronous="NORMAL") as sqlite_ledger:
            yield sqlite_ledger


def snapshot(ledger: Ledger) -> tuple[object, ...]:
    """Everything observable, to show a refused batch changed nothing."""
    return (
        [b.idempotency_key for b in ledger.batches()],
        ledger.entries(),
        ledger.usages(["cap", "budget", "stock", "other"]),
        ledger.balance("c1", "cashback"),
    )


def test_adapters_satisfy_the_protocols(ledger: Ledger) -> None:
    assert isinstance(ledger, Ledger)
    assert isinstance(ledger, LedgerView)


def test_apply_records_entries_counters_and_balances(ledger: Ledger) -> None:
    b = batch("t1", cash("c1", "5", Charge("cap", 1, 5), Charge("budget", "5", 100), ref="txn-1"))
    result = ledger.apply(b)
    assert (result.applied, result.already_applied, result.refused) == (True, False, False)
    assert result.entries == b.entries
    assert ledger.has_applied("t1")
    assert not ledger.has_applied("t2")
    assert ledger.usage("cap") == 1
    assert ledger.usage("budget") == Decimal("5")
    assert ledger.usage("never") == 0
    assert ledger.usages(["cap", "never"]) == {"cap": Decimal(1), "never": Decimal(0)}
    assert ledger.balance("c1", "cashback") == Decimal("5")
    assert ledger.entry("t1#0") == b.entries[0]
    assert ledger.entry("t1#1") is None
    assert ledger.entries(ref="txn-1") == list(b.entries)


def test_repeat_is_idempotent(ledger: Ledger) -> None:
    b = batch("t1", cash("c1", "5", Charge("cap", 1, 5)))
    ledger.apply(b)
    before = snapshot(ledger)
    again = ledger.apply(b)
    assert (again.applied, again.already_applied) == (False, True)
    assert again.entries == b.entries
    assert snapshot(ledger) == before
    assert ledger.try_apply(b).already_applied


def test_same_key_with_other_content_is_a_conflict(ledger: Ledger) -> None:
    ledger.apply(batch("t1", cash("c1", "5", Charge("cap", 1, 5))))
    before = snapshot(ledger)
    with pytest.raises(IdempotencyConflictError, match=r"idempotency_key: .* \(got 't1'\)"):
        ledger.apply(batch("t1", cash("c1", "6.00", Charge("cap", 1, 5))))
    with pytest.raises(IdempotencyConflictError):
        ledger.try_apply(batch("t1"))
    assert snapshot(ledger) == before


def test_limit_refusal_names_counter_and_values_and_applies_nothing(ledger: Ledger) -> None:
    ledger.apply(batch("t1", cash("c1", "90.00", Charge("budget", "90.00", 100), Charge("cap", 1, 5))))
    before = snapshot(ledger)
    # "cap" would fit; "budget" would not: nothing of the batch may stick.
    refused = batch("t2", cash("c1", "20.00", Charge("cap", 1, 5), Charge("budget", "20.00", 100)))
    with pytest.raises(LimitExceededError) as info:
        ledger.apply(refused)
    err = info.value
    assert isinstance(err, CounterLimitExceededError)
    assert (err.counter, err.limit, err.usage, err.delta) == (
        "budget",
        Decimal(100),
        Decimal("90.00"),
        Decimal("20.00"),
    )
    assert err.excess == Decimal("10.00")
    assert (
        str(err)
        == "budget: limit 100 exceeded: usage 90.00 + requested 20.00 = 110.00 (got Decimal('20.00'))"
    )
    assert snapshot(ledger) == before
    assert not ledger.has_applied("t2")


def test_deltas_are_summed_per_counter_before_checking(ledger: Ledger) -> None:
    # Each entry alone fits the stock of 1; together they do not.
    two = batch(
        "t1",
        units("c1", "coupon:w20", 1, Charge("stock", 1, 1)),
        units("c2", "coupon:w20", 1, Charge("stock", 1, 1)),
    )
    with pytest.raises(
        CounterLimitExceededError, match=r"stock: limit 1 exceeded: usage 0 \+ requested 2 = 2"
    ):
        ledger.apply(two)
    assert ledger.usage("stock") == 0
    assert ledger.entries() == []


def test_release_and_recharge_in_one_batch_needs_only_net_headroom(ledger: Ledger) -> None:
    ledger.apply(batch("t1", cash("c1", "5", Charge("cap", 1, 1))))
    swap = batch(
        "t2",
        cash("c1", "5", Charge("cap", -1, 1), kind=EntryKind.CLAWBACK, ref="t1#0"),
        cash("c1", "4", Charge("cap", 1, 1)),
    )
    assert ledger.apply(swap).applied
    assert ledger.usage("cap") == 1
    assert ledger.balance("c1", "cashback") == Decimal(4)


def test_releases_are_never_refused_by_a_limit(ledger: Ledger) -> None:
    ledger.apply(batch("t1", cash("c1", "50", Charge("budget", 50, 50))))
    # The budget was lowered below current usage: new grants stop, releases still go through.
    with pytest.raises(CounterLimitExceededError):
        ledger.apply(batch("t2", cash("c2", "1", Charge("budget", 1, 30))))
    ledger.apply(batch("t3", cash("c1", "10", Charge("budget", -10, 30), kind="clawback")))
    assert ledger.usage("budget") == 40


def test_releasing_what_was_never_charged_is_refused(ledger: Ledger) -> None:
    ledger.apply(batch("t1", units("c1", "coupon:w20", 1, Charge("stock", 1, 10), kind="issue")))
    before = snapshot(ledger)
    with pytest.raises(CounterUnderflowError) as info:
        ledger.apply(batch("t2", units("c1", "coupon:w20", 2, Charge("stock", -2, 10), kind="return")))
    assert isinstance(info.value, LedgerError)
    assert not isinstance(info.value, LimitExceededError)
    assert (info.value.counter, info.value.usage, info.value.delta) == ("stock", Decimal(1), Decimal(-2))
    assert (
        str(info.value) == "stock: cannot release below zero: usage 1 + release -2 = -1 (got Decimal('-2'))"
    )
    with pytest.raises(CounterUnderflowError):
        ledger.try_apply(batch("t3", units("c1", "points", 1, Charge("other", -1, None))))
    assert snapshot(ledger) == before


def test_unlimited_counters_only_count(ledger: Ledger) -> None:
    for n in range(3):
        ledger.apply(batch(f"t{n}", units("c1", "points", 100, Charge("other", 100, None))))
    assert ledger.usage("other") == 300


def test_tightest_limit_in_a_batch_wins(ledger: Ledger) -> None:
    with pytest.raises(CounterLimitExceededError) as info:
        ledger.apply(batch("t1", units("c1", "points", 1, Charge("cap", 1, 10), Charge("cap", 1, 1))))
    assert info.value.limit == 1


def test_refused_batch_may_succeed_after_a_release(ledger: Ledger) -> None:
    ledger.apply(batch("t1", units("c1", "coupon:w20", 1, Charge("stock", 1, 1), kind="issue")))
    late = batch("t2", units("c2", "coupon:w20", 1, Charge("stock", 1, 1), kind="issue"))
    refused = ledger.try_apply(late)
    assert refused.refused
    assert (refused.applied, refused.already_applied, refused.entries) == (False, False, ())
    assert refused.refusal is not None
    assert refused.refusal.counter == "stock"
    ledger.apply(batch("t1-expired", units("c1", "coupon:w20", 1, Charge("stock", -1, 1), kind="expire")))
    assert ledger.try_apply(late).applied
    assert ledger.usage("stock") == 1


def test_empty_batch_records_the_decision(ledger: Ledger) -> None:
    assert ledger.apply(batch("nothing-earned")).applied
    assert ledger.has_applied("nothing-earned")
    assert ledger.apply(batch("nothing-earned")).already_applied
    assert [b.idempotency_key for b in ledger.batches()] == ["nothing-earned"]
    assert ledger.entries() == []


def test_balances_follow_entry_kinds(ledger: Ledger) -> None:
    ledger.apply(batch("g", cash("c1", "10.00"), cash("c1", "2.50", programme="other")))
    ledger.apply(batch("cb", cash("c1", "4", kind="clawback", ref="g#0")))
    ledger.apply(batch("iss", units("c1", "coupon:w20", 3, kind="issue")))
    ledger.apply(batch("red", units("c1", "coupon:w20", 2, kind="redeem")))
    ledger.apply(batch("ret", units("c1", "coupon:w20", 1, kind="return")))
    ledger.apply(batch("exp", units("c1", "coupon:w20", 1, kind="expire")))
    ledger.apply(batch("adj", units("c1", "points", -30, kind="adjust"), units("c1", "points", 100)))
    assert ledger.balance("c1", "cashback") == Decimal("8.50")
    assert ledger.balance("c1", "coupon:w20") == 1
    assert ledger.balance("c1", "points") == 70
    assert ledger.balance("c2", "cashback") == 0


def test_entry_queries_filter_and_keep_application_order(ledger: Ledger) -> None:
    ledger.apply(batch("a", cash("c1", "1", ref="x"), cash("c2", "2", programme="p2", ref="x")))
    ledger.apply(batch("b", cash("c1", "3", programme="p2"), cash("c1", "4", ref="y")))
    ledger.apply(batch("c", cash("c2", "5", ref="x")))

    def amounts(**filters: str) -> list[str]:
        return [str(e.amount) for e in ledger.entries(**filters)]

    assert amounts() == ["1", "2", "3", "4", "5"]
    assert amounts(customer_id="c1") == ["1", "3", "4"]
    assert amounts(programme_id="p2") == ["2", "3"]
    assert amounts(ref="x") == ["1", "2", "5"]
    assert amounts(customer_id="c2", ref="x") == ["2", "5"]
    assert amounts(customer_id="c1", programme_id="p2") == ["3"]
    assert amounts(customer_id="c1", programme_id="cashback50", ref="y") == ["4"]
    assert amounts(customer_id="nobody") == []
    assert [b.idempotency_key for b in ledger.batches()] == ["a", "b", "c"]


def test_decimal_counters_stay_exact(ledger: Ledger) -> None:
    for n in range(10):
        ledger.apply(batch(f"t{n}", cash("c1", "0.10", Charge("budget", "0.10", "1.00"))))
    assert ledger.usage("budget") == Decimal("1.00")
    assert str(ledger.usage("budget")) == "1.00"
    with pytest.raises(CounterLimitExceededError, match=r"usage 1.00 \+ requested 0.01 = 1.01"):
        ledger.apply(batch("t-over", cash("c1", "0.01", Charge("budget", "0.01", "1.00"))))


def test_limits_and_counters_are_visible_for_monitoring(ledger: Ledger) -> None:
    assert isinstance(ledger, MemoryLedger | SQLiteLedger)
    ledger.apply(batch("t1", cash("c1", "5", Charge("budget", 5, 100), Charge("seen", 1, None))))
    ledger.apply(batch("t2", cash("c1", "5", Charge("seen", 1, None))))
    assert ledger.limit("budget") == 100
    assert ledger.limit("seen") is None
    assert ledger.limit("never") is None
    assert ledger.counters() == {"budget": Decimal(5), "seen": Decimal(2)}
    assert len(ledger) == 2


def test_apply_many_matches_one_at_a_time(ledger: Ledger) -> None:
    assert isinstance(ledger, MemoryLedger | SQLiteLedger)
    group = [
        batch("g1", units("c1", "coupon:w20", 1, Charge("stock", 1, 2), kind="issue")),
        batch("g2", units("c2", "coupon:w20", 1, Charge("stock", 1, 2), kind="issue")),
        batch("g3", units("c3", "coupon:w20", 1, Charge("stock", 1, 2), kind="issue")),
        batch("g1", units("c1", "coupon:w20", 1, Charge("stock", 1, 2), kind="issue")),
    ]
    results = ledger.apply_many(group)
    assert [(r.applied, r.already_applied, r.refused) for r in results] == [
        (True, False, False),
        (True, False, False),
        (False, False, True),
        (False, True, False),
    ]
    assert results[2].refusal is not None
    assert results[2].refusal.counter == "stock"
    assert ledger.usage("stock") == 2
    assert [b.idempotency_key for b in ledger.batches()] == ["g1", "g2"]


def test_apply_many_stops_at_an_error_keeping_earlier_batches(ledger: Ledger) -> None:
    assert isinstance(ledger, MemoryLedger | SQLiteLedger)
    ledger.apply(batch("old", cash("c1", "1")))
    group = [
        batch("n1", cash("c1", "2", Charge("budget", 2, 10))),
        batch("old", cash("c1", "9")),
        batch("n2", cash("c1", "3", Charge("budget", 3, 10))),
    ]
    with pytest.raises(IdempotencyConflictError):
        ledger.apply_many(group)
    assert [b.idempotency_key for b in ledger.batches()] == ["old", "n1"]
    assert ledger.usage("budget") == 2
