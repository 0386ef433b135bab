"""Simulation tests: the report's numbers against an independent recomputation, readers, CLI."""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from cardbenefits.cli import main
from cardbenefits.facts import DrawRequest, Follow, Transaction
from cardbenefits.money import Money
from cardbenefits.programmes import REAL_ESTATE_ETC
from cardbenefits.report.summary import build_report
from cardbenefits.simulate.example import (
    EXAMPLE_AS_OF,
    example_catalog,
    example_data,
    example_simulation,
    write_example,
)
from cardbenefits.simulate.io import EventOrderError, EventSource, SimulationError, write_events

ROOT = Path(__file__).resolve().parents[2]


def _run(customers: dict, events: object) -> dict:
    return build_report(example_simulation().run(customers, events), catalog_ref="example")  # type: ignore[arg-type]


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


def test_funnel_stages_match_plain_python(example_report: dict) -> None:
    """e生活 follow and draw stages recomputed from the example events: a follow in the campaign
    window counts once per customer; a draw is accepted after the customer's follow, at most once
    a Beijing day and 3 times in all per person, at most 2 a day per device (risk policy)."""
    customers, events = example_data()
    campaign = example_catalog().section("campaigns")["e_life"]
    followed: set[str] = set()
    drew: set[str] = set()
    per_day: dict[tuple[str, str], int] = defaultdict(int)
    per_campaign: dict[str, int] = defaultdict(int)
    per_device: dict[tuple[str, str], int] = defaultdict(int)
    draws = 0
    for event in events:
        if not isinstance(event, Follow | DrawRequest) or event.at < EXAMPLE_AS_OF:
            continue
        if not campaign.starts_at <= event.at < campaign.ends_at:
            continue
        if isinstance(event, Follow):
            followed.add(event.customer_id)
            continue
        person = customers[event.customer_id].person_id
        day = event.at.in_timezone("Asia/Shanghai").to_date_string()
        device = event.device_id
        if event.customer_id not in followed or per_day[(person, day)] >= 1 or per_campaign[person] >= 3:
            continue
        if device is not None and per_device[(device, day)] >= 2:
            continue
        per_day[(person, day)] += 1
        per_campaign[person] += 1
        if device is not None:
            per_device[(device, day)] += 1
        drew.add(event.customer_id)
        draws += 1
    funnel = example_report["funnels"][0]
    assert funnel["stages"]["follow"] == len(followed) > 30
    assert funnel["stages"]["draw"] == len(drew) > 10
    assert funnel["draws"] == draws
    assert sum(funnel["wins"].values()) + funnel["blanks"] == draws
    assert 0 < funnel["stages"]["pay"] <= funnel["stages"]["draw"]
    assert sum(c["follow"] for c in funnel["by_channel"].values()) == len(followed)
    assert sum(c["pay"] for c in funnel["by_day"].values()) == funnel["stages"]["pay"]


def test_coupon_redemptions_match_the_ledger() -> None:
    """Every coupon the report counts as redeemed is a redeem entry of a purchase of its holder,
    at most once per coupon; every pay-stage marker refers to a redemption of a coupon drawn in
    e_life by the same customer."""
    customers, events = example_data()
    purchases: dict[str, str] = {}
    everything = list(events)
    for event in everything:
        if isinstance(event, Transaction) and event.kind.value == "purchase":
            purchases[event.id] = event.customer_id
    result = example_simulation().run(customers, everything)
    report = build_report(result)
    entries = result.ledger.entries()
    redeemed = [e for e in entries if e.kind.value == "redeem"]
    assert len(redeemed) == report["totals"]["coupons_redeemed"] > 5
    assert len({e.meta["coupon_id"] for e in redeemed}) - report["totals"]["coupons_returned"] <= len(
        redeemed
    )
    for entry in redeemed:
        assert purchases[entry.meta["payment_id"]] == entry.customer_id
    by_id = {e.entry_id: e for e in entries}
    drawn = {e.meta["draw.coupon_id"]: e.customer_id for e in entries if e.meta.get("draw.coupon_id")}
    pays = [e for e in entries if e.asset == "funnel:e_life:pay"]
    assert pays
    for pay in pays:
        redemption = by_id[pay.ref]  # type: ignore[index]
        assert drawn[redemption.meta["coupon_id"]] == pay.customer_id == redemption.customer_id
    assert report["funnels"][0]["stages"]["pay"] == len({p.customer_id for p in pays})


