"""Benchmark: events/second through engine + ledger, indexed vs a naive evaluator.

50 programmes (most restricted to designated MCCs or channels, as real catalogs are) and N
synthetic :class:`~cardbenefits.facts.Transaction` facts from 2,000 customers (default 20,000
events; ``--events 1000000`` for the full run). Prints events/second for engine + MemoryLedger,
the naive evaluator (every programme checked for every event) with the ratio, and engine +
SQLiteLedger on a quarter of the stream, and the batch evaluator over the same transactions as
columns with its ratio to the indexed engine. ``--profile`` prints the top of a cProfile run.

    python benchmarks/bench_engine.py --events 20000
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable

import pendulum

from cardbenefits.engine import Engine
from cardbenefits.engine.batch import BatchEvaluator, FrameRows, Rows
from cardbenefits.facts import CardHolding, Customer, Transaction
from cardbenefits.ledger import MemoryLedger, SQLiteLedger
from cardbenefits.money import Money
from cardbenefits.programmes import (
    REAL_ESTATE_ETC,
    AccrualReward,
    FixedReward,
    Limit,
    LimitMeasure,
    LimitScope,
    PercentReward,
    PeriodUnit,
    Qualifier,
    TransactionProgramme,
)

MCCS = [str(5000 + i) for i in range(200)]
CHANNELS = ["pos", "wechat_pay", "alipay", "unionpay_quickpass", "online"]


def catalog(n: int = 50) -> list[TransactionProgramme]:
    rnd = random.Random(7)
    out = [
        TransactionProgramme(
            "cashback50",
            Qualifier(min_amount=Money.of(50), excluded_mccs=REAL_ESTATE_ETC),
            FixedReward(amount=Money.of(5)),
            limits=(Limit("monthly", 5, period=PeriodUnit.MONTH),),
        ),
        TransactionProgramme("points", Qualifier(), AccrualReward(asset="points", per=Money.of(20))),
    ]
    for i in range(n - len(out)):
        mccs = set(rnd.sample(MCCS, 3))
        q = Qualifier(mccs=mccs, channels={rnd.choice(CHANNELS)} if i % 2 else None)
        reward = (
            PercentReward(rate=rnd.choice([1, 2, 5]), per_transaction_cap=Money.of(30))
            if i % 3
            else (AccrualReward(asset="miles", per=Money.of(20), multiplier=3))
        )
        limits = (
            Limit("monthly", 100, measure=LimitMeasure.AMOUNT, period=PeriodUnit.MONTH),
            Limit("budget", 1_000_000, scope=LimitScope.GLOBAL, measure=LimitMeasure.COST),
        )
        out.append(TransactionProgramme(f"p{i}", q, reward, limits=limits))
    return out


def events(n: int, customers: int = 2000) -> list[tuple[Customer, Transaction]]:
    rnd = random.Random(42)
    start = pendulum.datetime(2026, 11, 1, tz="Asia/Shanghai")
    approved = start.subtract(days=30)
    people = [
        Customer(f"c{i}", f"p{i}", cards=(CardHolding(f"k{i}", "std", "gold", approved, billing_day=5),))
        for i in range(customers)
    ]
    out = []
    for i in range(n):
        c = rnd.choice(people)
        at = start.add(seconds=i * 30)
        amount = Money.of(f"{rnd.randint(100, 50000) / 100:.2f}")
        t = Transaction(
            f"t{i}",
            c.id,
            c.cards[0].card_id,
            amount,
            "m1",
            rnd.choice(MCCS),
            rnd.choice(CHANNELS),
            "purchase",
            at,
        )
        out.append((c, t))
    return out


def run(
    label: str,
    ledger_factory: Callable[[], MemoryLedger | SQLiteLedger],
    stream: list[tuple[Customer, Transaction]],
    naive: bool,
) -> float:
    engine = Engine(catalog(), catalog_version="bench")
    ledger = ledger_factory()
    t0 = time.perf_counter()
    for customer, txn in stream:
        decision = engine.on_transaction(customer, txn, ledger, naive=naive)
        ledger.apply(decision.batch)
    rate = len(stream) / (time.perf_counter() - t0)
    print(f"{label:<40} {rate:>12,.0f} events/s")
    return rate


def run_batch(stream: list[tuple[Customer, Transaction]], framed: bool = False) -> float:
    """The same transactions through :class:`BatchEvaluator` in chunks of 65,536 rows.

    The columns (``framed``: polars frames, the vectorized path) are built before the clock
    starts (reading them is the columnar reader's job, measured by ``bench_simulate.py``'s
    ``chunks`` phase). ``tests/engine/test_batch.py`` shows its figures equal the engine's.
    """
    engine = Engine(catalog(), catalog_version="bench")
    txns = [t for _c, t in stream]
    size = 65_536
    chunks: list[Rows | FrameRows] = [Rows.of(txns[i : i + size], engine) for i in range(0, len(txns), size)]
    if framed:
        chunks = [FrameRows.of_rows(rows) for rows in chunks]
    batch = BatchEvaluator(engine, {c.id: c for c, _t in stream})
    t0 = time.perf_counter()
    for rows in chunks:
        batch.run(rows)
    rate = len(stream) / (time.perf_counter() - t0)
    grants = sum(t.grants for t in batch.totals.values())
    label = "batch evaluator (polars frames)" if framed else "batch evaluator (lists)"
    print(f"{label:<40} {rate:>12,.0f} events/s  ({grants:,} grants)")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    stream = events(args.events)
    print(f"{args.events:,} transactions, 50 programmes")
    if args.profile:
        import cProfile

        cProfile.runctx(
            "run('profiled', MemoryLedger, stream, False)", globals(), {"stream": stream, "run": run}
        )
        return
    indexed = run("engine (indexed) + MemoryLedger", MemoryLedger, stream, naive=False)
    naive = run("naive evaluator + MemoryLedger", MemoryLedger, stream, naive=True)
    print(f"ratio indexed / naive: {indexed / naive:.2f}x")
    batch = run_batch(stream)
    print(f"ratio batch (lists) / indexed: {batch / indexed:.2f}x")
    framed = run_batch(stream, framed=True)
    print(f"ratio batch (frames) / indexed: {framed / indexed:.2f}x")
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_stream = stream[: max(1, len(stream) // 4)]
        run(
            "engine (indexed) + SQLiteLedger", lambda: SQLiteLedger(f"{tmp}/l.db"), sqlite_stream, naive=False
        )


if __name__ == "__main__":
    main()
