"""Tests of the facts layer: validation, records, serialization and event order."""

from __future__ import annotations

import datetime as dt
import json
import pickle
from decimal import Decimal
from typing import Any

import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardbenefits.errors import FactError
from cardbenefits.facts import (
    CardHolding,
    Channel,
    Customer,
    DrawRequest,
    Event,
    Follow,
    FrozenDict,
    Referral,
    Transaction,
    TransactionKind,
    _trusted_transaction,
    customer_record,
    event_from_dict,
    event_sort_key,
    event_time,
    event_to_dict,
    freeze_value,
)
from cardbenefits.money import Money

TZ = "Asia/Shanghai"
T0 = pendulum.datetime(2026, 11, 30, 23, 50, tz=TZ)


def txn(**overrides: Any) -> Transaction:
    fields: dict[str, Any] = {
        "id": "t1",
        "customer_id": "c1",
        "card_id": "k1",
        "amount": Money.of("88.00"),
        "merchant_id": "m1",
        "mcc": "5812",
        "channel": "wechat_pay",
        "kind": "purchase",
        "transacted_at": T0,
    }
    fields.update(overrides)
    return Transaction(**fields)


def card(**overrides: Any) -> CardHolding:
    fields: dict[str, Any] = {
        "card_id": "k1",
        "product_id": "mid_career",
        "tier": "gold",
        "approved_at": "2026-10-20T10:00:00+08:00",
    }
    fields.update(overrides)
    return CardHolding(**fields)


# -- enums -------------------------------------------------------------------------------------
def test_channels_and_kinds() -> None:
    assert [c.value for c in Channel] == [
        "wechat_pay",
        "alipay",
        "unionpay_quickpass",
        "pos",
        "online",
        "atm",
        "app",
        "branch",
    ]
    spend = {k for k in TransactionKind if k.is_spend}
    assert spend == {TransactionKind.PURCHASE}
    assert {k for k in TransactionKind if k.needs_original} == {
        TransactionKind.REFUND,
        TransactionKind.REVERSAL,
    }
    assert not TransactionKind.FEE.is_customer_initiated
    assert TransactionKind.CASH_ADVANCE.is_customer_initiated


# -- transaction validation --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"id": ""}, "transaction.id"),
        ({"id": "  "}, "transaction.id"),
        ({"customer_id": 7}, "transaction.customer_id"),
        ({"card_id": None}, "transaction.card_id"),
        ({"merchant_id": ""}, "transaction.merchant_id"),
        ({"amount": Money.of(0)}, "transaction.amount"),
        ({"amount": Money.of("-5")}, "transaction.amount"),
        ({"amount": Money.of("1.001")}, "transaction.amount"),
        ({"amount": "12.30"}, "transaction.amount"),
        ({"mcc": "581"}, "transaction.mcc"),
        ({"mcc": "58123"}, "transaction.mcc"),
        ({"mcc": 5812}, "transaction.mcc"),
        ({"mcc": "５８１２"}, "transaction.mcc"),
        ({"channel": "carrier_pigeon"}, "transaction.channel"),
        ({"channel": 3}, "transaction.channel"),
        ({"kind": "gift"}, "transaction.kind"),
        ({"transacted_at": dt.datetime(2026, 11, 30, 12)}, "transaction.transacted_at"),
        ({"transacted_at": "2026-11-30T12:00"}, "transaction.transacted_at"),
        ({"transacted_at": "yesterday"}, "transaction.transacted_at"),
        ({"transacted_at": 1700000000}, "transaction.transacted_at"),
        ({"posted_at": dt.datetime(2026, 12, 1, 9)}, "transaction.posted_at"),
        ({"posted_at": T0.subtract(seconds=1)}, "transaction.posted_at"),
        ({"kind": "refund"}, "transaction.refund_of"),
        ({"kind": "reversal", "refund_of": "t1"}, "transaction.refund_of"),
        ({"refund_of": "t0"}, "transaction.refund_of"),
        ({"kind": "fee", "refund_of": "t0"}, "transaction.refund_of"),
        ({"region": ""}, "transaction.region"),
        ({"device_id": 5}, "transaction.device_id"),
    ],
)
def test_transaction_rejects_bad_input(overrides: dict[str, Any], path: str) -> None:
    with pytest.raises(FactError) as info:
        txn(**overrides)
    assert info.value.path == path
    assert path in str(info.value)


