"""Builders shared by the ledger tests (imported by module name: tests/ledger is on sys.path)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import pendulum

from cardbenefits.ledger import Charge, EntryBatch, EntryKind, LedgerEntry, SQLiteLedger
from cardbenefits.money import Money

AT = pendulum.datetime(2026, 11, 3, 12, 30, tz="Asia/Shanghai")


def cash(
    customer: str = "c1",
    amount: str = "5.00",
    *charges: Charge,
    kind: EntryKind | str = EntryKind.GRANT,
    programme: str = "cashback50",
    ref: str | None = None,
    meta: dict[str, str] | None = None,
) -> LedgerEntry:
    """A cashback entry."""
    return LedgerEntry(
        kind=kind,
        customer_id=customer,
        programme_id=programme,
        benefit_id="cb5",
        asset="cashback",
        amount=Money.of(amount),
        at=AT,
        catalog_version="v1",
        ref=ref,
        reason="test",
        charges=charges,
        meta=meta or {},
    )


def units(
    customer: str,
    asset: str,
    count: int | str,
    *charges: Charge,
    kind: EntryKind | str = EntryKind.GRANT,
    programme: str = "prog",
    ref: str | None = None,
) -> LedgerEntry:
    """An entry counted in units (points, miles, coupons)."""
    return LedgerEntry(
        kind=kind,
        customer_id=customer,
        programme_id=programme,
        asset=asset,
        units=Decimal(count),
        at=AT,
        catalog_version="v1",
        ref=ref,
        reason="test",
        charges=charges,
    )


def batch(key: str, *entries: LedgerEntry) -> EntryBatch:
    """A batch with ids assigned."""
    return EntryBatch.of(key, entries)


# -- multi-process worker (must be importable by spawned children) -------------------------------
STOCK = "stock:prize:iphone"


def prize_batch(key_number: int, stock_limit: int) -> EntryBatch:
    """The batch for event ``key_number``: deterministic, so every process builds the same content."""
    customer = f"cust{key_number % 97}"
    entry = units(
        customer,
        "coupon:iphone",
        1,
        Charge(STOCK, 1, stock_limit),
        Charge(f"cap:draw:{customer}", 1, 3),
        kind=EntryKind.ISSUE,
        programme="double11",
        ref=f"draw-{key_number}",
    )
    return batch(f"draw-{key_number}", entry)


def hammer(path: str, worker: int, key_numbers: Iterable[int], stock_limit: int) -> list[tuple[str, str]]:
    """Apply the prize batches for ``key_numbers`` and report each outcome."""
    outcomes: list[tuple[str, str]] = []
    with SQLiteLedger(path, synchronous="NORMAL", busy_timeout=60) as ledger:
        for n in key_numbers:
            result = ledger.try_apply(prize_batch(n, stock_limit))
            if result.applied:
                outcome = "applied"
            elif result.already_applied:
                outcome = "already"
            else:
                assert result.refusal is not None
                outcome = f"refused:{result.refusal.counter}"
            outcomes.append((f"draw-{n}", outcome))
    return outcomes
