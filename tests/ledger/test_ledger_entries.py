"""Entries, charges and batches: validation at the boundary and the canonical codec."""

from __future__ import annotations

import pickle
from datetime import datetime
from decimal import Decimal

import attrs
import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ledger_helpers import AT, batch, cash, units

from cardbenefits.errors import LedgerError, LimitExceededError, MoneyError
from cardbenefits.ledger import (
    Charge,
    CounterLimitExceededError,
    CounterUnderflowError,
    EntryBatch,
    EntryKind,
    FrozenMap,
    IdempotencyConflictError,
    LedgerEntry,
    batch_from_json,
    batch_to_json,
    split_entry_id,
)
from cardbenefits.ledger.codec import format_instant, parse_instant
from cardbenefits.money import Money


def test_charge_converts_and_validates() -> None:
    charge = Charge("budget:p", "12.50", 1000)
    assert charge.delta == Decimal("12.50")
    assert charge.limit == Decimal(1000)
    assert Charge("stock:x", 1).limit is None
    with pytest.raises(MoneyError, match="delta: floats are not accepted"):
        Charge("budget:p", 0.1, None)
    with pytest.raises(LedgerError, match="limit: a limit must not be negative") as info:
        Charge("budget:p", 1, -1)
    assert info.value.value == Decimal(-1)
    with pytest.raises(LedgerError, match="counter: must be a non-empty string"):
        Charge("", 1, 1)


def test_entry_kind_signs() -> None:
    assert {k.value: k.sign for k in EntryKind} == {
        "grant": 1,
        "clawback": -1,
        "issue": 1,
        "redeem": -1,
        "return": 1,
        "expire": -1,
        "adjust": 1,
    }


def test_money_assets_need_amount_and_unit_assets_refuse_it() -> None:
    with pytest.raises(LedgerError, match="amount: money asset 'cashback' needs an amount"):
        LedgerEntry(
            kind="grant", customer_id="c", programme_id="p", asset="cashback", at=AT, catalog_version="v",
            reason="r", units=5,
        )  # fmt: skip
    with pytest.raises(LedgerError, match="amount: asset 'points' is counted in units, not money"):
        LedgerEntry(
            kind="grant", customer_id="c", programme_id="p", asset="points", at=AT, catalog_version="v",
            reason="r", amount=Money.of(5),
        )  # fmt: skip
    with pytest.raises(LedgerError, match="units: a money entry carries its quantity in amount"):
        LedgerEntry(
            kind="grant", customer_id="c", programme_id="p", asset="fund:acme", at=AT, catalog_version="v",
            reason="r", amount=Money.of(5), units=1,
        )  # fmt: skip


def test_quantities_are_magnitudes_except_adjust() -> None:
    with pytest.raises(LedgerError, match="a clawback entry carries a magnitude") as info:
        cash("c1", "-5.00", kind="clawback")
    assert info.value.path == "amount"
    assert info.value.value == Decimal("-5.00")
    with pytest.raises(LedgerError, match="units: a redeem entry carries a magnitude"):
        units("c1", "coupon:w20", -1, kind="redeem")
    adjust = units("c1", "points", -30, kind="adjust")
    assert adjust.signed_quantity == Decimal(-30)
    assert cash("c1", "5.00", kind="clawback").signed_quantity == Decimal("-5.00")


def test_entry_requires_aware_time_and_real_ids() -> None:
    naive = datetime(2026, 11, 3, 12, 0)  # naive on purpose
    with pytest.raises(LedgerError, match="at: must be an aware datetime"):
        attrs.evolve(cash(), at=naive)
    with pytest.raises(LedgerError, match="customer_id: must be a non-empty string"):
        attrs.evolve(cash(), customer_id=" c1")
    with pytest.raises(LedgerError, match="kind: unknown entry kind; expected one of grant, clawback"):
        attrs.evolve(cash(), kind="grnat")
    with pytest.raises(LedgerError, match=r"meta\['k'\]: meta keys and values must be strings"):
        attrs.evolve(cash(), meta={"k": 1})


def test_batch_assigns_ids_and_refuses_foreign_ones() -> None:
    b = batch("txn#9", cash(), cash("c2"))
    assert [e.entry_id for e in b.entries] == ["txn#9#0", "txn#9#1"]
    assert split_entry_id(b.entries[1].entry_id) == ("txn#9", 1)
    with pytest.raises(LedgerError, match=r"entries\[0\].entry_id: entry id must be other#0") as info:
        EntryBatch("other", b.entries[:1])
    assert info.value.value == "txn#9#0"
    with pytest.raises(LedgerError, match="entry_id: not an entry id"):
        split_entry_id("no-index")
    with pytest.raises(LedgerError, match="idempotency_key: must be a non-empty string"):
        EntryBatch.of("", [])


def test_net_charges_sum_per_counter_and_keep_tightest_limit() -> None:
    b = batch(
        "k",
        cash("c1", "5", Charge("budget", "5", 100), Charge("cap", 1, 5)),
        cash("c1", "3", Charge("budget", "-2", 80), Charge("cap", 1, None)),
    )
    assert b.net_charges() == {"budget": (Decimal(3), Decimal(80)), "cap": (Decimal(2), Decimal(5))}