def test_transaction_conversions_and_defaults() -> None:
    t = txn(transacted_at="2026-11-30T15:50:00Z")
    assert isinstance(t.transacted_at, pendulum.DateTime)
    assert t.posted_at == t.transacted_at
    assert t.channel is Channel.WECHAT_PAY
    assert t.kind is TransactionKind.PURCHASE
    stdlib = dt.datetime(2026, 11, 30, 23, 50, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    t2 = txn(transacted_at=stdlib)
    assert isinstance(t2.transacted_at, pendulum.DateTime)
    assert t2.transacted_at == T0
    # Posting in another zone, same instant: allowed.
    assert txn(posted_at=T0.in_timezone("UTC")).posted_at == T0


def test_signed_amount_and_aliases() -> None:
    assert txn().signed_amount == Money.of("88.00")
    for kind in ("refund", "reversal"):
        t = txn(id="t2", kind=kind, refund_of="t1")
        assert t.signed_amount == Money.of("-88.00")
        assert t.original_id == "t1"
    assert txn(kind="repayment").signed_amount.is_negative()
    assert txn(kind="fee").signed_amount.is_positive()
    t = txn()
    assert t.at is t.transacted_at
    assert t.merchant == "m1"


def test_posting_across_a_fold_compares_instants() -> None:
    berlin = "Europe/Berlin"
    first = pendulum.datetime(2026, 10, 25, 2, 30, tz=berlin, fold=0)
    second = pendulum.datetime(2026, 10, 25, 2, 10, tz=berlin, fold=1)  # later instant, earlier wall
    assert second.in_timezone("UTC") > first.in_timezone("UTC")
    assert txn(transacted_at=first, posted_at=second).posted_at is second
    with pytest.raises(FactError):
        txn(transacted_at=second, posted_at=first)


def test_trusted_constructor_equals_validated() -> None:
    t = txn(posted_at=T0.add(days=1), region="SH")
    fast = _trusted_transaction(
        t.id,
        t.customer_id,
        t.card_id,
        t.amount,
        t.merchant_id,
        t.mcc,
        t.channel,
        t.kind,
        t.transacted_at,
        t.posted_at,
        t.refund_of,
        t.region,
        t.device_id,
    )
    assert fast == t
    assert hash(fast) == hash(t)


def test_frozen() -> None:
    t = txn()
    with pytest.raises(AttributeError):
        t.amount = Money.of(1)  # type: ignore[misc]


# -- card holdings and customers -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"card_id": ""}, "cardholding.card_id"),
        ({"product_id": None}, "cardholding.product_id"),
        ({"tier": ""}, "cardholding.tier"),
        ({"approved_at": dt.datetime(2026, 1, 1)}, "cardholding.approved_at"),
        ({"activated_at": "2026-10-01T00:00+08:00"}, "cardholding.activated_at"),
        ({"activated_at": dt.datetime(2026, 11, 1)}, "cardholding.activated_at"),
        ({"billing_day": 0}, "cardholding.billing_day"),
        ({"billing_day": 32}, "cardholding.billing_day"),
        ({"billing_day": True}, "cardholding.billing_day"),
        ({"supplementary": "yes"}, "cardholding.supplementary"),
        ({"primary_card_id": "k0"}, "cardholding.primary_card_id"),
    ],
)
def test_card_rejects_bad_input(overrides: dict[str, Any], path: str) -> None:
    with pytest.raises(FactError) as info:
        card(**overrides)
    assert info.value.path == path


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"id": ""}, "customer.id"),
        ({"person_id": None}, "customer.person_id"),
        ({"age": 151}, "customer.age"),
        ({"age": "30"}, "customer.age"),
        ({"tags": "vip"}, "customer.tags"),
        ({"tags": {"vip", ""}}, "customer.tags"),
        ({"new_to_bank": 1}, "customer.new_to_bank"),
        ({"delinquent": None}, "customer.delinquent"),
        ({"segment": ""}, "customer.segment"),
        ({"cards": ["k1"]}, "customer.cards[0]"),
        ({"cards": (card(), card())}, "customer.cards[1].card_id"),
        ({"attributes": {"age": 3}}, "customer.attributes.age"),
        ({"attributes": {"rfm": {"ratio": 0.5}}}, "customer.attributes.rfm.ratio"),
        ({"attributes": {"seen": [dt.datetime(2026, 1, 1)]}}, "customer.attributes.seen[0]"),
        ({"attributes": {"x": object()}}, "customer.attributes.x"),
        ({"attributes": {"$money": 1}}, "customer.attributes.$money"),
        ({"attributes": ["a"]}, "customer.attributes"),
    ],
)
def test_customer_rejects_bad_input(kwargs: dict[str, Any], path: str) -> None:
    fields: dict[str, Any] = {"id": "c1", "person_id": "p1", **kwargs}
    with pytest.raises(FactError) as info:
        Customer(**fields)
    assert info.value.path == path


