"""Tests of the synthetic data generator: determinism, realism, validity and streaming."""

from __future__ import annotations

import gc
import io
import itertools
import types
import weakref
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import attrs
import pendulum
import pytest

from cardbenefits.errors import FactError
from cardbenefits.facts import (
    Customer,
    DrawRequest,
    Follow,
    Referral,
    Transaction,
    TransactionKind,
    event_sort_key,
)
from cardbenefits.money import Money
from cardbenefits.synth import (
    MCC_NAMES,
    REGIONS,
    SEGMENTS,
    SynthConfig,
    generate_customers,
    generate_events,
    generate_transactions,
    read_jsonl,
    write_jsonl,
)

CONFIG = SynthConfig(seed=11, customers=400, months=2, start="2026-10-01", refund_rate="0.06")


@pytest.fixture(scope="module")
def customers() -> list[Customer]:
    return list(generate_customers(CONFIG))


@pytest.fixture(scope="module")
def transactions(customers: list[Customer]) -> list[Transaction]:
    return list(generate_transactions(CONFIG, customers))


def test_config_validation() -> None:
    with pytest.raises(FactError) as info:
        SynthConfig(refund_rate="1.5")
    assert info.value.path == "refund_rate"
    with pytest.raises(FactError) as info:
        SynthConfig(follow_rate=0.1)  # type: ignore[arg-type]
    assert (info.value.path, info.value.value) == ("follow_rate", 0.1)
    with pytest.raises(FactError) as info:
        SynthConfig(activity="-1")
    assert info.value.path == "activity"
    with pytest.raises(FactError) as info:
        SynthConfig(months=0)
    assert info.value.path == "months"
    with pytest.raises(FactError) as info:
        SynthConfig(start="November")
    assert info.value.path == "start"
    with pytest.raises(FactError) as info:
        SynthConfig(timezone="Mars/Olympus")
    assert info.value.path == "timezone"
    assert SynthConfig(start="2026-01-31", months=1).end.isoformat() == "2026-02-28"
    assert SynthConfig(start="2026-11-01", months=2).end.isoformat() == "2027-01-01"


# -- determinism -----------------------------------------------------------------------------------
def test_same_seed_same_output(customers: list[Customer], transactions: list[Transaction]) -> None:
    assert list(generate_customers(CONFIG)) == customers
    again = list(generate_transactions(CONFIG, generate_customers(CONFIG)))
    assert again == transactions
    assert [t.to_dict() for t in again] == [t.to_dict() for t in transactions]


def test_other_seed_other_output(customers: list[Customer]) -> None:
    other = list(generate_customers(attrs.evolve(CONFIG, seed=12)))
    assert other != customers
    assert [c.id for c in other] == [c.id for c in customers]


def test_events_are_deterministic_and_in_replay_order() -> None:
    config = attrs.evolve(CONFIG, customers=120, months=1)
    events = list(generate_events(config))
    assert events == list(generate_events(config))
    assert events == sorted(events, key=event_sort_key)
    kinds = Counter(type(e).__name__ for e in events)
    assert kinds["Follow"] > 0
    assert kinds["DrawRequest"] > 0
    assert kinds["Referral"] > 0
    ids = {c.id for c in generate_customers(config)}
    follows = {(e.customer_id, e.campaign_id) for e in events if isinstance(e, Follow)}
    first_follow: dict[tuple[str, str], pendulum.DateTime] = {}
    for e in events:
        if isinstance(e, Follow):
            first_follow.setdefault((e.customer_id, e.campaign_id), e.at)
        if isinstance(e, DrawRequest):
            # Every draw comes from a customer who followed the campaign before.
            key = (e.customer_id, e.campaign_id)
            assert key in follows
            assert first_follow[key] <= e.at
        if isinstance(e, Referral):
            assert e.inviter_id in ids
            assert e.invitee_id in ids
            assert e.inviter_id < e.invitee_id  # invited by an earlier customer
    end = config.end_instant()
    assert all(e.at < end for e in events if isinstance(e, Follow | DrawRequest))


# -- customers ---------------------------------------------------------------------------------------
_AGES = {
    "gen_z": (18, 27),
    "mid_career": (28, 50),
    "high_net_worth": (30, 70),
    "new_urban": (20, 45),
    "silver": (60, 85),
}


