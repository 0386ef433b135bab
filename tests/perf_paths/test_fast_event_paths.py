"""The replay's event-by-event shortcuts answer what the plain computations answer.

Each shortcut on the follow / draw / referral / checkout path (entry copies, the UTC
conversion of entry instants, cached coupon validity ends, local days, lazily built customer
records, cached reward labels and parsed validity texts) is compared with the computation it
replaces, on random values and across zones with daylight saving.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import attrs
import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardbenefits.coupons.coupon import Coupon
from cardbenefits.coupons.pools import CouponPool
from cardbenefits.coupons.templates import CouponTemplate, InstantDiscount, Validity
from cardbenefits.coupons.wallet import _instant
from cardbenefits.errors import FactError, LedgerError, PeriodError
from cardbenefits.facts import CardHolding, Customer, customer_record
from cardbenefits.funnel.campaign import FunnelCampaign, Prize, PrizePool
from cardbenefits.funnel.decide import Entrant, decide_follow, lazy_record, participant
from cardbenefits.funnel.reasons import Reason, render_money
from cardbenefits.funnel.state import ParticipantState
from cardbenefits.ledger.entries import Charge, EntryBatch, EntryKind, FrozenMap, LedgerEntry
from cardbenefits.ledger.memory import MemoryLedger
from cardbenefits.money import Money
from cardbenefits.referrals import ReferralReward
from cardbenefits.windows import RelativeWindow, day_start

ZONES = ("Asia/Shanghai", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC")

utc_instants = st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2060, 1, 1)).map(
    lambda d: d.replace(tzinfo=dt.UTC)
)


@st.composite
def instants(draw: st.DrawFn) -> dt.datetime:
    """One instant seen as stdlib UTC, a fixed offset, pendulum's zones or a zoneinfo zone (any fold)."""
    instant = draw(utc_instants)
    zone = draw(st.sampled_from(ZONES))
    offset = dt.timezone(dt.timedelta(minutes=draw(st.integers(-14 * 60, 14 * 60))))
    views = [
        instant,
        instant.astimezone(offset),
        pendulum.instance(instant).in_timezone(zone),
        pendulum.parse(instant.astimezone(offset).isoformat()),
        instant.astimezone(ZoneInfo(zone)),
        pendulum.instance(instant),
    ]
    return draw(st.sampled_from(views))


texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=8).map(
    lambda s: f"x{s.strip()}y"
)


def _entry(at: dt.datetime, meta: dict[str, str] | None = None) -> LedgerEntry:
    return LedgerEntry(kind=EntryKind.GRANT, customer_id="c1", programme_id="p1", asset="points",
                       units=3, at=at, catalog_version="v1", reason="r", charges=(Charge("a", 1),),
                       meta=meta or {})  # fmt: skip


# -- ledger entries ----------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(instants())
def test_entry_instants_are_what_astimezone_gives(at: dt.datetime) -> None:
    stored = _entry(at).at
    slow = at.astimezone(pendulum.UTC)
    assert stored == slow
    assert repr(stored) == repr(slow)
    assert (type(stored), stored.tzinfo, stored.fold) == (type(slow), slow.tzinfo, slow.fold)


def test_entry_instants_across_a_fold() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    first = dt.datetime(2026, 10, 25, 2, 30, tzinfo=berlin)  # 00:30Z, and 01:30Z with fold=1
    second = first.replace(fold=1)
    for value in (first, second, pendulum.instance(first), pendulum.instance(second)):
        assert repr(_entry(value).at) == repr(value.astimezone(pendulum.UTC))


@pytest.mark.parametrize("bad", [dt.datetime(2026, 1, 1), "2026-01-01T00:00Z", None])
def test_entry_instant_refusals_are_unchanged(bad: object) -> None:
    with pytest.raises(LedgerError) as err:
        _entry(bad)  # type: ignore[arg-type]
    assert (err.value.path, err.value.value) == ("at", bad)


@settings(max_examples=200, deadline=None)
@given(
    instants(),
    st.one_of(st.none(), texts),
    st.one_of(st.none(), st.lists(st.tuples(texts, st.integers(0, 9)), max_size=3)),
    st.one_of(st.none(), st.dictionaries(texts, texts, max_size=4)),
)
def test_amended_is_attrs_evolve(
    at: dt.datetime, entry_id: str | None, charges: list[tuple[str, int]] | None, meta: dict[str, str] | None
) -> None:
    entry = _entry(at, {"k": "v"})
    changes: dict[str, object] = {}
    if entry_id is not None:
        changes["entry_id"] = entry_id
    if charges is not None:
        changes["charges"] = tuple(Charge(counter, delta) for counter, delta in charges)
    if meta is not None:
        changes["meta"] = meta
    fast = entry.amended(**changes)  # type: ignore[arg-type]
    slow = attrs.evolve(entry, **changes)
    assert fast == slow
    assert repr(fast) == repr(slow)
    assert fast.at is entry.at


