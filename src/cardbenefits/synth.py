"""Synthetic data: seeded, streaming generators of realistic customers and events.

What-if runs, benchmarks and tests need plausible data at scale. Everything here is
deterministic (the same :class:`SynthConfig` gives identical output) and streaming: customers
and transactions are yielded one by one, transactions day by day across all customers, so tens
of millions of rows never sit in memory at once.

- Customers come from the segments of the domain (Z世代 ``gen_z``, 职场中坚 ``mid_career``,
  高净值 ``high_net_worth``, 新市民 ``new_urban``, 银发 ``silver``) with matching ages, tags,
  regions, 1–2 cards (products, tiers, 核卡 approval, 激活 activation — some not yet
  activated), employer groups of 5–50 colleagues, and ``rfm``/``lifecycle`` attributes.
- Transactions are in non-decreasing transaction time, globally and so per customer; amounts
  are log-normal (many small, few large) and fen-exact; MCCs and channels follow a mix; cash
  advances and fees appear; refunds (full and partial) and reversals point at earlier
  purchases and never exceed them; posting lags 0–3 days, so postings cross month ends.
- :func:`generate_events` merges transactions with funnel follows and draw requests and
  share-and-invite referrals in replay order (:func:`~cardbenefits.facts.event_sort_key`).

>>> config = SynthConfig(seed=7, customers=20, months=1, start="2026-11-01")
>>> people = list(generate_customers(config))
>>> len(people), people[0].id
(20, 'c00000000')
>>> txns = list(generate_transactions(config, people))
>>> all(a.transacted_at <= b.transacted_at for a, b in zip(txns, txns[1:]))
True
>>> txns == list(generate_transactions(config, generate_customers(config)))
True
"""

from __future__ import annotations

import bisect
import datetime as _dt
import heapq
import itertools
import json
import math
import random
import statistics
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Final

import attrs
import pendulum

from cardbenefits.clock import check_timezone
from cardbenefits.errors import CardBenefitsError, FactError
from cardbenefits.facts import (
    CardHolding,
    Channel,
    Customer,
    DrawRequest,
    Event,
    Follow,
    Referral,
    Transaction,
    TransactionKind,
    _trusted_transaction,
    event_from_dict,
    event_to_dict,
)
from cardbenefits.money import Money, to_decimal

__all__ = [
    "MCC_NAMES",
    "REGIONS",
    "SEGMENTS",
    "SynthConfig",
    "generate_customers",
    "generate_events",
    "generate_transactions",
    "read_jsonl",
    "write_jsonl",
]

SEGMENTS: Final = ("gen_z", "mid_career", "high_net_worth", "new_urban", "silver")
"""Customer segments of the domain (Z世代, 职场中坚, 高净值, 新市民, 银发)."""

REGIONS: Final = ("SH", "BJ", "GZ", "SZ", "CD", "HZ", "WH")
"""Region codes (Shanghai, Beijing, Guangzhou, Shenzhen, Chengdu, Hangzhou, Wuhan)."""

MCC_NAMES: Final = {
    "5411": "supermarkets",
    "5812": "restaurants",
    "5814": "fast food",
    "4111": "transit",
    "5541": "fuel",
    "4511": "airlines",
    "7011": "hotels",
    "5311": "department stores",
    "5999": "misc retail",
    "6513": "real estate (rent)",
    "5045": "wholesale",
    "8398": "charity",
    "9311": "tax / government",
    "4900": "utilities",
}
"""The purchase MCCs the generator uses, with their meaning."""

_CASH_MCC: Final = "6011"
_FEE_MCC: Final = "6012"
_BANK_MERCHANT: Final = "bank"


def _decimal(value: object) -> Any:
    # Convert what converts; the validator reports the rest under the field's name.
    try:
        return to_decimal(value)
    except CardBenefitsError:
        return value


def _unit_interval(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, Decimal):
        raise FactError("expected an exact number (str, int or Decimal)", path=attribute.name, value=value)
    if not 0 <= value <= 1:
        raise FactError("a rate must be between 0 and 1", path=attribute.name, value=value)


def _not_negative_decimal(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, Decimal) or value < 0:
        raise FactError("expected a non-negative exact number", path=attribute.name, value=value)


