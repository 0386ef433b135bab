"""Invariants over random sequences of batches, checked against a model and across adapters.

* no counter ever passes its limit, and none ever goes below zero;
* MemoryLedger and SQLiteLedger give the same outcome (success, or the same refusal with the
  same fields) for every batch, and end with byte-identical exports;
* repeats are harmless, reused keys with other content are conflicts, refusals change nothing.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from ledger_helpers import AT

from cardbenefits.errors import LedgerError
from cardbenefits.ledger import (
    Charge,
    CounterLimitExceededError,
    CounterUnderflowError,
    EntryBatch,
    EntryKind,
    IdempotencyConflictError,
    Ledger,
    LedgerEntry,
    MemoryLedger,
    SQLiteLedger,
    export_jsonl,
    import_jsonl,
    replay,
)
from cardbenefits.money import Money

#: Fixed limits, so "never above its limit" is a plain comparison. ``None``: counted only.
LIMITS: dict[str, Decimal | None] = {
    "cap:cb:c1:2026-11": Decimal(3),
    "budget:cb": Decimal("20.00"),
    "stock:prize": Decimal(2),
    "count:draws": None,
}
CUSTOMERS = ("c1", "c2", "c3")
ASSETS = ("cashback", "points", "coupon:w20")

deltas = {
    "cap:cb:c1:2026-11": st.integers(-2, 3).map(Decimal),
    "budget:cb": st.sampled_from(["-5.00", "-2.50", "0", "2.50", "5.00", "7.50"]).map(Decimal),
    "stock:prize": st.integers(-1, 2).map(Decimal),
    "count:draws": st.integers(-1, 3).map(Decimal),
}


@st.composite
def charge_lists(draw: st.DrawFn) -> list[Charge]:
    counters = draw(st.lists(st.sampled_from(sorted(LIMITS)), max_size=2, unique=True))
    return [Charge(c, draw(deltas[c]), LIMITS[c]) for c in counters]


@st.composite
def entry_lists(draw: st.DrawFn) -> list[LedgerEntry]:
    result = []
    for _ in range(draw(st.integers(0, 3))):
        asset = draw(st.sampled_from(ASSETS))
        quantity = Decimal(draw(st.sampled_from(["1", "2.50", "5.00", "10"])))
        kind = draw(st.sampled_from(list(EntryKind)))
        result.append(
            LedgerEntry(
                kind=kind,
                customer_id=draw(st.sampled_from(CUSTOMERS)),
                programme_id=draw(st.sampled_from(["cb", "draw"])),
                asset=asset,
                amount=Money(quantity) if asset == "cashback" else None,
                units=Decimal(0) if asset == "cashback" else quantity,
                at=AT,
                catalog_version="v1",
                reason="prop",
                ref=draw(st.none() | st.sampled_from(["e1", "e2"])),
                charges=draw(charge_lists()),
            )
        )
    return result


def outcome(ledger: Ledger, batch: EntryBatch) -> tuple[object, ...]:
    """What happened, as comparable data."""
    try:
        result = ledger.apply(batch)
    except CounterLimitExceededError as e:
        return ("limit", e.counter, e.limit, e.usage, e.delta)
    except CounterUnderflowError as e:
        return ("underflow", e.counter, e.usage, e.delta)
    except IdempotencyConflictError as e:
        return ("conflict", e.idempotency_key)
    return ("applied" if result.applied else "already", result.entries)


def expected_outcome(model: dict[str, Decimal], batch: EntryBatch) -> tuple[object, ...]:
    """The model's verdict, written independently of the ledger code."""
    net: dict[str, Decimal] = {}
    for entry in batch.entries:
        for charge in entry.charges:
            net[charge.counter] = net.get(charge.counter, Decimal(0)) + charge.delta
    for counter in sorted(net):
        usage, delta, limit = model.get(counter, Decimal(0)), net[counter], LIMITS[counter]
        if delta > 0 and limit is not None and usage + delta > limit:
            return ("limit", counter, limit, usage, delta)
        if delta < 0 and usage + delta < 0:
            return ("underflow", counter, usage, delta)
    for counter, delta in net.items():
        model[counter] = model.get(counter, Decimal(0)) + delta
    return ("applied", batch.entries)