@pytest.mark.parametrize(
    "changes",
    [{"charges": ("cap",)}, {"charges": (Charge("a", 1), 5)}, {"meta": {"k": 1}}, {"entry_id": 7}],
)
def test_amended_refuses_what_evolve_refuses(changes: dict[str, object]) -> None:
    entry = _entry(pendulum.datetime(2026, 11, 5, tz="Asia/Shanghai"))
    with pytest.raises(LedgerError) as slow:
        attrs.evolve(entry, **changes)
    with pytest.raises(LedgerError) as fast:
        entry.amended(**changes)  # type: ignore[arg-type]
    assert (fast.value.path, fast.value.value) == (slow.value.path, slow.value.value)


def test_batches_of_other_entry_types_are_refused_as_before() -> None:
    @attrs.frozen
    class Other:
        entry_id: str = ""

    with pytest.raises(LedgerError) as err:
        EntryBatch.of("k", [Other()])  # type: ignore[list-item]
    assert err.value.path == "entries[0]"
    with pytest.raises(LedgerError) as err:
        EntryBatch.of(" k", [])
    assert err.value.path == "idempotency_key"


def test_batches_number_entries_as_before() -> None:
    at = pendulum.datetime(2026, 11, 5, 10, tz="Asia/Shanghai")
    numbered = attrs.evolve(_entry(at), entry_id="k#0")
    batch = EntryBatch.of("k", [numbered, _entry(at), attrs.evolve(_entry(at), entry_id="other#0")])
    assert batch.entries[0] is numbered  # already numbered: not copied
    assert batch.entries == tuple(attrs.evolve(_entry(at), entry_id=f"k#{i}") for i in range(3))
    assert batch == EntryBatch("k", batch.entries)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(texts, texts, max_size=5))
def test_frozen_maps_from_dicts_and_pairs_agree(values: dict[str, str]) -> None:
    assert FrozenMap(values) == FrozenMap(list(values.items()))
    assert hash(FrozenMap(values)) == hash(FrozenMap(list(values.items())))


# -- coupons -------------------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(instants(), st.integers(1, 60), st.sampled_from(ZONES), st.integers(0, 3))
def test_relative_validity_ends_as_resolved(at: dt.datetime, days: int, tz: str, later_hours: int) -> None:
    validity = Validity(days=days)
    for issued in (at, at + dt.timedelta(hours=later_hours)):  # the second often hits the cache
        expected = RelativeWindow(days=days, tz=tz).resolve(day_start(issued, tz)).end
        start, end = validity.window(issued, tz)
        assert end == expected
        assert repr(end) == repr(expected)
        assert start == issued


def test_relative_validity_refuses_an_unknown_zone_as_before() -> None:
    at = pendulum.datetime(2026, 11, 5, tz="Asia/Shanghai")
    with pytest.raises(PeriodError) as slow:
        RelativeWindow(days=7, tz="Mars/Olympus")
    with pytest.raises(PeriodError) as fast:
        Validity(days=7).window(at, "Mars/Olympus")
    assert str(fast.value) == str(slow.value)


def _issue_both_ways(template: CouponTemplate, at: dt.datetime, coupon_id: str) -> tuple[object, object]:
    """``(Coupon.issue(...), the constructor's coupon)``, each an exception when it raises."""
    outcomes: list[object] = []
    tz = template.timezone
    for build in (
        lambda: Coupon.issue(template, coupon_id=coupon_id, customer_id="cust", at=at, pool_id="pool"),
        lambda: Coupon(coupon_id, template, "cust", at, *template.validity.window(at, tz), "pool"),
    ):
        try:
            outcomes.append(build())
        except FactError as err:
            outcomes.append((type(err), err.path, err.value))
    return outcomes[0], outcomes[1]


@settings(max_examples=200, deadline=None)
@given(instants(), st.integers(1, 30), st.sampled_from(ZONES), st.integers(-3, 3), st.sampled_from(["c", ""]))
def test_issued_coupons_are_what_the_constructor_builds(
    at: dt.datetime, days: int, tz: str, ends_in_days: int, coupon_id: str
) -> None:
    ends = pendulum.instance(at).add(days=ends_in_days)
    template = CouponTemplate(id="t", name="t", effect=InstantDiscount(Money.of(5)), timezone=tz,
                              validity=Validity(days=days, ends_at=ends))  # fmt: skip
    fast, slow = _issue_both_ways(template, at, coupon_id)
    assert fast == slow
    if isinstance(fast, Coupon) and isinstance(slow, Coupon):
        shown = (fast.issued_at, fast.valid_from, fast.valid_until)
        assert repr(shown) == repr((slow.issued_at, slow.valid_from, slow.valid_until))


def test_coupons_refuse_a_naive_issue_time_as_before() -> None:
    template = CouponTemplate(id="t", name="t", effect=InstantDiscount(Money.of(5)))
    with pytest.raises(PeriodError) as err:
        Coupon.issue(template, coupon_id="c1", customer_id="cust", at=dt.datetime(2026, 11, 5))
    assert err.value.path == "issued_at"


