"""Catalog sections programmes / ladders / group_rewards: errors with paths, round trips, engines."""

from __future__ import annotations

from pathlib import Path

import pendulum
import pytest

import cardbenefits.engine  # noqa: F401  (registers the sections)
from cardbenefits.catalog import CatalogValidationError, dumps, load_catalog, loads
from cardbenefits.engine import Engine, progress
from cardbenefits.ledger import MemoryLedger

from .support import TZ, card, customer, refund, run, txn

EXAMPLE = Path(__file__).parents[2] / "examples" / "catalogs" / "rewards.yaml"

HEADER = 'id: t\nversion: "1"\nbenefits:\n  - {id: cb5, kind: cashback, name: x, amount: "5"}\n'


def errors(text: str) -> list[str]:
    with pytest.raises(CatalogValidationError) as info:
        loads(HEADER + text)
    return [str(issue) for issue in info.value.issues]


def test_example_round_trips_in_yaml_and_json() -> None:
    catalog = load_catalog(EXAMPLE)
    assert catalog.summary()["programmes"] == 5
    assert loads(dumps(catalog)) == catalog
    assert loads(dumps(catalog, "json"), "json") == catalog
    assert loads(dumps(loads(dumps(catalog)))) == catalog


def test_errors_carry_paths() -> None:
    found = errors(
        """
programmes:
  - {id: a, kind: fixed, amount: 5.5, benefit_id: cb_5}
  - {id: b, kind: percent, rate: 5, qualifier: {mccs: ["54x1"], chanels: [pos]}}
  - {id: c, kind: accrual, asset: points, per: "20", eligibility: 'lifecycle == "dormnt"'}
  - {id: d, kind: multiplier, base: d2, factor: 1}
  - {id: e, kind: fixed, amount: "1", limits: [{id: m, maximum: 1}, {id: m, maximum: 2}]}
ladders:
  - id: a
    tiers:
      - {id: t1, reward: {asset: "membership:video"}}
      - {id: t1, min_count: 1, reward: {asset: x, units: 1}}
group_rewards:
  - {id: g, rate: 1.5, reward: {asset: "fund:x", amount: "1"}}
"""
    )
    text = "\n".join(found)
    assert "programmes[0].amount: write amounts as text" in text
    assert "programmes[0].benefit_id: unknown benefit id (got 'cb_5'; did you mean 'cb5'?)" in text
    assert "programmes[1].qualifier.mccs[0]" in text
    assert "programmes[1].qualifier.chanels: unknown key" in text
    assert "'channels'" in text
    assert "programmes[2].eligibility:1:14:" in text
    assert "programmes[3].base: unknown programme id (got 'd2'; did you mean 'd'?)" in text
    assert "programmes[3].factor: a multiplier factor must be above 1" in text
    assert "programmes[4].limits[1].id: duplicate limit id" in text
    assert "ladders[0].id: id already used in programmes" in text
    assert "ladders[0].tiers[0]: a tier needs min_spend or min_count" in text
    assert "ladders[0].tiers[0].reward: a reward needs exactly one of amount or units" in text
    assert "ladders[0].tiers[1].id: duplicate tier id" in text
    assert "group_rewards[0].rate: rate must be in (0, 1]" in text


def test_engine_from_catalog_records_the_catalog_ref() -> None:
    catalog = load_catalog(EXAMPLE)
    engine = Engine.from_catalog(catalog)
    ledger = MemoryLedger()
    approved = pendulum.datetime(2026, 11, 2, tz=TZ)
    who = customer(cards=(card(approved=approved),), new_to_bank=True, attributes={"lifecycle": "win_back"})
    d = run(engine, ledger, txn(1, "600", mcc="5411"), who)
    assert d.catalog_version == "rewards-demo@2026.11.1"
    assert {e.catalog_version for e in d.batch.entries} == {"rewards-demo@2026.11.1"}
    assert d.granted("cashback50") == 5
    assert d.granted("supermarket5") == 20  # 5% of 600 capped at ¥20
    assert d.granted("points") == 30
    assert d.granted("double_points") == 30  # returning customer
    assert d.granted("welcome") == 1  # month1 tier: video month card
    assert ledger.balance("c1", "cashback") == 25
    assert ledger.balance("c1", "membership:video") == 1
    ladder = catalog.section("ladders")["welcome"]
    text = progress(engine, ladder, who, who.cards[0], ledger, approved).render("en")
    assert "welcome/month1: granted" in text
    # excluded MCC and the airline programme reserved for the mid-career card
    d = run(engine, ledger, txn(2, "600", mcc="9311"), who)
    assert d.granted("cashback50") == 0
    assert d.granted("points") == 0
    d = run(engine, ledger, txn(3, "100", mcc="4511"), who)
    assert d.granted("miles3x") == 15
    # month spend 700 (600 + 100 at the airline); a ¥250 refund leaves 450 < 500: clawed back
    run(engine, ledger, refund(1, "t1", "250"), who)
    assert ledger.balance("c1", "membership:video") == 0