def test_frozen_map_is_immutable_and_hashable() -> None:
    m = FrozenMap({"b": "2", "a": "1"})
    assert list(m.items()) == [("a", "1"), ("b", "2")]
    assert m == FrozenMap([("a", "1"), ("b", "2")]) == {"a": "1", "b": "2"}
    assert m != {"a": "1"}
    assert len({m, FrozenMap({"a": "1", "b": "2"})}) == 1
    entry = cash(meta={"rule": "spend >= 50"})
    assert hash(entry) == hash(cash(meta={"rule": "spend >= 50"}))
    with pytest.raises(TypeError):
        m["c"] = "3"  # type: ignore[index]


def test_errors_carry_structured_fields_and_pickle() -> None:
    err = CounterLimitExceededError("cap:x", limit=Decimal(5), usage=Decimal(4), delta=Decimal(2))
    assert isinstance(err, LimitExceededError)
    assert str(err) == "cap:x: limit 5 exceeded: usage 4 + requested 2 = 6 (got Decimal('2'))"
    back = pickle.loads(pickle.dumps(err))
    assert (back.counter, back.limit, back.usage, back.delta, str(back)) == (
        "cap:x", Decimal(5), Decimal(4), Decimal(2), str(err),
    )  # fmt: skip
    under = pickle.loads(pickle.dumps(CounterUnderflowError("stock:y", usage=Decimal(0), delta=Decimal(-1))))
    assert (under.counter, under.usage, under.delta) == ("stock:y", Decimal(0), Decimal(-1))
    conflict = pickle.loads(pickle.dumps(IdempotencyConflictError("k1")))
    assert conflict.idempotency_key == "k1"
    assert str(conflict) == "idempotency_key: key already applied with different entries (got 'k1')"


def test_instants_are_stored_in_utc() -> None:
    assert format_instant(pendulum.datetime(2026, 11, 1, 0, 0, 0, 123, tz="Asia/Shanghai")) == (
        "2026-10-31T16:00:00.000123Z"
    )
    assert parse_instant("2026-10-31T16:00:00.000123Z") == pendulum.datetime(
        2026, 11, 1, 0, 0, 0, 123, tz="Asia/Shanghai"
    )
    with pytest.raises(LedgerError, match="at: not a UTC instant"):
        parse_instant("2026-10-31 16:00")


def test_codec_rejects_malformed_lines() -> None:
    with pytest.raises(LedgerError, match="line: not JSON"):
        batch_from_json("{oops")
    with pytest.raises(LedgerError, match="batch: a batch record needs idempotency_key"):
        batch_from_json("[]")
    with pytest.raises(LedgerError, match="entry: malformed entry record"):
        batch_from_json('{"idempotency_key": "k", "entries": [{"entry_id": "k#0"}]}')


# -- properties ----------------------------------------------------------------------------------
ids = st.text(alphabet="abcXYZ019:_-#中", min_size=1, max_size=8).filter(lambda s: s == s.strip())
decimals = st.decimals(min_value=0, max_value=10**9, allow_nan=False, allow_infinity=False, places=4)
instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.sampled_from(
        [pendulum.timezone("Asia/Shanghai"), pendulum.UTC, pendulum.timezone("America/New_York")]
    ),
)  # fmt: skip
charges = st.builds(Charge, ids, st.decimals(min_value=-100, max_value=100, places=2), st.none() | decimals)


@st.composite
def entries(draw: st.DrawFn) -> LedgerEntry:
    """Random valid entries of every kind and asset family."""
    money = draw(st.booleans())
    kind = draw(st.sampled_from(list(EntryKind)))
    quantity = draw(decimals)
    return LedgerEntry(
        kind=kind,
        customer_id=draw(ids),
        programme_id=draw(ids),
        asset="cashback"
        if money
        else draw(st.sampled_from(["points", "miles", "coupon:w20", "membership:v"])),
        amount=Money(quantity, "CNY") if money else None,
        units=Decimal(0) if money else quantity,
        at=draw(instants),
        catalog_version=draw(ids),
        reason=draw(ids),
        person_id=draw(st.none() | ids),
        benefit_id=draw(st.none() | ids),
        ref=draw(st.none() | ids),
        charges=draw(st.lists(charges, max_size=3)),
        meta=draw(st.dictionaries(ids, st.text(max_size=10), max_size=3)),
    )


@settings(max_examples=150)
@given(key=ids, items=st.lists(entries(), max_size=4))
def test_codec_round_trips_and_is_canonical(key: str, items: list[LedgerEntry]) -> None:
    b = EntryBatch.of(key, items)
    line = batch_to_json(b)
    back = batch_from_json(line)
    assert back == b
    # Canonical: re-encoding what was read gives the same bytes, whatever zone the engine used.
    assert batch_to_json(back) == line
    assert "\n" not in line
