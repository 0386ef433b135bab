"""Several processes racing on one SQLite ledger never oversell and never double-record."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from pathlib import Path

from ledger_helpers import STOCK, hammer

from cardbenefits.ledger import SQLiteLedger

WORKERS = 4
PER_WORKER = 300
STOCK_LIMIT = 250
CAP = 3  # per customer, see ledger_helpers.prize_batch


def test_concurrent_writers_respect_limits_and_record_each_success_once(tmp_path: Path) -> None:
    path = str(tmp_path / "race.db")
    SQLiteLedger(path).close()  # create the schema (and WAL mode) before the race starts
    # Neighbouring workers share a third of their events, so the same key races in two processes.
    jobs = [(path, w, range(w * 200, w * 200 + PER_WORKER), STOCK_LIMIT) for w in range(WORKERS)]
    with multiprocessing.get_context("spawn").Pool(WORKERS) as pool:
        reports = pool.starmap(hammer, jobs)

    outcomes = [item for report in reports for item in report]
    assert len(outcomes) == WORKERS * PER_WORKER
    applied = Counter(key for key, what in outcomes if what == "applied")
    already = {key for key, what in outcomes if what == "already"}
    refused = {key for key, what in outcomes if what.startswith("refused:")}
    assert set(applied.values()) == {1}, "a key was applied by two processes"
    assert already <= set(applied), "a repeat was reported for a key nobody applied"
    assert already, "the shared keys never raced; the test lost its point"
    assert {what for _key, what in outcomes if what.startswith("refused:")} >= {f"refused:{STOCK}"}

    with SQLiteLedger(path) as ledger:
        # Caps leave room for 97 * 3 = 291 winners, so the stock is the binding limit: it must be
        # exhausted exactly, never exceeded.
        assert ledger.usage(STOCK) == STOCK_LIMIT == len(applied)
        entries = ledger.entries()
        assert len(entries) == len(applied)
        assert len({e.entry_id for e in entries}) == len(entries)
        assert {e.entry_id for e in entries} == {f"{key}#0" for key in applied}
        assert all(ledger.has_applied(key) for key in applied)
        assert not any(ledger.has_applied(key) for key in refused - set(applied))
        per_customer = Counter(e.customer_id for e in entries)
        for customer, count in per_customer.items():
            assert count <= CAP
            assert ledger.usage(f"cap:draw:{customer}") == count
            assert ledger.balance(customer, "coupon:iphone") == count
        assert sum(1 for _ in ledger.batches()) == len(applied)