def test_group_rewards_match_plain_python(example_report: dict) -> None:
    """团队达标奖 at its deadline: a group with >= 5 members and >= 80% of them activated by the deadline."""
    customers, _events = example_data()
    team = example_catalog().section("group_rewards")["team80"]
    rosters: dict[str, list] = defaultdict(list)
    for customer in customers.values():
        if customer.employer_group is not None:
            rosters[customer.employer_group].append(customer)
    granted = 0
    for members in rosters.values():
        active = sum(
            1
            for m in members
            if any(c.activated_at is not None and c.activated_at < team.deadline for c in m.cards)
        )
        if len(members) and active >= max(-(-len(members) * 8 // 10), 5):
            granted += 1
    (row,) = example_report["group_rewards"]
    assert (row["groups"], row["granted"]) == (len(rosters), granted)
    programme = _programme(example_report, "team80")
    assert programme["grants"] == granted > 0
    assert Decimal(programme["issuer_cost"]) == 2000 * granted


def test_bundled_catalog_is_the_example_file() -> None:
    packaged = ROOT / "src" / "cardbenefits" / "data" / "demo.yaml"
    assert packaged.read_bytes() == (ROOT / "examples" / "catalogs" / "demo.yaml").read_bytes()


def test_referrals_are_in_the_catalog(example_report: dict) -> None:
    share = _programme(example_report, "share_and_invite")
    assert "not_in_catalog" not in share["refusals"]
    assert share["grants"] > 0


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
    for table in ("programmes", "refusals", "funnel_breakdown", "group_rewards"):
        assert table
    e_life = _programme(example_report, "e_life")
    assert e_life["coupons_redeemed"] > 0
    assert Decimal(e_life["issuer_cost"]) > 0
    assert example_report["totals"]["coupons_redeemed"] >= e_life["coupons_redeemed"]


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
    for line in ("coupons:", "funnel e_life: follow", "group reward team80"):
        assert line in out
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


def test_explain_shows_checkout_and_funnel_reasons(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "--customer", "c00000237", "--locale", "en"]) == 0
    text = capsys.readouterr().out
    assert "checkout redeemed e_life:" in text
    assert "pay stage completed" in text
    assert "Won " in text


def test_full_refund_returns_coupons_per_policy() -> None:
    """A purchase paid with a coupon and then fully refunded gives the coupon back (``always``),
    keeps a ``never`` coupon, and moves its cost back out of the programme."""
    import pendulum

    from cardbenefits.facts import CardHolding, Customer
    from cardbenefits.ledger import EntryBatch

    sim = example_simulation(segment=False)
    card = CardHolding(
        "k1", "p1", "youth_card", "2026-09-05T09:00+08:00", activated_at="2026-09-06T09:00+08:00"
    )
    ann = Customer("c1", "p1", cards=(card,))
    at = pendulum.datetime(2026, 11, 3, 12, tz="Asia/Shanghai")
    issuer = sim.coupon_issuer
    assert issuer is not None
    for template in ("ljj10", "ljj5"):
        entries = issuer(template, customer_id="c1", person_id="p1", programme_id="test",
                         coupon_id=f"x-{template}", at=at, catalog_version="v", view=sim.ledger,
                         record={})  # fmt: skip
        sim.ledger.apply(EntryBatch.of(f"issue:{template}", entries))
    buy = Transaction("t1", "c1", "k1", Money.of("80.00"), "m1", "5812", "wechat_pay", "purchase",
                      at.add(hours=1))  # fmt: skip
    back = Transaction("t2", "c1", "k1", Money.of("80.00"), "m1", "5812", "wechat_pay", "refund",
                       at.add(days=1), refund_of="t1")  # fmt: skip
    report = build_report(sim.run({"c1": ann}, [buy, back]))
    rows = {p["programme_id"]: p for p in report["programmes"]}
    assert report["totals"]["coupons_redeemed"] == 1  # one bank-group coupon per payment
    redeemed = [e for e in sim.ledger.entries() if e.kind.value == "redeem"]
    assert [e.meta["template_id"] for e in redeemed] == ["ljj10"]
    assert report["totals"]["coupons_returned"] == 1
    pid = redeemed[0].programme_id
    assert Decimal(rows[pid]["issuer_cost"]) == 0
    assert Decimal(rows[pid]["coupon_value"]) == 0