def test_customers_are_realistic(customers: list[Customer]) -> None:
    assert len(customers) == CONFIG.customers
    assert len({c.id for c in customers}) == len(customers)
    assert {c.segment for c in customers} == set(SEGMENTS)
    for c in customers:
        assert c.segment is not None
        assert c.age is not None
        low, high = _AGES[c.segment]
        assert low <= c.age <= high
        assert c.region in REGIONS
        assert c.tags
        assert 1 <= len(c.cards) <= 2
        rfm = c.attributes["rfm"]
        assert set(rfm) == {"recency_days", "frequency", "monetary", "score"}
        assert 1 <= rfm["score"] <= 5
        assert isinstance(rfm["monetary"], Money)
        assert c.attributes["lifecycle"] in {"new", "activating", "active", "dormant", "win_back"}
        for card in c.cards:
            if card.activated_at is not None:
                assert card.activated_at >= card.approved_at
                assert card.activated_at < CONFIG.end_instant()
    start = CONFIG.start_instant()
    new = [c for c in customers if c.new_to_bank]
    assert new
    assert all(c.cards[0].approved_at >= start for c in new)
    assert all(c.attributes["lifecycle"] == "new" for c in new)
    assert any(c.cards[0].activated_at is None for c in customers)  # some not yet activated
    assert any(card.supplementary for c in customers for card in c.cards)
    assert {c.attributes["lifecycle"] for c in customers} >= {"new", "active", "win_back"}


def test_employer_groups_have_5_to_50_members() -> None:
    config = SynthConfig(seed=5, customers=2000, months=1, employer_group_rate="0.3")
    sizes = Counter(c.employer_group for c in generate_customers(config) if c.employer_group)
    assert len(sizes) >= 5
    assert all(5 <= n <= 50 for n in sizes.values())
    share = sum(sizes.values()) / config.customers
    assert 0.15 < share < 0.45


# -- transactions --------------------------------------------------------------------------------------
def test_transactions_are_valid_facts(transactions: list[Transaction]) -> None:
    assert len(transactions) > 5000
    for t in transactions[:3000]:
        # Rebuilding through the validating constructor gives the same value.
        assert Transaction.from_dict(t.to_dict()) == t
        assert Transaction(**{a.name: getattr(t, a.name) for a in attrs.fields(Transaction)}) == t


def test_transactions_ordered_globally_and_per_customer(transactions: list[Transaction]) -> None:
    keys = [event_sort_key(t) for t in transactions]
    assert keys == sorted(keys)
    last: dict[str, pendulum.DateTime] = {}
    for t in transactions:
        assert last.get(t.customer_id, t.transacted_at) <= t.transacted_at
        last[t.customer_id] = t.transacted_at
    start, end = CONFIG.start_instant(), CONFIG.end_instant()
    assert all(start <= t.transacted_at < end for t in transactions)
    assert len({t.id for t in transactions}) == len(transactions)