def test_customer_cards_and_attributes() -> None:
    supp = card(card_id="k0", supplementary=True, primary_card_id="k9")
    main = card(card_id="k1", activated_at="2026-10-21T08:00:00+08:00", billing_day=5)
    c = Customer(
        "c1",
        "p1",
        tags=["vip", "gamer"],
        cards=[supp, main],
        attributes={"rfm": {"score": 5, "monetary": Money.of("1200")}, "seen": ["a", "b"]},
    )
    assert c.tags == frozenset({"vip", "gamer"})
    assert c.primary_card is main
    assert c.card("k0") is supp
    assert c.card("nope") is None
    assert c.approved_at == main.approved_at
    assert c.activated_at == main.activated_at
    assert c.billing_day == 5
    assert isinstance(c.attributes, FrozenDict)
    assert c.attributes["seen"] == ("a", "b")
    with pytest.raises(TypeError):
        c.attributes["x"] = 1  # type: ignore[index]
    assert hash(c) == hash(pickle.loads(pickle.dumps(c)))
    only_supp = Customer("c2", "p2", cards=(supp,))
    assert only_supp.primary_card is supp
    assert Customer("c3", "p3").primary_card is None


# -- customer_record (shared contract) ------------------------------------------------------------
def test_customer_record_shape() -> None:
    k1 = card(activated_at="2026-10-22T08:00:00+08:00")
    k2 = card(card_id="k2", tier="platinum", supplementary=True)
    c = Customer(
        "c1",
        "p1",
        segment="mid_career",
        tags={"traveller"},
        age=35,
        region="SH",
        channel="app",
        employer_group="g1",
        new_to_bank=True,
        cards=(k1, k2),
        attributes={
            "rfm": {"recency_days": 3, "frequency": 12, "monetary": Money.of("3000"), "score": 5},
            "lifecycle": "active",
            "spend": {"month": Money.of("420.00"), "campaign": Money.of("0")},
        },
    )
    r = customer_record(c)
    assert list(r)[:11] == [
        "id",
        "person_id",
        "segment",
        "tags",
        "age",
        "region",
        "channel",
        "employer_group",
        "new_to_bank",
        "delinquent",
        "card",
    ]
    assert r["id"] == "c1"
    assert r["tags"] == frozenset({"traveller"})
    assert r["new_to_bank"] is True
    assert r["delinquent"] is False
    assert r["card"] == {
        "id": "k1",
        "product": "mid_career",
        "tier": "gold",
        "approved_at": k1.approved_at,
        "activated_at": k1.activated_at,
        "supplementary": False,
    }
    assert r["rfm"] == {"recency_days": 3, "frequency": 12, "monetary": Money.of("3000"), "score": 5}
    assert type(r["rfm"]) is dict
    assert r["lifecycle"] == "active"
    assert r["spend"] == {"month": Money.of("420.00"), "campaign": Money.of(0)}
    other = customer_record(c, k2)["card"]
    assert isinstance(other, dict)
    assert other["id"] == "k2"
    assert other["supplementary"] is True
    # Mutating the record does not touch the customer.
    rfm = r["rfm"]
    assert isinstance(rfm, dict)
    rfm["score"] = 1
    assert c.attributes["rfm"]["score"] == 5


def test_customer_record_unknowns() -> None:
    r = customer_record(Customer("c9", "p9"))
    assert r["card"] is None
    assert r["segment"] is None
    assert r["age"] is None
    assert "rfm" not in r


