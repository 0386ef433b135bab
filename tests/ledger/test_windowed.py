"""WindowedLedger: the same outcomes, counters and balances as MemoryLedger, bounded retention.

* with a horizon longer than the data it is indistinguishable from MemoryLedger (example
  simulation: byte-identical export, equal report; random batch sequences: equal outcomes);
* with a short horizon outcomes, counters and balances are still MemoryLedger's (counters are
  never evicted, so limits hold), and exactly the batches within the horizon are retained;
* retention stays bounded while events stream past the horizon;
* lookups of evicted keys and refs are counted, late batches too.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from decimal import Decimal

import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_ledger_properties import LIMITS, entry_lists, outcome

from cardbenefits.errors import CardBenefitsError, LedgerError
from cardbenefits.ledger import (
    Charge,
    EntryBatch,
    EntryKind,
    IdempotencyConflictError,
    LedgerEntry,
    MemoryLedger,
    export_jsonl,
    split_entry_id,
)
from cardbenefits.ledger.windowed import WindowedLedger, parse_horizon
from cardbenefits.report.summary import build_report
from cardbenefits.simulate.commands import _ledger
from cardbenefits.simulate.example import example_data, example_simulation

T0 = pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai")


def timed(batch_entries: list[LedgerEntry], hours: int) -> list[LedgerEntry]:
    return [
        LedgerEntry(**{**{f: getattr(e, f) for f in _FIELDS}, "at": T0.add(hours=hours)})
        for e in batch_entries
    ]


_FIELDS = (
    "kind",
    "customer_id",
    "programme_id",
    "asset",
    "amount",
    "units",
    "catalog_version",
    "reason",
    "ref",
    "charges",
)


def grant(key: str, hours: int, customer: str = "c1", ref: str | None = None) -> EntryBatch:
    return EntryBatch.of(
        key,
        [
            LedgerEntry(
                kind=EntryKind.GRANT,
                customer_id=customer,
                programme_id="p",
                asset="points",
                units=10,
                at=T0.add(hours=hours),
                catalog_version="v1",
                reason="r",
                ref=ref,
                charges=[Charge("budget:p", 10, None)],
            )
        ],
    )


def test_example_simulation_is_identical_with_a_long_horizon() -> None:
    customers, events = example_data()
    memory = example_simulation(ledger=MemoryLedger()).run(customers, events)
    customers, events = example_data()
    window = WindowedLedger(horizon=timedelta(days=3650))
    windowed = example_simulation(ledger=window).run(customers, events)
    assert list(export_jsonl(window)) == list(export_jsonl(memory.ledger))
    assert build_report(windowed, catalog_ref="x") == build_report(memory, catalog_ref="x")
    stats = window.stats()
    assert stats.evicted_batches == stats.evicted_lookups == stats.late_batches == 0


def test_example_simulation_with_a_short_horizon_keeps_limits_and_bounds_retention() -> None:
    customers, events = example_data()
    memory = example_simulation(ledger=MemoryLedger()).run(customers, events)
    customers, events = example_data()
    # 20 of the example's 30 replayed days (a horizon shorter than a funnel campaign or a coupon's
    # validity fails loudly: a customer's funnel state or coupon is no longer in the window)
    window = WindowedLedger(horizon=timedelta(days=20))
    windowed = example_simulation(ledger=window).run(customers, events)
    stats = window.stats()
    assert stats.evicted_batches > 0
    assert stats.evicted_lookups > 0  # refunds and replays beyond the horizon, counted
    assert stats.retained_batches < sum(1 for _ in memory.ledger.batches())
    for counter, used in window.counters().items():
        limit = window.limit(counter)
        assert used >= 0, counter
        assert limit is None or used <= limit, counter
    # retained batches are exactly the suffix of history within the horizon (example is in time order)
    watermark = window.watermark
    assert watermark is not None
    for batch in window.batches():
        if batch.entries:
            assert max(e.at for e in batch.entries) >= watermark - window.horizon
    assert windowed.metrics.events == memory.metrics.events


@st.composite
def timed_batches(draw: st.DrawFn) -> list[EntryBatch]:
    """Batches at non-decreasing hours (sometimes a little out of order), keys sometimes repeated."""
    result: list[EntryBatch] = []
    hours = 0
    for i in range(draw(st.integers(0, 30))):
        hours += draw(st.integers(-3, 30))
        if result and draw(st.integers(0, 9)) == 0:
            result.append(draw(st.sampled_from(result)))  # at-least-once delivery
            continue
        result.append(EntryBatch.of(f"evt-{i}", timed(draw(entry_lists()), max(hours, 0))))
    return result


def _retained_model(batches: list[EntryBatch], memory: MemoryLedger, horizon: timedelta) -> list[str]:
    """Keys a windowed ledger must still hold, by the stamp rule of the module docstring."""
    stamps: dict[str, datetime] = {}
    watermark: datetime | None = None
    pending: list[str] = []
    for batch in batches:
        key = batch.idempotency_key
        if key in stamps or key in pending or not memory.has_applied(key):
            continue
        if batch.entries:
            stamp = stamps[key] = max(e.at for e in batch.entries)
            if watermark is None or stamp > watermark:
                watermark = stamp
                stamps.update((k, stamp) for k in pending)
                pending = []
        elif watermark is None:
            pending.append(key)
        else:
            stamps[key] = watermark
    if watermark is None:
        return [b.idempotency_key for b in memory.batches()]
    return [b.idempotency_key for b in memory.batches() if stamps[b.idempotency_key] >= watermark - horizon]


@settings(max_examples=60, deadline=None)
@given(batches=timed_batches(), horizon_hours=st.integers(1, 200))
def test_outcomes_counters_and_balances_match_memory_ledger(
    batches: list[EntryBatch], horizon_hours: int
) -> None:
    horizon = timedelta(hours=horizon_hours)
    memory, window, long = MemoryLedger(), WindowedLedger(horizon), WindowedLedger(timedelta(days=3650))
    for batch in batches:
        expected = outcome(memory, batch)
        assert outcome(long, batch) == expected
        if expected[0] == "already" and not window.has_applied(batch.idempotency_key):
            continue  # a replay of an evicted key would be applied again, by design (tested below)
        assert outcome(window, batch) == expected
        for counter, used in window.counters().items():
            limit = LIMITS[counter]
            assert Decimal(0) <= used
            assert limit is None or used <= limit
    assert list(export_jsonl(long)) == list(export_jsonl(memory))
    assert long.counters() == window.counters() == memory.counters()
    for customer in ("c1", "c2", "c3"):
        for asset in ("cashback", "points", "coupon:w20"):
            assert (
                window.balance(customer, asset)
                == long.balance(customer, asset)
                == memory.balance(customer, asset)
            )
    retained = [b.idempotency_key for b in window.batches()]
    assert retained == _retained_model(batches, memory, horizon)
    kept = set(retained)
    filters: list[dict[str, str]] = [
        {},
        {"customer_id": "c1"},
        {"programme_id": "cb"},
        {"ref": "e1"},
        {"customer_id": "c2", "ref": "e2"},
    ]
    for kwargs in filters:
        assert window.entries(**kwargs) == [
            e for e in memory.entries(**kwargs) if split_entry_id(e.entry_id)[0] in kept
        ]
    assert len(window) == sum(len(b.entries) for b in window.batches())


def test_retention_stays_bounded_as_events_stream_past_the_horizon() -> None:
    ledger = WindowedLedger(timedelta(hours=48))
    for hour in range(5000):
        ledger.apply(grant(f"t{hour}", hour, customer=f"c{hour % 700}", ref=f"t{hour}"))
        if hour % 3 == 0:
            ledger.apply(EntryBatch(f"none-{hour}", ()))
        assert len(ledger) <= 49
        assert ledger.stats().retained_batches <= 49 + 17
    assert len(ledger._by_customer) <= 49
    assert len(ledger._by_ref) <= 49
    assert ledger.usage("budget:p") == Decimal(50000)
    assert sum(ledger.balance(f"c{n}", "points") for n in range(700)) == Decimal(50000)
    assert ledger.stats().evicted_entries == 5000 - len(ledger)


def test_evicted_lookups_and_late_batches_are_counted() -> None:
    ledger = WindowedLedger(timedelta(days=1))
    ledger.apply(grant("buy-1", 0, ref="txn-1"))
    ledger.apply(grant("buy-2", 100, ref="txn-2"))
    assert ledger.evicted_lookups == 0
    # a refund of the evicted purchase finds nothing to claw back, and says so
    assert ledger.entries(ref="txn-1") == []
    assert ledger.evicted_lookups == 1
    assert ledger.entry("buy-1#0") is None
    assert ledger.evicted_lookups == 2
    assert not ledger.has_applied("buy-1")
    assert ledger.evicted_lookups == 3
    # never-seen keys and retained ones are not counted
    assert not ledger.has_applied("never")
    assert ledger.entries(ref="nope") == []
    assert ledger.entry("x") is None
    assert ledger.has_applied("buy-2")
    assert ledger.entry("buy-2#0") is not None
    assert ledger.evicted_lookups == 3
    # a replay of the evicted key is applied again (charges count again): late, counted, evicted at once
    assert ledger.apply(grant("buy-1", 0, ref="txn-1")).applied
    assert ledger.late_batches == 1
    assert ledger.usage("budget:p") == Decimal(30)
    assert not ledger.has_applied("buy-1")
    assert len(ledger) == 1


def test_conflicts_and_refusals_like_memory_ledger() -> None:
    ledger = WindowedLedger(timedelta(days=1))
    ledger.apply(grant("k", 0))
    with pytest.raises(IdempotencyConflictError):
        ledger.apply(grant("k", 1))
    capped = EntryBatch.of("cap", [attr_charge(grant("cap", 0).entries[0])])
    assert ledger.try_apply(capped).refused
    assert not ledger.has_applied("cap")
    with contextlib.suppress(LedgerError):
        ledger.apply(capped)
    assert ledger.usage("budget:p") == Decimal(10)


def attr_charge(entry: LedgerEntry) -> LedgerEntry:
    fields = {f: getattr(entry, f) for f in _FIELDS}
    fields["charges"] = [Charge("budget:p", 10, 15)]
    return LedgerEntry(**fields, at=entry.at)


def test_empty_batches_before_the_first_entry_are_stamped_with_it() -> None:
    ledger = WindowedLedger(timedelta(hours=1))
    ledger.apply(EntryBatch("early", ()))
    assert ledger.has_applied("early")
    ledger.apply(grant("g0", 0))
    assert ledger.has_applied("early")
    ledger.apply(grant("g5", 5))
    assert not ledger.has_applied("early")
    assert not ledger.has_applied("g0")


def test_cli_spec_and_bad_arguments() -> None:
    assert isinstance(_ledger("memory:window=90d"), WindowedLedger)
    assert _ledger("memory:window=90d").horizon == timedelta(days=90)  # type: ignore[attr-defined]
    assert isinstance(_ledger("memory"), MemoryLedger)
    for bad in ("memory:window=0d", "memory:window=3w", "memory:90d"):
        with pytest.raises(CardBenefitsError):
            _ledger(bad)
    with pytest.raises(CardBenefitsError):
        WindowedLedger(timedelta(0))
    assert parse_horizon(" 36h ") == timedelta(hours=36)