def test_amounts_positive_and_fen_exact(transactions: list[Transaction]) -> None:
    for t in transactions:
        assert t.amount.amount > 0
        assert t.amount.amount == t.amount.amount.quantize(Decimal("0.01"))
        assert t.amount.currency == "CNY"
    purchases = sorted(t.amount.minor_units for t in transactions if t.kind is TransactionKind.PURCHASE)
    median = purchases[len(purchases) // 2]
    mean = sum(purchases) / len(purchases)
    # Log-normal-ish: a long right tail pulls the mean well above the median.
    assert mean > 1.5 * median
    assert purchases[int(len(purchases) * 0.99)] > 10 * median


def test_mcc_channel_and_kind_mix(transactions: list[Transaction]) -> None:
    purchase_mccs = Counter(t.mcc for t in transactions if t.kind is TransactionKind.PURCHASE)
    assert set(purchase_mccs) == set(MCC_NAMES)
    assert purchase_mccs.most_common(1)[0][0] in {"5411", "5812", "5814", "5999"}
    channels = Counter(t.channel for t in transactions)
    assert len(channels) >= 6
    kinds = Counter(t.kind for t in transactions)
    for kind in ("purchase", "cash_advance", "fee", "refund"):
        assert kinds[TransactionKind(kind)] > 0
    assert kinds[TransactionKind.PURCHASE] > 0.9 * len(transactions)


def test_refunds_reference_earlier_purchases_and_never_exceed_them(
    transactions: list[Transaction], customers: list[Customer]
) -> None:
    seen: dict[str, Transaction] = {}
    refunded: defaultdict[str, int] = defaultdict(int)
    partial = full = 0
    for t in transactions:
        if t.kind.needs_original:
            assert t.refund_of is not None
            original = seen[t.refund_of]  # earlier in the stream
            assert original.kind is TransactionKind.PURCHASE
            assert original.customer_id == t.customer_id
            assert original.card_id == t.card_id
            assert original.transacted_at < t.transacted_at
            refunded[t.refund_of] += t.amount.minor_units
            assert refunded[t.refund_of] <= original.amount.minor_units
            if t.amount == original.amount:
                full += 1
            else:
                partial += 1
        seen[t.id] = t
    assert full > 0
    assert partial > 0


def test_cards_used_only_when_active(transactions: list[Transaction], customers: list[Customer]) -> None:
    by_id = {c.id: c for c in customers}
    for t in transactions:
        card = by_id[t.customer_id].card(t.card_id)
        assert card is not None
        assert card.activated_at is not None
        assert card.activated_at <= t.transacted_at


def test_posting_lag_crosses_month_ends(transactions: list[Transaction]) -> None:
    lags = Counter()
    crossing = 0
    for t in transactions:
        assert t.posted_at >= t.transacted_at
        local_t = t.transacted_at.in_timezone(CONFIG.timezone)
        local_p = t.posted_at.in_timezone(CONFIG.timezone)
        days = (local_p.date() - local_t.date()).days
        assert 0 <= days <= 3
        lags[days] += 1
        if (local_p.year, local_p.month) != (local_t.year, local_t.month):
            crossing += 1
    assert set(lags) == {0, 1, 2, 3}
    assert crossing > 0


def test_other_time_zone_with_dst() -> None:
    config = SynthConfig(seed=2, customers=60, months=1, start="2026-10-01", timezone="Europe/Berlin")
    txns = list(generate_transactions(config, generate_customers(config)))
    assert txns
    keys = [event_sort_key(t) for t in txns]
    assert keys == sorted(keys)
    for t in txns[:500]:
        assert t.transacted_at.timezone_name == "Europe/Berlin"
        assert t.posted_at >= t.transacted_at


def test_foreign_customers_work() -> None:
    plain = Customer("x1", "p1", cards=(), attributes={})
    assert list(generate_transactions(CONFIG, [plain])) == []
    from cardbenefits.facts import CardHolding

    holder = Customer(
        "x2",
        "p2",
        cards=(CardHolding("kx", "p", "gold", "2020-01-01T00:00+08:00", "2020-01-02T00:00+08:00"),),
    )
    txns = list(generate_transactions(attrs.evolve(CONFIG, months=1), [holder]))
    assert txns
    assert {t.customer_id for t in txns} == {"x2"}


# -- streaming -----------------------------------------------------------------------------------------
def test_streaming_200k_transactions_without_building_a_list() -> None:
    config = SynthConfig(seed=3, customers=12_000, months=1)
    people = list(generate_customers(config))
    stream = generate_transactions(config, people)
    assert isinstance(stream, types.GeneratorType)
    # Keep weak references to every 1000th transaction: if the generator built a list (or
    # kept what it yielded), they would all stay alive.
    watched: list[weakref.ref[Transaction]] = []
    count = 0
    for txn in itertools.islice(stream, 200_000):
        if count % 1000 == 0:
            watched.append(weakref.ref(txn))
        count += 1
    del txn
    gc.collect()
    assert count == 200_000
    alive = sum(ref() is not None for ref in watched)
    assert len(watched) == 200
    assert alive <= 2, alive


# -- JSON lines -----------------------------------------------------------------------------------------
def test_jsonl_round_trip(tmp_path: Path) -> None:
    config = attrs.evolve(CONFIG, customers=40, months=1)
    people = list(generate_customers(config))
    events = list(generate_events(config, people))
    path = tmp_path / "events.jsonl"
    assert write_jsonl(path, [*people, *events]) == len(people) + len(events)
    back = list(read_jsonl(path))
    assert back == [*people, *events]


def test_jsonl_errors_name_the_line() -> None:
    buffer = io.StringIO('{"type": "follow", "id": "f1"}\n')
    with pytest.raises(FactError) as info:
        list(read_jsonl(buffer))
    assert info.value.path == "line 1.follow.customer_id"
    with pytest.raises(FactError) as info:
        list(read_jsonl(io.StringIO("\n{oops\n")))
    assert info.value.path == "line 2"