class LedgerMachine(RuleBasedStateMachine):
    """Drives a MemoryLedger and a SQLiteLedger side by side against a plain-dict model."""

    @initialize()
    def open(self) -> None:
        self.memory = MemoryLedger()
        self.sqlite = SQLiteLedger(":memory:")
        self.model: dict[str, Decimal] = {}
        self.balances: dict[tuple[str, str], Decimal] = {}
        self.applied: list[EntryBatch] = []
        self.refused: list[EntryBatch] = []
        self.next_key = 0

    def _apply_both(self, batch: EntryBatch) -> tuple[object, ...]:
        got = outcome(self.memory, batch)
        assert outcome(self.sqlite, batch) == got
        return got

    def _record(self, batch: EntryBatch) -> None:
        self.applied.append(batch)
        for e in batch.entries:
            key = (e.customer_id, e.asset)
            self.balances[key] = self.balances.get(key, Decimal(0)) + e.signed_quantity

    @rule(entries=entry_lists())
    def apply_new(self, entries: list[LedgerEntry]) -> None:
        batch = EntryBatch.of(f"evt-{self.next_key}", entries)
        self.next_key += 1
        expected = expected_outcome(self.model, batch)
        assert self._apply_both(batch) == expected
        if expected[0] == "applied":
            self._record(batch)
        else:
            self.refused.append(batch)

    @precondition(lambda self: self.applied)
    @rule(data=st.data())
    def repeat_applied(self, data: st.DataObject) -> None:
        batch = data.draw(st.sampled_from(self.applied))
        assert self._apply_both(batch) == ("already", batch.entries)

    @precondition(lambda self: self.refused)
    @rule(data=st.data())
    def retry_refused(self, data: st.DataObject) -> None:
        batch = data.draw(st.sampled_from(self.refused))
        if any(b.idempotency_key == batch.idempotency_key for b in self.applied):
            return
        expected = expected_outcome(self.model, batch)
        assert self._apply_both(batch) == expected
        if expected[0] == "applied":
            self._record(batch)

    @precondition(lambda self: self.applied)
    @rule(data=st.data())
    def reuse_key_with_other_content(self, data: st.DataObject) -> None:
        batch = data.draw(st.sampled_from(self.applied))
        if batch.entries:
            first = batch.entries[0]
            changed = attrs.evolve(first, reason="different")
            other = EntryBatch(batch.idempotency_key, (changed, *batch.entries[1:]))
        else:
            other = EntryBatch.of(batch.idempotency_key, data.draw(entry_lists().filter(bool)))
        assert self._apply_both(other) == ("conflict", batch.idempotency_key)

    @invariant()
    def counters_within_limits_and_agree(self) -> None:
        memory = self.memory.usages(LIMITS)
        assert self.sqlite.usages(LIMITS) == memory
        for counter, limit in LIMITS.items():
            assert memory[counter] == self.model.get(counter, Decimal(0))
            assert memory[counter] >= 0
            if limit is not None:
                assert memory[counter] <= limit

    @invariant()
    def balances_and_entries_agree(self) -> None:
        for customer in CUSTOMERS:
            for asset in ASSETS:
                want = self.balances.get((customer, asset), Decimal(0))
                assert self.memory.balance(customer, asset) == want
                assert self.sqlite.balance(customer, asset) == want
        assert len(self.memory) == len(self.sqlite) == sum(len(b.entries) for b in self.applied)
        assert self.memory.has_applied(f"evt-{self.next_key - 1}") == self.sqlite.has_applied(
            f"evt-{self.next_key - 1}"
        )

    def teardown(self) -> None:
        if hasattr(self, "sqlite"):
            assert list(export_jsonl(self.memory)) == list(export_jsonl(self.sqlite))
            assert [b.idempotency_key for b in self.memory.batches()] == [
                b.idempotency_key for b in self.applied
            ]
            self.sqlite.close()


LedgerMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)
TestLedgerMachine = LedgerMachine.TestCase


@settings(max_examples=40, deadline=None)
@given(batches=st.lists(entry_lists(), max_size=25), repeats=st.lists(st.integers(0, 24), max_size=10))
def test_repeats_change_nothing_and_replay_is_byte_identical(
    batches: list[list[LedgerEntry]], repeats: list[int]
) -> None:
    sequence = [EntryBatch.of(f"evt-{i}", entries) for i, entries in enumerate(batches)]
    once = MemoryLedger()
    for b in sequence:
        with contextlib.suppress(LedgerError):
            once.apply(b)
    # The same stream with applied batches delivered again later (at-least-once delivery).
    again = [
        sequence[i] for i in repeats if i < len(sequence) and once.has_applied(sequence[i].idempotency_key)
    ]
    noisy = [*sequence, *again]
    twice = SQLiteLedger(":memory:")
    for b in noisy:
        with contextlib.suppress(LedgerError):
            twice.apply(b)
    assert list(export_jsonl(once)) == list(export_jsonl(twice))
    # Replaying the export into a fresh ledger reproduces it, through ordinary applies.
    copy = MemoryLedger()
    summary = replay(import_jsonl(export_jsonl(twice)), copy)
    assert summary.applied == sum(1 for _ in once.batches())
    assert list(export_jsonl(copy)) == list(export_jsonl(once))
    assert replay(copy, copy).already_applied == summary.applied
    twice.close()