@settings(max_examples=300, deadline=None)
@given(instants(), st.sampled_from(ZONES))
def test_pool_days_are_local_dates(at: dt.datetime, tz: str) -> None:
    pool = CouponPool(id="p", template_id="t", timezone=tz)
    assert pool.local_date(at) == pendulum.instance(at).in_timezone(tz).date()


@settings(max_examples=100, deadline=None)
@given(instants())
def test_parsed_validity_texts_are_pendulum_parses(at: dt.datetime) -> None:
    text = pendulum.instance(at).isoformat()
    assert repr(_instant(text)) == repr(pendulum.parse(text))
    assert _instant(text) is _instant(text)


# -- funnel and referrals -----------------------------------------------------------------------
def _campaign(zone: str) -> FunnelCampaign:
    pool = PrizePool("p", [Prize("a", "a", coupon_template="a", weight=1)])
    start, end = pendulum.datetime(2026, 1, 1), pendulum.datetime(2027, 1, 1)
    return FunnelCampaign("c", "c", seed="s", pool=pool, zone=zone, starts_at=start, ends_at=end)


@settings(max_examples=300, deadline=None)
@given(instants(), st.sampled_from(ZONES))
def test_campaign_days_are_pendulum_days(at: dt.datetime, zone: str) -> None:
    assert _campaign(zone).day(at) == pendulum.instance(at).in_timezone(zone).to_date_string()


def test_campaign_day_of_a_naive_time_reads_it_as_utc() -> None:
    naive = dt.datetime(2026, 11, 22, 16, 30)
    assert _campaign("Asia/Shanghai").day(naive) == "2026-11-23"


@settings(max_examples=100, deadline=None)
@given(st.integers(18, 90), st.sampled_from(["north", None]), st.frozensets(st.sampled_from(["vip", "new"])))
def test_lazy_records_are_customer_records(age: int, region: str | None, tags: frozenset[str]) -> None:
    card = CardHolding("k1", "youth", "classic", "2026-01-05T09:00+08:00")
    customer = Customer("c1", "p1", age=age, region=region, tags=tags, cards=(card,),
                        attributes={"spend": {"month": Money.of(120)}})  # fmt: skip
    record = lazy_record(customer)
    plain = customer_record(customer)
    assert record == plain
    assert plain == record
    assert dict(record) == plain
    assert (len(record), list(record)) == (len(plain), list(plain))
    assert (record.get("age"), record.get("missing")) == (age, None)
    assert repr(record) == repr(plain)
    entrant = Entrant.of(customer)
    assert entrant.record == plain
    assert entrant.tags == frozenset(tags)


@pytest.mark.parametrize(
    "reward",
    [
        ReferralReward("cashback", amount=Money.of(20)),
        ReferralReward("cashback", amount=Money.of("20.00")),
        ReferralReward("fund:acme", amount=Money.of("1234.5")),
        ReferralReward("points", units=500),
        ReferralReward("points", units=Decimal("500.0")),
        ReferralReward("coupon:ljj10", units=1),
    ],
)
@pytest.mark.parametrize("locale", ["zh_CN", "en", "en_US"])
def test_reward_labels_as_formatted(reward: ReferralReward, locale: str) -> None:
    if reward.amount is not None:
        expected = f"{render_money(reward.amount, locale)} {reward.asset}"
    else:
        expected = f"{reward.units.normalize():f} {reward.asset}"
    assert reward.label(locale) == expected
    assert reward.label(locale) == expected  # cached


def test_refusals_outside_the_window_name_each_campaign_s_own_days() -> None:
    after = pendulum.datetime(2027, 6, 1, tz="UTC")
    ledger = MemoryLedger()
    for zone in ("Asia/Shanghai", "America/New_York", "Asia/Shanghai"):  # same id, other zones
        campaign = _campaign(zone)
        starts, ends = (campaign.day(campaign.starts_at), campaign.day(campaign.ends_at))
        expected = Reason.of("campaign_closed", campaign="c", campaign_en="c", starts=starts, ends=ends)
        for _ in range(2):
            decision = decide_follow(
                campaign, Entrant("c1", "p1"), channel="app", at=after, view=ledger, catalog_version="v1"
            )
            assert decision.reasons == (expected,)
            assert decision.state_before is ParticipantState.NEW


def test_decisions_read_the_state_participant_folds() -> None:
    campaign = _campaign("Asia/Shanghai")
    ledger, ann = MemoryLedger(), Entrant("c1", "p1")
    at = pendulum.datetime(2026, 11, 5, 10, tz="Asia/Shanghai")
    followed = decide_follow(campaign, ann, channel="app", at=at, view=ledger, catalog_version="v1")
    assert followed.batch is not None
    ledger.apply(followed.batch)
    again = decide_follow(campaign, ann, channel="app", at=at, view=ledger, catalog_version="v1")
    assert again.state_before is participant(campaign, "c1", ledger).state is ParticipantState.FOLLOWED