# -- events and order --------------------------------------------------------------------------
def test_events_validate() -> None:
    with pytest.raises(FactError) as info:
        Follow("f1", "c1", "camp", "", T0)
    assert info.value.path == "follow.channel"
    with pytest.raises(FactError) as info:
        DrawRequest("d1", "c1", "camp", "2026-11-30 10:00")
    assert info.value.path == "drawrequest.at"
    with pytest.raises(FactError) as info:
        Referral("r1", "share", "c1", "c2", "paid", T0)
    assert info.value.path == "referral.stage"
    with pytest.raises(FactError) as info:
        Referral("r1", "share", "c1", "c1", "joined", T0)
    assert info.value.path == "referral.invitee_id"
    assert Referral("r1", "share", "c1", "c2", "first_spend", T0).customer_id == "c2"


def test_event_sort_key_is_deterministic() -> None:
    follow = Follow("f1", "c1", "camp", "wechat", T0)
    draw = DrawRequest("d1", "c1", "camp", T0.in_timezone("UTC"))
    buy = txn(id="t9")
    back = txn(id="t0", kind="refund", refund_of="t9")
    ref = Referral("r1", "share", "c2", "c1", "joined", T0)
    early = txn(id="t5", transacted_at=T0.subtract(minutes=1))
    events: list[Event] = [ref, back, buy, draw, follow, early]
    ordered = sorted(events, key=event_sort_key)
    assert [e.id for e in ordered] == ["t5", "f1", "d1", "t9", "t0", "r1"]
    assert sorted(reversed(events), key=event_sort_key) == ordered
    late = txn(id="t7", transacted_at=T0.subtract(hours=1), posted_at=T0.add(hours=10))
    assert event_time(late) < event_time(late, posted=True)
    by_posting = sorted([late, buy], key=lambda e: event_sort_key(e, posted=True))
    assert [e.id for e in by_posting] == ["t9", "t7"]


# -- serialization -------------------------------------------------------------------------------
def test_money_forms_in_from_dict() -> None:
    base = txn().to_dict()
    assert base["amount"] == "88.00"
    assert base["currency"] == "CNY"
    as_obj = {k: v for k, v in base.items() if k != "currency"}
    as_obj["amount"] = {"amount": "88.00", "currency": "CNY"}
    assert Transaction.from_dict(as_obj) == txn()
    plain = {k: v for k, v in base.items() if k not in ("currency", "posted_at")}
    assert Transaction.from_dict(plain) == txn()
    with pytest.raises(FactError) as info:
        Transaction.from_dict({**base, "amount": "lots"})
    assert info.value.path == "transaction.amount"
    with pytest.raises(FactError) as info:
        Transaction.from_dict({**base, "colour": "red"})
    assert info.value.path == "transaction.colour"
    with pytest.raises(FactError) as info:
        Transaction.from_dict({k: v for k, v in base.items() if k != "mcc"})
    assert info.value.path == "transaction.mcc"


def test_csv_like_rows() -> None:
    row = {k: ("" if v is None else str(v)) for k, v in txn(region="SH").to_dict().items()}
    assert Transaction.from_dict(row) == txn(region="SH")
    crow = {k: ("" if v is None else str(v)) for k, v in card(billing_day=9).to_dict().items()}
    assert CardHolding.from_dict(crow) == card(billing_day=9)
    with pytest.raises(FactError) as info:
        CardHolding.from_dict({**crow, "supplementary": "maybe"})
    assert info.value.path == "cardholding.supplementary"


def test_event_dict_dispatch() -> None:
    with pytest.raises(FactError) as info:
        event_from_dict({"type": "purchase"})
    assert info.value.path == "type"
    d = event_to_dict(txn())
    assert next(iter(d)) == "type"
    assert event_from_dict(json.loads(json.dumps(d))) == txn()


def test_freeze_value() -> None:
    frozen = freeze_value({"a": [1, {"b": {2, 3}}], "when": "2026-01-01"})
    assert frozen == {"a": (1, {"b": frozenset({2, 3})}), "when": "2026-01-01"}
    assert isinstance(frozen["a"][1], FrozenDict)
    with pytest.raises(FactError) as info:
        freeze_value({"x": Decimal("NaN")}, "attrs")
    assert info.value.path == "attrs.x"


# -- hypothesis round trips ----------------------------------------------------------------------
_ids = st.text(alphabet="abcdefghijk0123456789_-", min_size=1, max_size=8)
_zones = st.sampled_from(["Asia/Shanghai", "UTC", "Europe/Berlin", "America/New_York", "Asia/Hong_Kong"])


