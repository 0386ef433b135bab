"""Simulation tests: the report's numbers against an independent recomputation, readers, CLI."""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from cardbenefits.cli import main
from cardbenefits.facts import Follow, Transaction
from cardbenefits.programmes import REAL_ESTATE_ETC
from cardbenefits.report.summary import build_report
from cardbenefits.simulate.example import (
    EXAMPLE_AS_OF,
    example_data,
    example_engine,
    example_funnels,
    example_issuer,
    write_example,
)
from cardbenefits.simulate.io import EventOrderError, EventSource, SimulationError, write_events
from cardbenefits.simulate.replay import Simulation


def _run(customers: dict, events: object) -> dict:
    sim = Simulation(example_engine(), funnels=example_funnels(), coupon_issuer=example_issuer(),
                     as_of=EXAMPLE_AS_OF)  # fmt: skip
    return build_report(sim.run(customers, events), catalog_ref="example")  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def example_report() -> dict:
    customers, events = example_data()
    return _run(customers, events)


def _programme(report: dict, pid: str) -> dict:
    return next(p for p in report["programmes"] if p["programme_id"] == pid)


def test_cashback_matches_plain_python(example_report: dict) -> None:
    """小额多笔返现 recomputed straight from the example transactions: ¥5 per purchase >= ¥50
    (excluded MCCs aside), 5 per customer per Beijing calendar month, a refund that leaves the
    purchase below ¥50 takes the ¥5 back and frees the month's slot."""
    _customers, events = example_data()
    granted: dict[str, str] = {}  # txn id -> month it counted in
    used: dict[tuple[str, str], int] = defaultdict(int)
    original: dict[str, Decimal] = {}
    refunded: dict[str, Decimal] = defaultdict(Decimal)
    grants = clawbacks = 0
    cost = Decimal(0)
    for event in events:
        if not isinstance(event, Transaction) or event.transacted_at < EXAMPLE_AS_OF:
            continue
        if event.kind.value == "purchase":
            original[event.id] = event.amount.amount
            local = event.transacted_at.in_timezone("Asia/Shanghai")
            month = f"{local.year:04d}-{local.month:02d}"
            ok = event.amount.amount >= 50 and event.mcc not in REAL_ESTATE_ETC
            if ok and used[(event.customer_id, month)] < 5:
                used[(event.customer_id, month)] += 1
                granted[event.id] = month
                grants += 1
                cost += 5
        elif event.kind.value in ("refund", "reversal") and event.refund_of in granted:
            tid = event.refund_of
            refunded[tid] += event.amount.amount
            if original[tid] - refunded[tid] < 50:
                used[(event.customer_id, granted.pop(tid))] -= 1
                clawbacks += 1
                cost -= 5
    row = _programme(example_report, "cashback_small")
    assert (row["grants"], row["clawbacks"], Decimal(row["issuer_cost"])) == (grants, clawbacks, cost)
    assert Decimal(row["quantity"]["cashback"]) == cost
    assert grants > 1000
    assert clawbacks > 0
    assert row["budget"] == "20000"
    assert row["burn"][-1][1] == str(cost)


def test_points_and_event_counts_match_plain_python(example_report: dict) -> None:
    _customers, events = example_data()
    points = Decimal(0)
    counts: dict[str, int] = defaultdict(int)
    history = 0
    for event in events:
        at = event.transacted_at if isinstance(event, Transaction) else event.at
        if at < EXAMPLE_AS_OF:
            history += 1
            continue
        counts[event.event_type] += 1
        if (
            isinstance(event, Transaction)
            and event.kind.value == "purchase"
            and event.mcc not in REAL_ESTATE_ETC
        ):
            points += event.amount.amount // 20
    row = _programme(example_report, "points_basic")
    clawed = Decimal(row["quantity"]["points"])
    # Clawbacks only ever reduce points; without them the total is the plain floor sum.
    assert clawed <= points
    assert points - clawed < points / 20
    assert example_report["events"] == dict(sorted(counts.items()))
    assert example_report["history_events"] == history


def test_report_shape_and_invariants(example_report: dict) -> None:
    totals = example_report["totals"]
    assert totals["customers"] == 400
    assert 0 < totals["customers_reached"] <= totals["customers_active"] <= 400
    assert sum(example_report["segments"]["lifecycle"].values()) == 400
    welcome = _programme(example_report, "welcome")
    assert sum(welcome["tiers"].values()) == welcome["grants"] - welcome["clawbacks"]
    for limit in example_report["limits"]:
        assert Decimal(limit["used"]) <= Decimal(limit["maximum"])
    funnel = example_report["funnels"][0]
    assert funnel["stages"]["follow"] >= funnel["stages"]["draw"] > 0
    assert sum(funnel["wins"].values()) == _programme(example_report, "e_life")["coupons_issued"]


def test_replay_is_deterministic(example_report: dict) -> None:
    customers, events = example_data()
    assert json.dumps(_run(customers, events)) == json.dumps(example_report)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_files_give_the_same_report(tmp_path: Path, fmt: str, example_report: dict) -> None:
    source = EventSource.open(write_example(tmp_path, fmt))  # type: ignore[arg-type]
    assert _run(source.customers(), source.events()) == example_report


def test_out_of_order_file_is_refused(tmp_path: Path) -> None:
    late = Follow("f1", "c1", "e_life", "app", "2026-11-05T10:00+08:00")
    early = Follow("f2", "c1", "e_life", "app", "2026-11-04T10:00+08:00")
    write_events(tmp_path / "follows.jsonl", [late, early])
    (tmp_path / "customers.jsonl").write_text("")
    with pytest.raises(EventOrderError, match=r"follows.jsonl:2"):
        list(EventSource.open(tmp_path).events())


def test_missing_customers_and_bad_suffix(tmp_path: Path) -> None:
    with pytest.raises(SimulationError, match="no customers file"):
        EventSource.open(tmp_path)
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(SimulationError, match="unsupported file type"):
        EventSource.open(tmp_path / "x.txt")


def test_cli_simulate_and_explain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--out", str(tmp_path / "r"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "reached" in out
    assert (tmp_path / "r" / "index.html").exists()
    for name in (
        "report.json",
        "programmes.csv",
        "burn.csv",
        "tiers.csv",
        "refusals.csv",
        "programmes.parquet",
    ):
        assert (tmp_path / "r" / name).exists(), name
    assert main(["explain", "--customer", "c00000003", "--locale", "zh_CN"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("客户 c00000003")
    assert "汇总" in text
    assert main(["explain", "--customer", "nobody"]) == 1


def test_cli_sqlite_ledger_matches_memory(tmp_path: Path) -> None:
    data = write_example(tmp_path / "data", "jsonl")
    assert main(["simulate", "--out", str(tmp_path / "m"), "--no-progress", "--as-of", "2026-11-01",
                 "--ledger", "memory"]) == 0  # fmt: skip
    del data
    memory = json.loads((tmp_path / "m" / "report.json").read_text())
    assert main(["simulate", "--out", str(tmp_path / "s"), "--no-progress", "--ledger",
                 f"sqlite:{tmp_path / 'ledger.db'}"]) == 0  # fmt: skip
    sqlite = json.loads((tmp_path / "s" / "report.json").read_text())
    assert sqlite == memory