def _start(value: object) -> _dt.date:
    if isinstance(value, _dt.datetime):
        raise FactError("start is a calendar date, not an instant", path="start", value=value)
    if isinstance(value, _dt.date):
        return _dt.date(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            return _dt.date.fromisoformat(value.strip())
        except ValueError:
            raise FactError("expected an ISO date such as 2026-11-01", path="start", value=value) from None
    raise FactError("expected a date", path="start", value=value)


def _timezone(value: object) -> str:
    try:
        return check_timezone(value, "timezone")
    except CardBenefitsError as err:
        raise FactError(err.message, path="timezone", value=value) from None


def _non_negative(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FactError("must be a non-negative int", path=attribute.name, value=value)


def _positive(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise FactError("must be a positive int", path=attribute.name, value=value)


def _campaigns(value: Iterable[str]) -> tuple[str, ...]:
    items = tuple(value)
    for item in items:
        if not isinstance(item, str) or not item:
            raise FactError("campaign ids must be non-empty strings", path="campaigns", value=item)
    return items


@attrs.frozen
class SynthConfig:
    """What to generate. Rates are exact decimals (str, int or Decimal) between 0 and 1.

    ``start`` is the first local day (in ``timezone``) of the simulated ``months``.
    ``activity`` scales every customer's transaction rate (1 = the segment baselines, about
    8–25 purchases a month). ``campaigns`` are the funnel campaigns customers follow and draw in.

    >>> SynthConfig(customers=-1)
    Traceback (most recent call last):
      ...
    cardbenefits.errors.FactError: customers: must be a non-negative int (got -1)
    """

    seed: int = 0
    customers: int = attrs.field(default=1000, validator=_non_negative)
    months: int = attrs.field(default=3, validator=_positive)
    start: _dt.date = attrs.field(default=_dt.date(2026, 9, 1), converter=_start)
    timezone: str = attrs.field(default="Asia/Shanghai", converter=_timezone)
    currency: str = "CNY"
    activity: Decimal = attrs.field(default=Decimal(1), converter=_decimal, validator=_not_negative_decimal)
    refund_rate: Decimal = attrs.field(default=Decimal("0.03"), converter=_decimal, validator=_unit_interval)
    partial_refund_share: Decimal = attrs.field(
        default=Decimal("0.4"), converter=_decimal, validator=_unit_interval
    )
    reversal_rate: Decimal = attrs.field(
        default=Decimal("0.005"), converter=_decimal, validator=_unit_interval
    )
    cash_advance_rate: Decimal = attrs.field(
        default=Decimal("0.01"), converter=_decimal, validator=_unit_interval
    )
    fee_rate: Decimal = attrs.field(default=Decimal("0.005"), converter=_decimal, validator=_unit_interval)
    new_customer_rate: Decimal = attrs.field(
        default=Decimal("0.15"), converter=_decimal, validator=_unit_interval
    )
    not_activated_rate: Decimal = attrs.field(
        default=Decimal("0.1"), converter=_decimal, validator=_unit_interval
    )
    second_card_rate: Decimal = attrs.field(
        default=Decimal("0.25"), converter=_decimal, validator=_unit_interval
    )
    employer_group_rate: Decimal = attrs.field(
        default=Decimal("0.1"), converter=_decimal, validator=_unit_interval
    )
    follow_rate: Decimal = attrs.field(default=Decimal("0.3"), converter=_decimal, validator=_unit_interval)
    referral_rate: Decimal = attrs.field(default=Decimal("0.2"), converter=_decimal, validator=_unit_interval)
    campaigns: tuple[str, ...] = attrs.field(default=("e_life",), converter=_campaigns)

    @property
    def end(self) -> _dt.date:
        """The first local day after the simulated period."""
        return _add_months(self.start, self.months)

    def start_instant(self) -> pendulum.DateTime:
        """Local midnight at the start of the period."""
        return pendulum.datetime(self.start.year, self.start.month, self.start.day, tz=self.timezone)

    def end_instant(self) -> pendulum.DateTime:
        """Local midnight after the period (exclusive)."""
        end = self.end
        return pendulum.datetime(end.year, end.month, end.day, tz=self.timezone)


def _add_months(day: _dt.date, months: int) -> _dt.date:
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    month += 1
    last = (_dt.date(year + (month == 12), month % 12 + 1, 1) - _dt.timedelta(days=1)).day
    return _dt.date(year, month, min(day.day, last))


# -- segment profiles -------------------------------------------------------------------------------
@attrs.frozen
class _Segment:
    weight: int
    ages: tuple[int, int]
    tags: tuple[str, ...]
    products: tuple[str, ...]
    tiers: tuple[tuple[str, int], ...]
    monthly_purchases: int
    median_fen: int
    mcc_boost: tuple[tuple[str, int], ...] = ()


_SEGMENTS: Final = {
    "gen_z": _Segment(
        25,
        (18, 27),
        ("gamer", "trendy", "esports", "anime", "video_member", "coffee"),
        ("youth_card", "sports_card"),
        (("classic", 70), ("gold", 28), ("platinum", 2)),
        25,
        3500,
        (("5814", 8), ("5999", 4)),
    ),
    "mid_career": _Segment(
        35,
        (28, 50),
        ("traveller", "parent", "health", "car_owner", "pet_owner", "fitness"),
        ("career_card", "miles_card", "sports_card"),
        (("classic", 30), ("gold", 50), ("platinum", 20)),
        20,
        8000,
        (("5541", 4), ("4511", 1), ("7011", 1)),
    ),
    "high_net_worth": _Segment(
        5,
        (30, 70),
        ("vip", "golf", "concierge", "traveller", "wealth", "art"),
        ("infinite_card", "miles_card"),
        (("platinum", 60), ("diamond", 40)),
        12,
        40000,
        (("4511", 4), ("7011", 5), ("5311", 6)),
    ),
    "new_urban": _Segment(
        20,
        (20, 45),
        ("renter", "commuter", "learner", "gig_worker"),
        ("city_roots_card", "youth_card"),
        (("classic", 80), ("gold", 20)),
        15,
        4500,
        (("6513", 3), ("4111", 8)),
    ),
    "silver": _Segment(
        15,
        (60, 85),
        ("health", "community", "grandparent", "senior_college"),
        ("silver_care_card", "heritage_card"),
        (("classic", 60), ("gold", 35), ("platinum", 5)),
        8,
        6000,
        (("5411", 10), ("4900", 3)),
    ),
}
_GENERAL_TAGS: Final = ("wechat_user", "alipay_user", "night_owl", "weekend_shopper", "online_shopper")
_REGION_WEIGHTS: Final = (24, 22, 14, 14, 10, 9, 7)
_ACQUISITION_CHANNELS: Final = (("app", 40), ("branch", 20), ("online", 25), ("wechat", 15))
_BILLING_DAYS: Final = ((5, 20), (10, 20), (15, 15), (20, 15), (25, 15), (1, 5), (28, 5), (8, 5))

# (mcc, weight, amount multiplier in per mille of the segment median)
_MCC_MIX: Final = (
    ("5411", 22, 1000),
    ("5812", 18, 1500),
    ("5814", 14, 400),
    ("4111", 10, 80),
    ("5541", 6, 3000),
    ("4511", 1, 15000),
    ("7011", 2, 9000),
    ("5311", 6, 2500),
    ("5999", 12, 1000),
    ("6513", 1, 40000),
    ("5045", 1, 15000),
    ("8398", 1, 1000),
    ("9311", 1, 6000),
    ("4900", 4, 2000),
)
_CHANNEL_MIX: Final = (
    (Channel.WECHAT_PAY, 30),
    (Channel.ALIPAY, 27),
    (Channel.UNIONPAY_QUICKPASS, 10),
    (Channel.POS, 20),
    (Channel.ONLINE, 11),
    (Channel.APP, 2),
)
_DEVICE_CHANNELS: Final = frozenset({Channel.WECHAT_PAY, Channel.ALIPAY, Channel.ONLINE, Channel.APP})
# Hour-of-day weights (local time): a lunch and an evening peak.
_HOUR_WEIGHTS: Final = (1, 1, 1, 1, 1, 2, 4, 8, 10, 9, 9, 12, 16, 12, 9, 9, 10, 13, 16, 15, 12, 9, 5, 2)
# Posting lag in days: most transactions post at once, the rest in a later nightly batch.
_HOURS: Final = tuple(range(24))
_POST_LAG: Final = ((0, 55), (1, 30), (2, 10), (3, 5))
_MERCHANTS_PER_REGION: Final = 100


def _cum(weights: Iterable[int]) -> list[int]:
    return list(itertools.accumulate(weights))


def _pick(rng: random.Random, items: Sequence[Any], cum: Sequence[float]) -> Any:
    return items[bisect.bisect_right(cum, rng.random() * cum[-1])]


# -- customers ----------------------------------------------------------------------------------------
def generate_customers(config: SynthConfig) -> Iterator[Customer]:
    """Yield ``config.customers`` customers, ids ``c00000000`` upwards, deterministically.

    About ``new_customer_rate`` of them are approved during the period (``new_to_bank``);
    the rest hold cards approved up to five years before. ``rfm`` and ``lifecycle`` describe
    them at the start of the period.

    >>> c = next(generate_customers(SynthConfig(seed=1, customers=1)))
    >>> c.segment in SEGMENTS, 1 <= len(c.cards) <= 2, sorted(c.attributes)
    (True, True, ['lifecycle', 'rfm'])
    """
    rng = random.Random(f"{config.seed}:customers")
    names = list(_SEGMENTS)
    seg_cum = _cum(s.weight for s in _SEGMENTS.values())
    region_cum = _cum(_REGION_WEIGHTS)
    acq_items = [c for c, _ in _ACQUISITION_CHANNELS]
    acq_cum = _cum(w for _, w in _ACQUISITION_CHANNELS)
    bill_items = [d for d, _ in _BILLING_DAYS]
    bill_cum = _cum(w for _, w in _BILLING_DAYS)
    start = config.start_instant()
    period_days = (config.end - config.start).days
    new_rate = float(config.new_customer_rate)
    not_active = float(config.not_activated_rate)
    second_rate = float(config.second_card_rate)
    # Groups average 27.5 members: start one with the probability that puts the requested
    # share of customers in groups.
    share = min(float(config.employer_group_rate), 0.95)
    group_start = share / (27.5 * (1 - share))
    end = config.end_instant()

    group_id: str | None = None
    group_left = 0
    group_approved: pendulum.DateTime | None = None
    groups = 0
    last_device = "d00000000"
    for i in range(config.customers):
        segment = _pick(rng, names, seg_cum)
        profile = _SEGMENTS[segment]
        # Employer groups apply together: consecutive customers, cards approved within days.
        if group_left == 0 and config.customers - i >= 5 and rng.random() < group_start:
            groups += 1
            group_id = f"g{groups:05d}"
            group_left = rng.randint(5, 50)
            group_approved = _approval(rng, start, period_days, new_rate)
        in_group = group_left > 0
        if in_group:
            group_left -= 1
            assert group_approved is not None
            approved = group_approved.add(days=rng.randint(0, 5), minutes=rng.randint(0, 600))
            if segment in ("silver", "gen_z") and rng.random() < 0.8:
                segment, profile = "mid_career", _SEGMENTS["mid_career"]
        else:
            approved = _approval(rng, start, period_days, new_rate)
        new_to_bank = approved >= start
        age = rng.randint(*profile.ages)
        tags = set(rng.sample(profile.tags, rng.randint(1, 3)))
        tags.update(t for t in _GENERAL_TAGS if rng.random() < 0.15)
        region = _pick(rng, REGIONS, region_cum)
        cards = _cards(rng, i, profile, approved, end, not_active, second_rate, bill_items, bill_cum)
        # Farming rings share devices: 1 % reuse the previous customer's device.
        device = last_device if i and rng.random() < 0.01 else f"d{i:08d}"
        last_device = device
        yield Customer(
            f"c{i:08d}",
            f"p{i:08d}",
            segment=segment,
            tags=frozenset(tags),
            age=age,
            region=region,
            channel=_pick(rng, acq_items, acq_cum),
            employer_group=group_id if in_group else None,
            new_to_bank=new_to_bank,
            delinquent=rng.random() < 0.02,
            device_id=device,
            cards=cards,
            attributes=_rfm_attributes(rng, profile, approved, start, new_to_bank),
        )


def _approval(
    rng: random.Random, start: pendulum.DateTime, period_days: int, new_rate: float
) -> pendulum.DateTime:
    if rng.random() < new_rate:
        offset = rng.randrange(0, max(period_days, 1) * 86400)
    else:
        offset = -rng.randrange(31 * 86400, 5 * 365 * 86400)
    return start.add(seconds=offset)


def _cards(
    rng: random.Random,
    index: int,
    profile: _Segment,
    approved: pendulum.DateTime,
    end: pendulum.DateTime,
    not_active: float,
    second_rate: float,
    bill_items: list[int],
    bill_cum: list[int],
) -> tuple[CardHolding, ...]:
    tier_items = [t for t, _ in profile.tiers]
    tier_cum = _cum(w for _, w in profile.tiers)
    billing_day = _pick(rng, bill_items, bill_cum)
    first = CardHolding(
        f"k{index:08d}0",
        rng.choice(profile.products),
        _pick(rng, tier_items, tier_cum),
        approved,
        activated_at=_activation(rng, approved, end, not_active),
        billing_day=billing_day,
    )
    if rng.random() >= second_rate:
        return (first,)
    supplementary = rng.random() < 0.4
    later = approved.add(days=rng.randint(0, 400), minutes=rng.randint(0, 1000))
    if later >= end:
        later = approved
    second = CardHolding(
        f"k{index:08d}1",
        first.product_id if supplementary else rng.choice(profile.products),
        first.tier if supplementary else _pick(rng, tier_items, tier_cum),
        later,
        activated_at=_activation(rng, later, end, not_active),
        billing_day=billing_day,
        supplementary=supplementary,
        primary_card_id=first.card_id if supplementary else None,
    )
    return (first, second)


def _activation(
    rng: random.Random, approved: pendulum.DateTime, end: pendulum.DateTime, not_active: float
) -> pendulum.DateTime | None:
    if rng.random() < not_active:
        return None
    # Most activate within days of receiving the card; a tail takes weeks.
    lag = int(rng.expovariate(1 / 4) * 86400) + rng.randrange(3600, 86400)
    activated = approved.add(seconds=lag)
    return activated if activated < end else None


def _rfm_attributes(
    rng: random.Random,
    profile: _Segment,
    approved: pendulum.DateTime,
    start: pendulum.DateTime,
    new_to_bank: bool,
) -> dict[str, Any]:
    if new_to_bank or (start - approved).days < 30:
        rfm = {"recency_days": None, "frequency": 0, "monetary": Money.zero(), "score": 1}
        return {"rfm": rfm, "lifecycle": "new"}
    tenure = (start - approved).days
    roll = rng.random()
    if roll < 0.12:  # lapsed long ago: dormant (睡眠卡) or lapsed for a few months
        recency = rng.randint(181, max(182, min(tenure, 900)))
        frequency = 0
    else:
        scale = math.exp(rng.gauss(0, 0.6))
        frequency = max(1, round(profile.monthly_purchases * 3 * scale))
        recency = min(tenure, int(rng.expovariate(frequency / 90)))
    monetary_fen = int(frequency * profile.median_fen * 1.6 * math.exp(rng.gauss(0, 0.3)))
    r_score = (
        5 if recency <= 7 else 4 if recency <= 30 else 3 if recency <= 90 else 2 if recency <= 180 else 1
    )
    f_score = min(5, 1 + frequency // 15)
    m_score = min(5, 1 + monetary_fen // 300_000)
    score = round((r_score + f_score + m_score) / 3)
    if recency > 540:
        lifecycle = "dormant"
    elif recency > 180:
        lifecycle = "win_back"
    elif tenure < 90:
        lifecycle = "activating"
    else:
        lifecycle = "active"
    rfm = {
        "recency_days": recency,
        "frequency": frequency,
        "monetary": Money.from_minor(monetary_fen),
        "score": score,
    }
    return {"rfm": rfm, "lifecycle": lifecycle}


# -- time and money helpers ------------------------------------------------------------------------------
_EPOCH_ORDINAL: Final = _dt.date(1970, 1, 1).toordinal()
_BATCH_HOUR: Final = 4
"""Late postings land in the issuer's nightly batch at 04:00 local time."""

# Quantiles of a log-normal spread (sigma 0.9), interpolated on use: a cheap, seeded draw.
_TABLE_SIZE: Final = 4096
_LOGNORMAL: Final = tuple(
    math.exp(0.9 * statistics.NormalDist().inv_cdf((i + 0.5) / _TABLE_SIZE)) for i in range(_TABLE_SIZE)
)
_TABLE_LAST: Final = _TABLE_SIZE - 1


class _Instants:
    """Epoch seconds → aware pendulum DateTimes in the configured zone, fast.

    Beijing time has had one offset since 1991, so wall times come from integer arithmetic;
    zones whose offset changes within the period take the exact (slower) path.
    """

    __slots__ = ("_batches", "_dates", "_fixed", "_offset", "_tz")

    def __init__(self, tz: str, first: int, last: int) -> None:
        self._tz = pendulum.timezone(tz)
        probes = range(first - 86400, last + 2 * 86400, 86400 * 7)
        offsets = {_dt.datetime.fromtimestamp(p, self._tz).utcoffset() for p in probes}
        self._fixed = len(offsets) == 1
        offset = offsets.pop() if self._fixed else _dt.timedelta(0)
        assert offset is not None
        self._offset = int(offset.total_seconds())
        self._dates: dict[int, tuple[int, int, int]] = {}
        self._batches: dict[int, pendulum.DateTime] = {}

    def posting(self, ts: int, lag_days: int) -> pendulum.DateTime:
        """The nightly posting batch (04:00 local) ``lag_days`` (≥ 1) after the day of ``ts``."""
        if self._fixed:
            day = (ts + self._offset) // 86400 + lag_days
        else:
            day = _dt.datetime.fromtimestamp(ts, self._tz).date().toordinal() - _EPOCH_ORDINAL + lag_days
        batch = self._batches.get(day)
        if batch is None:
            d = _dt.date.fromordinal(day + _EPOCH_ORDINAL)
            batch = self._batches[day] = pendulum.datetime(d.year, d.month, d.day, _BATCH_HOUR, tz=self._tz)
        return batch

    def at(self, ts: int) -> pendulum.DateTime:
        if not self._fixed:
            local = _dt.datetime.fromtimestamp(ts, self._tz)
            return pendulum.DateTime(
                local.year,
                local.month,
                local.day,
                local.hour,
                local.minute,
                local.second,
                tzinfo=self._tz,
                fold=local.fold,
            )
        days, rem = divmod(ts + self._offset, 86400)
        ymd = self._dates.get(days)
        if ymd is None:
            d = _dt.date(1970, 1, 1) + _dt.timedelta(days=days)
            ymd = self._dates[days] = (d.year, d.month, d.day)
        hour, rem = divmod(rem, 3600)
        minute, second = divmod(rem, 60)
        return pendulum.DateTime(ymd[0], ymd[1], ymd[2], hour, minute, second, tzinfo=self._tz)


def _money_factory(currency: str) -> Any:
    template = Money.from_minor(1, currency)
    exponent = -template.precision

    slots = Money.__dict__
    if "amount" in slots and "currency" in slots:  # slotted: use the descriptors directly
        set_amount, set_currency = slots["amount"].__set__, slots["currency"].__set__
    else:  # pragma: no cover - Money is a slotted attrs class today

        def set_amount(obj: Money, value: Decimal) -> None:
            object.__setattr__(obj, "amount", value)

        def set_currency(obj: Money, value: str) -> None:
            object.__setattr__(obj, "currency", value)

    new = object.__new__

    def make(units: int) -> Money:
        # Money's own constructor re-validates what is built exactly here; this is the hot path.
        value = new(Money)
        set_amount(value, Decimal(units).scaleb(exponent))
        set_currency(value, currency)
        return value

    return make


def _local_midnight(day: _dt.date, tz: str) -> int:
    return int(pendulum.datetime(day.year, day.month, day.day, tz=tz).timestamp())


# -- transactions -------------------------------------------------------------------------------------
@attrs.define
class _Profile:
    customer_id: str
    region: str
    device: str | None
    daily_rate: float
    median_fen: float
    cards: list[tuple[str, int]]  # (card id, activation epoch seconds), activated cards only
    mcc_cum: list[int]


def _profiles(customers: Iterable[Customer], config: SynthConfig) -> list[_Profile]:
    rng = random.Random(f"{config.seed}:profiles")
    base_mcc = {mcc: w for mcc, w, _ in _MCC_MIX}
    activity = float(config.activity)
    out: list[_Profile] = []
    mcc_cache: dict[str, list[int]] = {}
    for customer in customers:
        segment = customer.segment if customer.segment in _SEGMENTS else "mid_career"
        profile = _SEGMENTS[segment]
        cards = [
            (c.card_id, int(c.activated_at.timestamp())) for c in customer.cards if c.activated_at is not None
        ]
        rfm = customer.attributes.get("rfm")
        frequency = rfm.get("frequency") if rfm is not None else None
        lifecycle = customer.attributes.get("lifecycle")
        if isinstance(frequency, int) and frequency > 0:
            monthly = frequency / 3
        elif lifecycle in ("dormant", "win_back"):
            monthly = 0.3  # occasional wake-ups
        else:
            monthly = profile.monthly_purchases * math.exp(rng.gauss(0, 0.5))
        cum = mcc_cache.get(segment)
        if cum is None:
            weights = dict(base_mcc)
            for mcc, boost in profile.mcc_boost:
                weights[mcc] += boost
            cum = mcc_cache[segment] = _cum(weights[mcc] for mcc, _, _ in _MCC_MIX)
        out.append(
            _Profile(
                customer.id,
                customer.region or REGIONS[0],
                customer.device_id,
                monthly / 30 * activity,
                profile.median_fen * math.exp(rng.gauss(0, 0.4)),
                cards,
                cum,
            )
        )
    return out


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 50:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def generate_transactions(config: SynthConfig, customers: Iterable[Customer]) -> Iterator[Transaction]:
    """Yield the period's transactions of ``customers`` in non-decreasing transaction time.

    Work goes day by day across all customers; only one day's new transactions and the
    pending refunds/reversals are held. Ties (same second) come out purchases before the
    refunds that undo them, then in id order, exactly as
    :func:`~cardbenefits.facts.event_sort_key` sorts. Ids are ``t`` plus a zero-padded counter.

    Customers need not come from :func:`generate_customers`: their segment, ``rfm.frequency``,
    ``lifecycle``, region, device and activated cards drive the rates.
    """
    for _ts, _rank, txn in _transaction_stream(config, list(customers)):
        yield txn


def _transaction_stream(
    config: SynthConfig, customers: list[Customer]
) -> Iterator[tuple[int, int, Transaction]]:
    profiles = _profiles(customers, config)
    rng = random.Random(f"{config.seed}:transactions")
    tz = config.timezone
    first_ts = _local_midnight(config.start, tz)
    end_ts = _local_midnight(config.end, tz)
    instants = _Instants(tz, first_ts, end_ts + 5 * 86400)
    at = instants.at
    fen = _money_factory(config.currency)
    trusted = _trusted_transaction
    rand = rng.random
    bisect_right = bisect.bisect_right

    lognormal = _LOGNORMAL
    mcc_codes = [m for m, _, _ in _MCC_MIX]
    mcc_scale = [s / 1000 for _, _, s in _MCC_MIX]
    region_merchants = {
        m: {r: [f"m{m}{r}{k:03d}" for k in range(_MERCHANTS_PER_REGION)] for r in REGIONS} for m in mcc_codes
    }
    channel_items = [c for c, _ in _CHANNEL_MIX]
    channel_cum = _cum(w for _, w in _CHANNEL_MIX)
    channel_total = channel_cum[-1]
    hour_cum = _cum(_HOUR_WEIGHTS)
    lag_items = [d for d, _ in _POST_LAG]
    posting = instants.posting
    lag_cum = _cum(w for _, w in _POST_LAG)
    lag_total = lag_cum[-1]
    refund_rate = float(config.refund_rate)
    partial_share = float(config.partial_refund_share)
    reversal_rate = float(config.reversal_rate)
    cash_rate = float(config.cash_advance_rate)
    fee_rate = float(config.fee_rate)
    n = len(profiles)
    weights = list(itertools.accumulate(p.daily_rate for p in profiles))
    total_rate = weights[-1] if weights else 0.0
    purchase, refund, reversal = TransactionKind.PURCHASE, TransactionKind.REFUND, TransactionKind.REVERSAL
    cash, fee = TransactionKind.CASH_ADVANCE, TransactionKind.FEE
    atm_channels = (Channel.ATM, Channel.APP, Channel.BRANCH)
    # Pending follow-ups (refunds, reversals, fees): (ts, kind rank, seq, payload).
    pending: list[tuple[int, int, int, tuple[Any, ...]]] = []
    push, pop = heapq.heappush, heapq.heappop
    seq = itertools.count()
    counter = 0
    device_channels = _DEVICE_CHANNELS
    bank, fee_mcc, cash_mcc, branch = _BANK_MERCHANT, _FEE_MCC, _CASH_MCC, Channel.BRANCH
    regions = REGIONS
    region_count = len(regions)

    def drain(limit: int) -> Iterator[tuple[int, int, Transaction]]:
        """Emit the pending follow-ups due before ``limit``."""
        nonlocal counter
        while pending and pending[0][0] < limit:
            ts, rank, _s, (card_id, prof, units, origin, kind, region) = pop(pending)
            counter += 1
            txn_id = f"t{counter:010d}"
            lag = lag_items[bisect_right(lag_cum, rand() * lag_total)]
            local = at(ts)
            posted = local if lag == 0 else posting(ts, lag)
            if origin is None:  # a fee
                txn = trusted(
                    txn_id,
                    prof.customer_id,
                    card_id,
                    fen(units),
                    bank,
                    fee_mcc,
                    branch,
                    kind,
                    local,
                    posted,
                    None,
                    region,
                    None,
                )
            else:
                orig_id, merchant, mcc, channel = origin
                device = prof.device if channel in device_channels else None
                txn = trusted(
                    txn_id,
                    prof.customer_id,
                    card_id,
                    fen(units),
                    merchant,
                    mcc,
                    channel,
                    kind,
                    local,
                    posted,
                    orig_id,
                    region,
                    device,
                )
            yield ts, rank, txn

    day = config.start
    while day < config.end:
        day_ts = _local_midnight(day, tz)
        next_day = day + _dt.timedelta(days=1)
        next_ts = _local_midnight(next_day, tz)
        length = next_ts - day_ts
        weekend = 1.15 if day.weekday() >= 5 else 1.0
        count = _poisson(rng, total_rate * weekend * length / 86400)
        chosen = rng.choices(range(n), cum_weights=weights, k=count) if count else []
        hours = rng.choices(_HOURS, cum_weights=hour_cum, k=count) if count else []
        if length == 86400:
            starts = [day_ts + 3600 * hour + int(rand() * 3600) for hour in hours]
        else:  # a daylight-saving day: stretch the wall-clock hours over the real length
            last = length - 1
            starts = [day_ts + min(last, (3600 * h * length) // 86400 + int(rand() * 3600)) for h in hours]
        for ts, idx in sorted(zip(starts, chosen, strict=True)):
            if pending and pending[0][0] < ts:
                # Same second: the new transaction first, as event_sort_key orders them.
                yield from drain(ts)
            prof = profiles[idx]
            cards = prof.cards
            if not cards:
                continue
            choice = cards[0] if len(cards) == 1 else cards[int(rand() * len(cards))]
            if choice[1] <= ts:
                card_id = choice[0]
            else:
                found = [cid for cid, active in cards if active <= ts]
                if not found:
                    continue  # no card active yet: no spend
                card_id = found[0]
            counter += 1
            txn_id = f"t{counter:010d}"
            region = prof.region if rand() < 0.95 else regions[int(rand() * region_count)]
            lag = lag_items[bisect_right(lag_cum, rand() * lag_total)]
            local = at(ts)
            posted = local if lag == 0 else posting(ts, lag)
            roll = rand()
            if roll < cash_rate:
                units = (2 + int(rand() * 49)) * 10000
                channel = atm_channels[int(rand() * 3)]
                txn = trusted(
                    txn_id,
                    prof.customer_id,
                    card_id,
                    fen(units),
                    bank,
                    cash_mcc,
                    channel,
                    cash,
                    local,
                    posted,
                    None,
                    region,
                    None,
                )
                # A cash-advance fee (1 %, at least ¥10) follows within the minute.
                follow = (card_id, prof, max(1000, units // 100), None, fee, region)
                push(pending, (ts + 1 + int(rand() * 59), 0, next(seq), follow))
                yield ts, 0, txn
                continue
            if roll < cash_rate + fee_rate:
                units = (1000, 3000, 5000, 10000, 30000)[int(rand() * 5)]
                txn = trusted(
                    txn_id,
                    prof.customer_id,
                    card_id,
                    fen(units),
                    bank,
                    fee_mcc,
                    branch,
                    fee,
                    local,
                    posted,
                    None,
                    region,
                    None,
                )
                yield ts, 0, txn
                continue
            cum = prof.mcc_cum
            m = bisect_right(cum, rand() * cum[-1])
            mcc = mcc_codes[m]
            # Log-normal amounts: many small, a long tail of large ones.
            u = rand() * _TABLE_LAST
            q = int(u)
            spread = lognormal[q] + (u - q) * (lognormal[q + 1] - lognormal[q])
            units = int(prof.median_fen * mcc_scale[m] * spread) or 1
            if units > 100 and rand() < 0.3:
                units -= units % 100  # round-yuan prices are common
            channel = channel_items[bisect_right(channel_cum, rand() * channel_total)]
            pool = region_merchants[mcc][region]
            merchant = pool[int(len(pool) * rand() * rand())]  # a few merchants get most trade
            device = prof.device if channel in device_channels else None
            txn = trusted(
                txn_id,
                prof.customer_id,
                card_id,
                fen(units),
                merchant,
                mcc,
                channel,
                purchase,
                local,
                posted,
                None,
                region,
                device,
            )
            roll = rand()
            if roll < reversal_rate + refund_rate:
                origin = (txn_id, merchant, mcc, channel)
                if roll < reversal_rate:
                    undo = (card_id, prof, units, origin, reversal, region)
                    push(pending, (ts + 60 + int(rand() * 7200), 1, next(seq), undo))
                elif rand() < partial_share and units > 1:
                    when = ts + 3600 + int(rand() * 30 * 86400)
                    part = 1 + int(rand() * (units - 1))
                    push(pending, (when, 1, next(seq), (card_id, prof, part, origin, refund, region)))
                    if rand() < 0.25 and units - part > 1:
                        # A second partial refund of part of the remainder, later.
                        rest = 1 + int(rand() * (units - part - 1))
                        later = when + 3600 + int(rand() * 10 * 86400)
                        push(pending, (later, 1, next(seq), (card_id, prof, rest, origin, refund, region)))
                else:
                    when = ts + 3600 + int(rand() * 30 * 86400)
                    push(pending, (when, 1, next(seq), (card_id, prof, units, origin, refund, region)))
            yield ts, 0, txn
        yield from drain(next_ts)
        day = next_day
    # Follow-ups falling after the period are never emitted (the refund has not happened yet).


# -- funnel and referral events ---------------------------------------------------------------------
def _funnel_events(
    config: SynthConfig, customers: list[Customer]
) -> Iterator[tuple[int, int, int, str, Follow | DrawRequest | Referral]]:
    """Follows, draw requests and referrals, sorted by (ts, type rank, 0, id)."""
    rng = random.Random(f"{config.seed}:funnel")
    tz = config.timezone
    first_ts = _local_midnight(config.start, tz)
    end_ts = _local_midnight(config.end, tz)
    span = end_ts - first_ts
    instants = _Instants(tz, first_ts, end_ts)
    follow_rate = float(config.follow_rate)
    referral_rate = float(config.referral_rate)
    items: list[tuple[int, int, int, str, Follow | DrawRequest | Referral]] = []
    channels = ("wechat", "app", "alipay", "sms")
    counter = 0
    for index, customer in enumerate(customers):
        for campaign in config.campaigns:
            if rng.random() >= follow_rate:
                continue
            counter += 1
            ts = first_ts + rng.randrange(span)
            channel = channels[min(3, int(rng.expovariate(1.2)))]
            fid = f"f{counter:09d}"
            items.append((ts, 0, 0, fid, Follow(fid, customer.id, campaign, channel, instants.at(ts))))
            draws = min(6, int(rng.expovariate(0.5)))
            for j in range(draws):
                # Most draws follow within days; a burst of same-minute draws hints at scripts.
                gap = rng.randrange(60) if rng.random() < 0.05 else rng.randrange(60, 7 * 86400)
                ts = ts + gap
                if ts >= end_ts:
                    break
                did = f"{fid}d{j}"
                event = DrawRequest(
                    did, customer.id, campaign, instants.at(ts), channel=channel, device_id=customer.device_id
                )
                items.append((ts, 1, 0, did, event))
        # Share-and-invite: some new customers were invited by an earlier customer.
        if customer.new_to_bank and index > 0 and customer.cards and rng.random() < referral_rate:
            inviter = customers[rng.randrange(index)]
            card = customer.cards[0]
            rid = f"r{index:08d}"
            joined = card.approved_at
            items.append(_referral(rid + "j", inviter, customer, "joined", joined))
            if card.activated_at is not None:
                items.append(_referral(rid + "a", inviter, customer, "activated", card.activated_at))
    items.sort(key=lambda item: item[:4])
    yield from items


def _referral(
    rid: str, inviter: Customer, invitee: Customer, stage: str, at: pendulum.DateTime
) -> tuple[int, int, int, str, Follow | DrawRequest | Referral]:
    event = Referral(rid, "share_and_invite", inviter.id, invitee.id, stage, at, device_id=invitee.device_id)
    return (int(at.timestamp()), 3, 0, rid, event)


def generate_events(config: SynthConfig, customers: Iterable[Customer] | None = None) -> Iterator[Event]:
    """Yield every event of the period in replay order (:func:`~cardbenefits.facts.event_sort_key`).

    Transactions (see :func:`generate_transactions`) are merged with funnel follows and draw
    requests for ``config.campaigns`` and with share-and-invite referrals. Customers default to
    :func:`generate_customers` ``(config)``.

    >>> from cardbenefits.facts import event_sort_key
    >>> events = list(generate_events(SynthConfig(seed=3, customers=30, months=1)))
    >>> events == sorted(events, key=event_sort_key)
    True
    >>> sorted({type(e).__name__ for e in events})
    ['DrawRequest', 'Follow', 'Referral', 'Transaction']
    """
    people = list(generate_customers(config) if customers is None else customers)
    txns = ((ts, 2, rank, txn.id, txn) for ts, rank, txn in _transaction_stream(config, people))
    for *_key, event in heapq.merge(txns, _funnel_events(config, people), key=lambda item: item[:4]):
        yield event


# -- JSON lines ----------------------------------------------------------------------------------------
def write_jsonl(path: str | Path | IO[str], records: Iterable[Event | Customer]) -> int:
    """Write events (and customers) as JSON lines, one ``{"type": ...}`` object a line.

    Streams: nothing is held beyond one line. Returns the number of lines written.
    """
    if isinstance(path, str | Path):
        with open(path, "w", encoding="utf-8") as handle:
            return write_jsonl(handle, records)
    count = 0
    for record in records:
        data = (
            {"type": "customer", **record.to_dict()}
            if isinstance(record, Customer)
            else event_to_dict(record)
        )
        path.write(json.dumps(data, ensure_ascii=False, separators=(",", ":")))
        path.write("\n")
        count += 1
    return count


def read_jsonl(path: str | Path | IO[str]) -> Iterator[Event | Customer]:
    """Read what :func:`write_jsonl` wrote, lazily; errors name the line (``line 3.amount``)."""
    if isinstance(path, str | Path):
        with open(path, encoding="utf-8") as handle:
            yield from read_jsonl(handle)
        return
    for number, line in enumerate(path, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as err:
            raise FactError(f"not JSON: {err.msg}", path=f"line {number}", value=line.rstrip("\n")) from None
        try:
            if isinstance(data, dict) and data.get("type") == "customer":
                yield Customer.from_dict({k: v for k, v in data.items() if k != "type"})
            else:
                yield event_from_dict(data)
        except FactError as err:
            raise FactError(err.message, path=f"line {number}.{err.path}", value=err.value) from None