@st.composite
def instants(draw: st.DrawFn) -> pendulum.DateTime:
    naive = draw(st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2040, 1, 1)))
    return pendulum.instance(naive, tz=draw(_zones))


_money = st.builds(
    Money.from_minor, st.integers(min_value=1, max_value=10**10), st.sampled_from(["CNY", "USD", "HKD"])
)


@st.composite
def transactions(draw: st.DrawFn) -> Transaction:
    kind = draw(st.sampled_from(list(TransactionKind)))
    at = draw(instants())
    return Transaction(
        draw(_ids),
        draw(_ids),
        draw(_ids),
        draw(_money),
        draw(_ids),
        draw(st.from_regex(r"[0-9]{4}", fullmatch=True)),
        draw(st.sampled_from(list(Channel))),
        kind,
        at,
        posted_at=at.add(seconds=draw(st.integers(0, 5 * 86400))),
        refund_of=("orig-" + draw(_ids)) if kind.needs_original else None,
        region=draw(st.none() | _ids),
        device_id=draw(st.none() | _ids),
    )


_leaf = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=5)
    | st.decimals(allow_nan=False, allow_infinity=False)
    | _money
    | instants()
)
_attr_values = st.recursive(
    _leaf,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.frozensets(st.integers() | st.text(max_size=3), max_size=3)
        | st.dictionaries(st.text(alphabet="xyz", min_size=1, max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)


_attr_names = st.sampled_from(["rfm", "lifecycle", "spend", "extra"])


@st.composite
def customers(draw: st.DrawFn) -> Customer:
    cards = []
    for i in range(draw(st.integers(0, 2))):
        approved = draw(instants())
        supplementary = draw(st.booleans())
        cards.append(
            CardHolding(
                f"k{i}",
                draw(_ids),
                draw(_ids),
                approved,
                activated_at=draw(st.none() | st.just(approved.add(days=draw(st.integers(0, 90))))),
                billing_day=draw(st.none() | st.integers(1, 31)),
                supplementary=supplementary,
                primary_card_id=draw(st.none() | _ids) if supplementary else None,
            )
        )
    return Customer(
        draw(_ids),
        draw(_ids),
        segment=draw(st.none() | _ids),
        tags=draw(st.frozensets(_ids, max_size=4)),
        age=draw(st.none() | st.integers(0, 150)),
        region=draw(st.none() | _ids),
        channel=draw(st.none() | _ids),
        employer_group=draw(st.none() | _ids),
        new_to_bank=draw(st.booleans()),
        delinquent=draw(st.booleans()),
        device_id=draw(st.none() | _ids),
        cards=tuple(cards),
        attributes=draw(
            st.dictionaries(st.sampled_from(["rfm", "lifecycle", "spend", "extra"]), _attr_values)
        ),
    )


@settings(max_examples=150)
@given(transactions())
def test_transaction_round_trip(t: Transaction) -> None:
    data = json.loads(json.dumps(t.to_dict()))
    back = Transaction.from_dict(data)
    assert back == t
    assert back.transacted_at.utcoffset() == t.transacted_at.utcoffset()
    assert event_from_dict(json.loads(json.dumps(event_to_dict(t)))) == t


@settings(max_examples=100)
@given(customers())
def test_customer_round_trip(c: Customer) -> None:
    data = json.loads(json.dumps(c.to_dict()))
    back = Customer.from_dict(data)
    assert back == c
    assert customer_record(back) == customer_record(c)


@settings(max_examples=60)
@given(
    instants(),
    _ids,
    st.sampled_from(["joined", "activated", "first_spend"]),
    st.none() | _ids,
)
def test_small_events_round_trip(at: pendulum.DateTime, ident: str, stage: str, device: str | None) -> None:
    events: list[Event] = [
        Follow(ident, "c1", "camp", "wechat", at),
        DrawRequest(ident, "c1", "camp", at, channel=device, device_id=device),
        Referral(ident, "prog", "inviter", "invitee", stage, at, device_id=device),
    ]
    for event in events:
        data = json.loads(json.dumps(event_to_dict(event)))
        assert event_from_dict(data) == event
        assert type(event).from_dict(event.to_dict()) == event
