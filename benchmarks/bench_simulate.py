"""Simulation throughput: replay N synthetic transactions for C customers against the example campaign.

Writes the events once as a JSON-lines file (synth, fixed seed), then measures, in one run:

- ``customers``: reading and validating the customers file (before either phase's clock);
- ``read``: reading and validating the same event file alone (the I/O limit of a file replay);
- ``replay``: reading + replaying through the whole demo catalog
  (:func:`~cardbenefits.simulate.example.example_simulation`) into the in-memory ledger, with
  metrics;
- ``chunks``: reading the same file as transaction column chunks
  (:func:`~cardbenefits.simulate.columnar.iter_chunks`), the I/O limit of the columnar path;
- ``fast``: the columnar replay (:func:`~cardbenefits.simulate.fast.run_columnar`): same
  report, transaction programmes decided in batch;
- the ratios replay/read, fast/chunks and replay/fast, events per second and peak memory
  (tracemalloc is too slow at this scale, so the peak RSS of a child process per phase is
  reported).

``--profile`` prints the replay phase's cProfile top by own time and by cumulative time.

Usage::

    python benchmarks/bench_simulate.py --transactions 1000000 --customers 100000
    python benchmarks/bench_simulate.py --transactions 100000 --customers 10000 --profile
    python benchmarks/bench_simulate.py --transactions 1000000 --customers 10000 --ledger memory:window=30d
    python benchmarks/bench_simulate.py --transactions 10000000 --customers 100000 --phases chunks,fast
    python benchmarks/bench_simulate.py --dir DIR --format parquet --phases read,chunks,fast
    python benchmarks/bench_simulate.py --dir DIR --format parquet --phases fast --threads 2

Each phase runs in its own process with ``POLARS_MAX_THREADS`` set to ``--threads`` (default 1,
so the figures are one core's: the Python parts are single-threaded anyway).

Not a test; prints a table.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cardbenefits.simulate.columnar import iter_chunks
from cardbenefits.simulate.commands import _ledger
from cardbenefits.simulate.example import EXAMPLE_AS_OF, example_simulation
from cardbenefits.simulate.fast import run_columnar
from cardbenefits.simulate.io import EventSource, write_customers, write_events
from cardbenefits.synth import SynthConfig, generate_customers, generate_events


def _write(folder: Path, transactions: int, customers: int) -> int:
    # synth's default activity is ~15 purchases/customer/month; size the months to reach N.
    per_month = 15 * customers
    months = max(1, -(-transactions // per_month))
    config = SynthConfig(
        seed=2026, customers=customers, months=months, start="2026-09-01", follow_rate="0.05"
    )
    people = list(generate_customers(config))
    write_customers(folder / "customers.jsonl", people)
    count = 0

    def limited():  # type: ignore[no-untyped-def]
        nonlocal count
        for event in generate_events(config, people):
            if event.event_type == "transaction":
                count += 1
                if count > transactions:
                    return
            yield event

    write_events(folder / "events.jsonl", limited(), mixed=True)
    # a mixed file whose customers live in their own file: an event-set directory of one kind
    (folder / "transactions.jsonl").unlink(missing_ok=True)
    return min(count, transactions)


def _source(folder: Path, fmt: str) -> EventSource:
    if fmt == "jsonl":
        return EventSource(folder / "customers.jsonl", ((folder / "events.jsonl", None),))
    kinds = ("transactions", "follows", "draws", "referrals")
    files = tuple((p, k) for k in kinds if (p := folder / "parquet" / f"{k}.parquet").exists())
    return EventSource(folder / "customers.jsonl", files)


def _to_parquet(folder: Path) -> None:
    """The same events as one Parquet file per kind, of text columns as ``write_events`` writes them.

    polars streams the JSON-lines file once per kind (a 10M set takes about a minute, not the
    object reader's ten); the columns of each kind are the keys of its first line.
    """
    import polars as pl

    out = folder / "parquet"
    out.mkdir(exist_ok=True)
    source = folder / "events.jsonl"
    stems = {
        "transaction": "transactions",
        "follow": "follows",
        "draw_request": "draws",
        "referral": "referrals",
    }
    columns: dict[str, list[str]] = {}
    with source.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            kind = record["type"]
            if kind not in columns:
                columns[kind] = [name for name in record if name != "type"]
                if len(columns) == len(stems):
                    break
    schema = {name: pl.String for name in {"type", *(n for names in columns.values() for n in names)}}
    for kind, names in columns.items():
        frame = pl.scan_ndjson(source, schema=schema).filter(pl.col("type") == kind).select(names)
        frame.sink_parquet(out / f"{stems[kind]}.parquet", row_group_size=65536)


def _phase(folder: Path, phase: str, profile: bool, ledger: str | None = None, fmt: str = "jsonl") -> None:
    source = _source(folder, fmt)
    started = time.perf_counter()
    customers = source.customers()
    print(f"CUSTOMERS {len(customers)} {time.perf_counter() - started:.3f}")
    started = time.perf_counter()
    if phase == "read":
        n = sum(1 for _ in source.events())
    elif phase == "chunks":
        n = sum(len(c.transactions) + len(c.others) for c in iter_chunks(source))
    elif phase == "fast":
        sim = example_simulation(as_of=EXAMPLE_AS_OF.subtract(years=5), ledger=_ledger(ledger))
        profiler = cProfile.Profile() if profile else None
        if profiler:
            profiler.enable()
        result = run_columnar(sim, customers, iter_chunks(source, timezone=sim.engine.timezone))
        if profiler:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
            pstats.Stats(profiler).sort_stats("cumtime").print_stats(30)
        n = sum(result.metrics.events.values())
    else:
        # every event is replayed (no history before as_of)
        sim = example_simulation(as_of=EXAMPLE_AS_OF.subtract(years=5), ledger=_ledger(ledger))
        profiler = cProfile.Profile() if profile else None
        if profiler:
            profiler.enable()
        result = sim.run(customers, source.events())
        if profiler:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
            pstats.Stats(profiler).sort_stats("cumtime").print_stats(30)
        n = sum(result.metrics.events.values())
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if phase in ("replay", "fast") and hasattr(sim.ledger, "stats"):
        print(f"LEDGER {sim.ledger.stats()}")
    print(f"RESULT {phase} {n} {elapsed:.3f} {peak:.0f}")


PHASES = ("read", "chunks", "replay", "fast")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--phase", choices=PHASES)
    parser.add_argument(
        "--phases", default=",".join(PHASES), help="comma-separated subset to run (default: all)"
    )
    parser.add_argument("--ledger", metavar="SPEC", help="as simulate --ledger, e.g. memory:window=30d")
    parser.add_argument(
        "--format", choices=("jsonl", "parquet"), default="jsonl", help="event files to read (default jsonl)"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="polars threads per phase (default 1: the one-core figure)"
    )
    args = parser.parse_args()
    if args.phase:
        _phase(args.dir, args.phase, args.profile, args.ledger, args.format)
        return
    folder = args.dir or Path(tempfile.mkdtemp(prefix="bench_simulate_"))
    if not (folder / "events.jsonl").exists():
        started = time.perf_counter()
        n = _write(folder, args.transactions, args.customers)
        print(
            f"wrote {n} transactions for {args.customers} customers in {time.perf_counter() - started:.0f}s"
        )
    if args.format == "parquet" and not (folder / "parquet").exists():
        started = time.perf_counter()
        _to_parquet(folder)
        print(f"wrote the Parquet event set in {time.perf_counter() - started:.0f}s")
    if args.format == "jsonl":
        size, label = (folder / "events.jsonl").stat().st_size / 1e6, "JSON lines"
    else:
        size, label = sum(p.stat().st_size for p in (folder / "parquet").iterdir()) / 1e6, "Parquet"
    rows = {}
    for phase in args.phases.split(","):
        cmd = [sys.executable, __file__, "--dir", str(folder), "--phase", phase, "--format", args.format]
        if args.profile and phase in ("replay", "fast"):
            cmd.append("--profile")
        if args.ledger and phase in ("replay", "fast"):
            cmd += ["--ledger", args.ledger]
        env = {**os.environ, "POLARS_MAX_THREADS": str(args.threads)}
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
        if args.profile and phase in ("replay", "fast"):
            print(out)
        for line in out.splitlines():
            if line.startswith("LEDGER"):
                print(line)
        _, name, n, secs, peak = next(line for line in out.splitlines() if line.startswith("RESULT")).split()
        rows[name] = (int(n), float(secs), float(peak))
        _, people, people_secs = next(
            line for line in out.splitlines() if line.startswith("CUSTOMERS")
        ).split()
    print(f"events: {size:.0f} MB {label}; {people} customers read in {float(people_secs):.1f}s; "
          f"polars threads: {args.threads}")  # fmt: skip
    print(f"{'phase':<8} {'events':>10} {'seconds':>9} {'events/s':>10} {'peak RSS MB':>12}")
    for name, (n, secs, peak) in rows.items():
        print(f"{name:<8} {n:>10} {secs:>9.1f} {n / secs:>10.0f} {peak:>12.0f}")

    def ratio(a: str, b: str, label: str) -> None:
        if a in rows and b in rows:
            print(f"{label}: {rows[a][1] / rows[b][1]:.2f}x")

    ratio("replay", "read", "replay/read time (event-by-event replay vs its object reader)")
    ratio("fast", "chunks", "fast/chunks time (columnar replay vs its columnar reader, the I/O limit)")
    ratio("replay", "fast", "replay/fast time (speed-up of the columnar path)")


if __name__ == "__main__":
    main()
