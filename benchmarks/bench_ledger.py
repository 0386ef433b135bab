"""Ledger throughput: batches applied per second, MemoryLedger vs SQLiteLedger.

Each batch holds 1–3 entries with two charges each (a per-customer cap and a programme budget),
like one transaction's rewards. The baseline is ``dict_baseline``: the bare counter arithmetic
with no entries, no idempotency and no validation, i.e. the floor any ledger pays. Batches are
built before timing so only ``apply`` is measured.

    python benchmarks/bench_ledger.py            # 100k batches
    python benchmarks/bench_ledger.py --batches 20000 --sqlite-sync FULL
    python benchmarks/bench_ledger.py --sqlite-batches 20000   # one-commit-per-batch on 20k only

``SQLiteLedger`` commits (and, with ``FULL``, syncs) once per batch, so its rate is bounded
by the disk; ``apply_many`` groups batches into one commit with the same per-batch atomicity.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pendulum

from cardbenefits.ledger import Charge, EntryBatch, LedgerEntry, MemoryLedger, SQLiteLedger
from cardbenefits.money import Money

AT = pendulum.datetime(2026, 11, 3, 12, tz="Asia/Shanghai")


def make_batches(count: int, seed: int = 7) -> list[EntryBatch]:
    """``count`` reward batches for 10k customers, deterministic for ``seed``."""
    rng = random.Random(seed)
    batches = []
    for n in range(count):
        customer = f"cust{rng.randrange(10_000)}"
        entries = []
        for _ in range(rng.randint(1, 3)):
            amount = Money.from_minor(rng.randrange(100, 2_000))
            entries.append(
                LedgerEntry(
                    kind="grant",
                    customer_id=customer,
                    programme_id="cashback50",
                    benefit_id="cb",
                    asset="cashback",
                    amount=amount,
                    at=AT,
                    catalog_version="v1",
                    ref=f"txn-{n}",
                    reason="spend_ge_50",
                    charges=(
                        Charge(f"cap:cashback50:{customer}:2026-11", 1, 1_000),
                        Charge("budget:cashback50", amount.amount, 10**9),
                    ),
                )
            )
        batches.append(EntryBatch.of(f"txn-{n}:cashback50", entries))
    return batches


def dict_baseline(batches: list[EntryBatch]) -> None:
    """Only the counter arithmetic, as a floor."""
    counters: dict[str, Decimal] = {}
    for batch in batches:
        for entry in batch.entries:
            for charge in entry.charges:
                counters[charge.counter] = counters.get(charge.counter, Decimal(0)) + charge.delta


def run_memory(batches: list[EntryBatch]) -> None:
    ledger = MemoryLedger()
    for batch in batches:
        ledger.apply(batch)


def sqlite_runner(sync: str) -> Callable[[list[EntryBatch]], None]:
    def run(batches: list[EntryBatch]) -> None:
        with (
            tempfile.TemporaryDirectory() as tmp,
            SQLiteLedger(Path(tmp) / "bench.db", synchronous=sync) as ledger,
        ):  # type: ignore[arg-type]
            for batch in batches:
                ledger.apply(batch)

    return run


def sqlite_grouped_runner(sync: str, group: int) -> Callable[[list[EntryBatch]], None]:
    def run(batches: list[EntryBatch]) -> None:
        with (
            tempfile.TemporaryDirectory() as tmp,
            SQLiteLedger(Path(tmp) / "bench.db", synchronous=sync) as ledger,
        ):  # type: ignore[arg-type]
            for start in range(0, len(batches), group):
                ledger.apply_many(batches[start : start + group])

    return run


def timed(fn: Callable[[list[EntryBatch]], None], batches: list[EntryBatch]) -> float:
    start = time.perf_counter()
    fn(batches)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=100_000)
    parser.add_argument(
        "--sqlite-batches", type=int, default=None, help="fewer batches for SQLite (default: same)"
    )
    parser.add_argument("--sqlite-sync", default="NORMAL", choices=["OFF", "NORMAL", "FULL"])
    parser.add_argument("--group", type=int, default=1000, help="batches per apply_many commit")
    args = parser.parse_args()

    batches = make_batches(args.batches)
    sqlite_batches = batches[: args.sqlite_batches or args.batches]
    entries = sum(len(b.entries) for b in batches)
    print(f"{len(batches):,} batches, {entries:,} entries, {2 * entries:,} charges")

    results = {
        "dict_baseline": len(batches) / timed(dict_baseline, batches),
        "MemoryLedger": len(batches) / timed(run_memory, batches),
        f"SQLiteLedger(sync={args.sqlite_sync})": len(sqlite_batches)
        / timed(sqlite_runner(args.sqlite_sync), sqlite_batches),
        f"SQLite apply_many({args.group})": len(batches)
        / timed(sqlite_grouped_runner(args.sqlite_sync, args.group), batches),
    }
    memory = results["MemoryLedger"]
    print(f"{'adapter':<30}{'batches/s':>14}{'vs baseline':>14}{'vs memory':>12}")
    for name, rate in results.items():
        print(f"{name:<30}{rate:>14,.0f}{rate / results['dict_baseline']:>14.3f}{rate / memory:>12.3f}")


if __name__ == "__main__":
    main()
