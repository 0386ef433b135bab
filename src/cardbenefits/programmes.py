"""Reward programmes: transaction rewards, activation ladders (阶梯式激活), group rewards, limits.

These are the frozen domain objects the engine (:mod:`cardbenefits.engine`) runs. A catalog
file describes them; the catalog loader builds them. Each programme says *what counts*
(:class:`Qualifier`), *what it pays* (a reward), *how much, how often* (:class:`Limit`) and
*who* (an optional eligibility :class:`~cardbenefits.rules.Rule`).

小额多笔返现 — each purchase >= ¥50 returns ¥5, at most 5 times per calendar month:

>>> from cardbenefits.money import Money
>>> small = TransactionProgramme(
...     id="cashback50",
...     qualifier=Qualifier(min_amount=Money.of(50), excluded_mccs=REAL_ESTATE_ETC),
...     reward=FixedReward(amount=Money.of(5)),
...     limits=(Limit("monthly", maximum=5, period=PeriodUnit.MONTH),),
... )
>>> small.qualifier.check(kind="purchase", mcc="5812", channel="pos", merchant=None,
...                       amount=Money.of("49.99"))
('min_amount', '49.99 < 50')
>>> small.qualifier.check(kind="purchase", mcc="9311", channel="pos", merchant=None,
...                       amount=Money.of(80)) is not None
True
>>> small.reward.asset, small.limits[0].kind
('cashback', <LimitKind.CAP: 'cap'>)

1 point per ¥20, floored per transaction; 3x miles at designated airlines:

>>> AccrualReward(asset="points", per=Money.of(20)).earn(Money.of("59.90"))
Decimal('2')
>>> AccrualReward(asset="miles", per=Money.of(20), multiplier=3).earn(Money.of(100))
Decimal('15')
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any, TypeAlias

import attrs

from cardbenefits.errors import CatalogError
from cardbenefits.money import Money, Rounding, to_decimal
from cardbenefits.rules import Rule

__all__ = [
    "REAL_ESTATE_ETC",
    "AccrualReward",
    "ActivationLadder",
    "Anchor",
    "BonusMultiplier",
    "ClawbackPolicy",
    "FixedReward",
    "Flooring",
    "GroupReward",
    "ItemReward",
    "Limit",
    "LimitKind",
    "LimitMeasure",
    "LimitScope",
    "PercentReward",
    "PeriodUnit",
    "Programme",
    "Qualifier",
    "Tier",
    "TimeBasis",
    "TransactionProgramme",
    "TransactionReward",
]

#: MCCs typically excluded from rewards: real estate, wholesale, charity, government payments,
#: tax, utilities' bill payment, and quasi-cash (published exclusion lists of Chinese issuers).
REAL_ESTATE_ETC: frozenset[str] = frozenset(
    {
        "6513",  # real estate agents and managers
        "1520",  # general contractors (property development)
        "5045",  # wholesale: computers
        "5046",  # wholesale: commercial equipment
        "5047",  # wholesale: medical equipment
        "5172",  # wholesale: petroleum
        "5193",  # wholesale: nursery
        "5198",  # wholesale: paints
        "5398",  # wholesale: motor vehicle supplies
        "8398",  # charitable and social service organisations
        "8661",  # religious organisations
        "9211",  # court costs
        "9222",  # fines
        "9311",  # tax payments
        "9399",  # government services
        "9402",  # postal services (government)
        "6010",  # manual cash disbursement
        "6011",  # ATM cash
        "6051",  # quasi-cash
    }
)

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def _check_id(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not _ID.match(value):
        raise CatalogError("ids use letters, digits, '_', '-' and '.'", path=attribute.name, value=value)


def _codes(value: Iterable[str] | None) -> frozenset[str] | None:
    return None if value is None else frozenset(str(v) for v in value)


def _codes_required(value: Iterable[str]) -> frozenset[str]:
    return frozenset(str(v) for v in value)


def _decimal(value: object) -> Decimal:
    return to_decimal(value, path="value")


def _optional_money(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, Money):
        raise CatalogError("must be Money", path=attribute.name, value=value)


def _positive_decimal(inst: object, attribute: attrs.Attribute[Any], value: Decimal) -> None:
    if value <= 0:
        raise CatalogError("must be positive", path=attribute.name, value=value)


def _non_negative_decimal(inst: object, attribute: attrs.Attribute[Any], value: Decimal) -> None:
    if value < 0:
        raise CatalogError("must not be negative", path=attribute.name, value=value)


def _aware_or_none(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and (not isinstance(value, datetime) or value.utcoffset() is None):
        raise CatalogError("must be an aware datetime", path=attribute.name, value=value)


class TimeBasis(enum.StrEnum):
    """Which instant of a transaction places it in a period (交易日 vs 记账日)."""

    TRANSACTION = "transaction"
    """The transaction (authorisation) time."""
    POSTING = "posting"
    """The posting (记账) time; late postings at month end move to the next period."""


class PeriodUnit(enum.StrEnum):
    """The period caps, per-period flooring and ladder periods are counted over."""

    DAY = "day"
    """Calendar day in the catalog time zone (resets at 00:00)."""
    MONTH = "month"
    """Natural month (自然月)."""
    STATEMENT = "statement"
    """Statement cycle (账单周期) from the card's billing day."""
    CAMPAIGN = "campaign"
    """The whole programme: never resets."""


class Flooring(enum.StrEnum):
    """Where fractional points are dropped (a stated rule of every points programme)."""

    TRANSACTION = "transaction"
    """Each transaction earns ``floor(amount / per)``."""
    PERIOD = "period"
    """A period earns ``floor(period spend / per)``; each transaction gets the increase."""


class LimitScope(enum.StrEnum):
    """Whose usage a limit counts."""

    CUSTOMER = "customer"
    """One customer (one card account)."""
    PERSON = "person"
    """One person (ID number) across all their cards."""
    GLOBAL = "global"
    """Everybody: budgets and stock."""


class LimitMeasure(enum.StrEnum):
    """What a limit counts."""

    COUNT = "count"
    """Number of grants."""
    AMOUNT = "amount"
    """Reward quantity: yuan for cashback, units for points and miles."""
    COST = "cost"
    """Issuer cost in yuan (budgets)."""


class LimitKind(enum.StrEnum):
    """How a limit is named in explanations."""

    CAP = "cap"
    """Per-customer or per-person cap (每人限 N 次 / 每月封顶)."""
    BUDGET = "budget"
    """Global budget in money (预算)."""
    STOCK = "stock"
    """Global stock of items (限量)."""


@attrs.frozen
class Limit:
    """A cap, budget or stock on a programme's grants.

    ``maximum`` is in the limit's measure (grants, yuan or units). ``period`` says when usage
    resets; :attr:`PeriodUnit.CAMPAIGN` never resets. A count limit refuses a grant that does
    not fit; an amount or cost limit pays what still fits (truncated, never exceeded).

    >>> Limit("budget", scope=LimitScope.GLOBAL, measure=LimitMeasure.COST, maximum=100000).kind
    <LimitKind.BUDGET: 'budget'>
    >>> Limit("x", maximum=-1)
    Traceback (most recent call last):
      ...
    cardbenefits.errors.CatalogError: maximum: must not be negative (got Decimal('-1'))
    """

    id: str = attrs.field(validator=_check_id)
    maximum: Decimal = attrs.field(converter=_decimal, validator=_non_negative_decimal)
    scope: LimitScope = attrs.field(default=LimitScope.CUSTOMER, converter=LimitScope)
    measure: LimitMeasure = attrs.field(default=LimitMeasure.COUNT, converter=LimitMeasure)
    period: PeriodUnit = attrs.field(default=PeriodUnit.CAMPAIGN, converter=PeriodUnit)

    @property
    def kind(self) -> LimitKind:
        """Budget (global cost), stock (global count) or cap (everything else)."""
        if self.scope is LimitScope.GLOBAL:
            return LimitKind.BUDGET if self.measure is not LimitMeasure.COUNT else LimitKind.STOCK
        return LimitKind.CAP


@attrs.frozen
class Qualifier:
    """What counts as a qualifying transaction (which kinds, MCCs, channels, amounts).

    ``mccs``/``merchants``/``channels`` of ``None`` mean "any"; ``excluded_mccs`` always wins.
    ``min_amount`` is the minimum single amount. ``time_basis`` says whether the transaction or
    the posting time places it in a period and in the programme's validity.
    """

    kinds: frozenset[str] = attrs.field(default=frozenset({"purchase"}), converter=_codes_required)
    mccs: frozenset[str] | None = attrs.field(default=None, converter=_codes)
    excluded_mccs: frozenset[str] = attrs.field(default=frozenset(), converter=_codes_required)
    merchants: frozenset[str] | None = attrs.field(default=None, converter=_codes)
    channels: frozenset[str] | None = attrs.field(default=None, converter=_codes)
    min_amount: Money | None = attrs.field(default=None, validator=_optional_money)
    time_basis: TimeBasis = attrs.field(default=TimeBasis.TRANSACTION, converter=TimeBasis)

    def check(
        self, *, kind: str, mcc: str | None, channel: str | None, merchant: str | None, amount: Money
    ) -> tuple[str, str] | None:
        """``None`` when the transaction qualifies, else ``(reason code, detail)``.

        Reason codes: ``kind``, ``mcc_excluded``, ``mcc``, ``merchant``, ``channel``,
        ``min_amount``.
        """
        if kind not in self.kinds:
            return ("kind", kind)
        if mcc is not None and mcc in self.excluded_mccs:
            return ("mcc_excluded", mcc)
        if self.mccs is not None and mcc not in self.mccs:
            return ("mcc", str(mcc))
        if self.merchants is not None and merchant not in self.merchants:
            return ("merchant", str(merchant))
        if self.channels is not None and channel not in self.channels:
            return ("channel", str(channel))
        if self.min_amount is not None and amount < self.min_amount:
            return ("min_amount", f"{amount} < {self.min_amount}")
        return None


@attrs.frozen
class FixedReward:
    """A fixed reward per qualifying transaction: ¥5 back, or 100 points.

    >>> FixedReward(amount=Money.of(5)).asset
    'cashback'
    >>> FixedReward(asset="points", units=100).units
    Decimal('100')
    """

    amount: Money | None = attrs.field(default=None, validator=_optional_money)
    asset: str = "cashback"
    units: Decimal = attrs.field(default=Decimal(0), converter=_decimal, validator=_non_negative_decimal)

    def __attrs_post_init__(self) -> None:
        if (self.amount is None) == (self.units == 0):
            raise CatalogError(
                "a fixed reward needs exactly one of amount or units",
                path="reward",
                value=(self.amount, self.units),
            )


@attrs.frozen
class PercentReward:
    """Percentage cashback, rounded to the fen, optionally capped per transaction.

    >>> r = PercentReward(rate=5, per_transaction_cap=Money.of(20))
    >>> r.earn(Money.of("99.99")), r.earn(Money.of(1000))
    (Money('5.00', 'CNY'), Money('20', 'CNY'))
    """

    rate: Decimal = attrs.field(converter=_decimal, validator=_positive_decimal)
    per_transaction_cap: Money | None = attrs.field(default=None, validator=_optional_money)
    rounding: Rounding = attrs.field(default=Rounding.HALF_UP, converter=Rounding)
    asset: str = "cashback"

    def earn(self, amount: Money) -> Money:
        """The cashback ``amount`` earns before period caps."""
        earned = amount.percent(self.rate, self.rounding)
        if self.per_transaction_cap is not None:
            earned = earned.min(self.per_transaction_cap)
        return earned


@attrs.frozen
class AccrualReward:
    """Points or miles: ``units`` per ``per`` of spend, times ``multiplier``, floored as stated.

    >>> AccrualReward(asset="points", per=Money.of(20), flooring=Flooring.PERIOD).flooring
    <Flooring.PERIOD: 'period'>
    """

    asset: str = attrs.field()
    per: Money = attrs.field()
    units: Decimal = attrs.field(default=Decimal(1), converter=_decimal, validator=_positive_decimal)
    multiplier: Decimal = attrs.field(default=Decimal(1), converter=_decimal, validator=_positive_decimal)
    flooring: Flooring = attrs.field(default=Flooring.TRANSACTION, converter=Flooring)

    @per.validator
    def _check_per(self, attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, Money) or not value.is_positive():
            raise CatalogError("must be a positive amount", path="per", value=value)

    def earn(self, spend: Money) -> Decimal:
        """Whole units earned by ``spend`` (never negative)."""
        if not spend.is_positive():
            return Decimal(0)
        steps = (spend.amount / self.per.amount).to_integral_value(rounding=ROUND_FLOOR)
        return steps * self.units * self.multiplier


@attrs.frozen
class BonusMultiplier:
    """积分加倍卡: ``factor`` times what programme ``base`` earns on the same transaction.

    The bonus pays ``(factor - 1) x`` the base grant, under its own limits and validity
    (e.g. a doubling card for returning customers for one month).

    >>> BonusMultiplier(base="points", factor=2).extra(Decimal(7))
    Decimal('7')
    """

    base: str = attrs.field(validator=_check_id)
    factor: Decimal = attrs.field(converter=_decimal)

    @factor.validator
    def _check_factor(self, attribute: attrs.Attribute[Any], value: Decimal) -> None:
        if value <= 1:
            raise CatalogError("a multiplier factor must be above 1", path="factor", value=value)

    def extra(self, base_units: Decimal) -> Decimal:
        """The bonus on top of ``base_units``, floored to whole units."""
        return (base_units * (self.factor - 1)).to_integral_value(rounding=ROUND_FLOOR)


TransactionReward: TypeAlias = FixedReward | PercentReward | AccrualReward | BonusMultiplier


def _check_reward(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, FixedReward | PercentReward | AccrualReward | BonusMultiplier):
        raise CatalogError("not a transaction reward", path=attribute.name, value=value)


def _limits(value: Iterable[Limit]) -> tuple[Limit, ...]:
    return tuple(value)


def _check_limits(inst: object, attribute: attrs.Attribute[Any], value: tuple[Limit, ...]) -> None:
    seen: set[str] = set()
    for i, limit in enumerate(value):
        if not isinstance(limit, Limit):
            raise CatalogError("not a Limit", path=f"limits[{i}]", value=limit)
        if limit.id in seen:
            raise CatalogError("duplicate limit id", path=f"limits[{i}].id", value=limit.id)
        seen.add(limit.id)


def _check_rule(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, Rule):
        raise CatalogError("eligibility must be a parsed Rule", path=attribute.name, value=value)


@attrs.frozen
class TransactionProgramme:
    """A transaction reward programme: cashback, points, miles or a multiplier.

    ``cost_per_unit`` is the issuer's cost of one point/mile (budgets count cost); cashback
    costs its amount. ``period`` is the period per-period flooring counts over.
    ``valid_from``/``valid_until`` bound the programme (half-open), measured on the
    qualifier's time basis.
    """

    id: str = attrs.field(validator=_check_id)
    qualifier: Qualifier = attrs.field(factory=Qualifier)
    reward: TransactionReward = attrs.field(
        factory=lambda: FixedReward(amount=Money.of(1)), validator=_check_reward
    )
    limits: tuple[Limit, ...] = attrs.field(default=(), converter=_limits, validator=_check_limits)
    eligibility: Rule | None = attrs.field(default=None, validator=_check_rule)
    period: PeriodUnit = attrs.field(default=PeriodUnit.MONTH, converter=PeriodUnit)
    valid_from: datetime | None = attrs.field(default=None, validator=_aware_or_none)
    valid_until: datetime | None = attrs.field(default=None, validator=_aware_or_none)
    cost_per_unit: Money = attrs.field(factory=Money.zero)
    benefit_id: str | None = None
    name: str = ""

    @property
    def asset(self) -> str:
        """The asset granted (``cashback``, ``points``, ``miles`` ...)."""
        if isinstance(self.reward, BonusMultiplier):
            return ""
        return self.reward.asset


class Anchor(enum.StrEnum):
    """What a ladder's periods are counted from."""

    APPROVAL = "approval"
    """核卡: the card approval date."""
    ACTIVATION = "activation"
    """激活: the card activation date."""


class ClawbackPolicy(enum.StrEnum):
    """What happens to a granted item when the reward no longer holds."""

    REVERSE = "reverse"
    """Reverse it (cashback/points deducted, a coupon or membership marked clawed back)."""
    CHARGE = "charge"
    """Keep the item but charge the customer its ``charge`` amount as negative cashback."""
    KEEP = "keep"
    """Never claw back."""


@attrs.frozen
class ItemReward:
    """What a tier or group reward grants: money, units, or one item (membership, coupon...).

    >>> video = ItemReward(asset="membership:video", units=1, cost=Money.of(12), benefit_id="video_month")
    >>> video.is_money
    False
    >>> ItemReward(asset="cashback", amount=Money.of(50)).is_money
    True
    """

    asset: str
    amount: Money | None = attrs.field(default=None, validator=_optional_money)
    units: Decimal = attrs.field(default=Decimal(0), converter=_decimal, validator=_non_negative_decimal)
    cost: Money | None = attrs.field(default=None, validator=_optional_money)
    benefit_id: str | None = None
    on_clawback: ClawbackPolicy = attrs.field(default=ClawbackPolicy.REVERSE, converter=ClawbackPolicy)
    charge: Money | None = attrs.field(default=None, validator=_optional_money)

    def __attrs_post_init__(self) -> None:
        if (self.amount is None) == (self.units == 0):
            raise CatalogError(
                "a reward needs exactly one of amount or units",
                path="reward",
                value=(self.amount, self.units),
            )
        if self.on_clawback is ClawbackPolicy.CHARGE and self.charge is None:
            raise CatalogError("a 'charge' clawback needs a charge amount", path="charge", value=None)

    @property
    def is_money(self) -> bool:
        """True when the reward is an amount of money (cashback, funds)."""
        return self.amount is not None

    @property
    def issuer_cost(self) -> Money:
        """What one grant costs the issuer (``cost``, else the amount, else zero)."""
        if self.cost is not None:
            return self.cost
        return self.amount if self.amount is not None else Money.zero()


def _min_zero_money(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, Money) or value.is_negative():
        raise CatalogError("must be a non-negative amount", path=attribute.name, value=value)


@attrs.frozen
class Tier:
    """One rung of an activation ladder.

    The ladder's periods are numbered from the anchor: period 0 contains the anchor (the
    natural month or statement cycle of approval/activation). A tier is reached when each
    of periods ``first_period .. first_period + periods - 1`` has qualifying spend of at least
    ``min_spend`` and at least ``min_count`` qualifying transactions. With ``within_days`` the
    tier instead has one window ``[anchor, anchor + within_days)`` ("within 30 days of
    approval"). A first-spend gift (首刷礼) is ``min_count=1``.

    >>> Tier("t1", reward=ItemReward(asset="membership:video", units=1), min_spend=Money.of(1000)).periods
    1
    """

    id: str = attrs.field(validator=_check_id)
    reward: ItemReward = attrs.field()
    min_spend: Money = attrs.field(factory=Money.zero, validator=_min_zero_money)
    min_count: int = attrs.field(default=0)
    first_period: int = attrs.field(default=0)
    periods: int = attrs.field(default=1)
    within_days: int | None = attrs.field(default=None)
    name: str = ""

    def __attrs_post_init__(self) -> None:
        if self.periods < 1 or self.first_period < 0 or self.min_count < 0:
            raise CatalogError(
                "periods >= 1, first_period >= 0, min_count >= 0",
                path=f"tiers.{self.id}",
                value=(self.periods, self.first_period, self.min_count),
            )
        if self.within_days is not None and (self.within_days < 1 or self.periods != 1 or self.first_period):
            raise CatalogError(
                "within_days needs a positive day count and a single window",
                path=f"tiers.{self.id}.within_days",
                value=self.within_days,
            )
        if self.min_spend.is_zero() and self.min_count == 0:
            raise CatalogError("a tier needs min_spend or min_count", path=f"tiers.{self.id}", value=0)


def _tiers(value: Iterable[Tier]) -> tuple[Tier, ...]:
    return tuple(value)


@attrs.frozen
class ActivationLadder:
    """A tiered activation ladder (阶梯式激活权益).

    ``basis`` is the period (natural month or statement cycle); ``anchor`` the date the
    periods count from. ``one_per_person`` grants each tier once per person (ID number) across
    all their cards. New-to-bank and similar restrictions are the ``eligibility`` rule.
    """

    id: str = attrs.field(validator=_check_id)
    tiers: tuple[Tier, ...] = attrs.field(converter=_tiers)
    qualifier: Qualifier = attrs.field(factory=Qualifier)
    anchor: Anchor = attrs.field(default=Anchor.APPROVAL, converter=Anchor)
    basis: PeriodUnit = attrs.field(default=PeriodUnit.MONTH, converter=PeriodUnit)
    one_per_person: bool = True
    eligibility: Rule | None = attrs.field(default=None, validator=_check_rule)
    limits: tuple[Limit, ...] = attrs.field(default=(), converter=_limits, validator=_check_limits)
    name: str = ""

    @tiers.validator
    def _check_tiers(self, attribute: attrs.Attribute[Any], value: tuple[Tier, ...]) -> None:
        if not value:
            raise CatalogError("a ladder needs at least one tier", path="tiers", value=value)
        ids = [t.id for t in value]
        if len(set(ids)) != len(ids):
            raise CatalogError("duplicate tier id", path="tiers", value=ids)

    @basis.validator
    def _check_basis(self, attribute: attrs.Attribute[Any], value: PeriodUnit) -> None:
        if value not in (PeriodUnit.MONTH, PeriodUnit.STATEMENT):
            raise CatalogError(
                "a ladder counts natural months or statement cycles", path="basis", value=value.value
            )

    def tier(self, tier_id: str) -> Tier:
        """The tier with ``tier_id``."""
        for tier in self.tiers:
            if tier.id == tier_id:
                return tier
        raise CatalogError("unknown tier", path=f"ladders.{self.id}.tiers", value=tier_id)


@attrs.frozen
class GroupReward:
    """团队达标奖: a company's group earns ``reward`` when ``rate`` of its members activated.

    Members are the customers whose ``employer_group`` is the group; a member counts as
    activated when one of their cards was activated before the deadline.

    >>> g = GroupReward("team80", reward=ItemReward(asset="fund:teambuilding", amount=Money.of(5000)))
    >>> g.rate
    Decimal('0.8')
    """

    id: str = attrs.field(validator=_check_id)
    reward: ItemReward = attrs.field()
    rate: Decimal = attrs.field(default=Decimal("0.8"), converter=_decimal)
    min_members: int = 1
    deadline: datetime | None = attrs.field(default=None, validator=_aware_or_none)
    limits: tuple[Limit, ...] = attrs.field(default=(), converter=_limits, validator=_check_limits)
    name: str = ""

    @rate.validator
    def _check_rate(self, attribute: attrs.Attribute[Any], value: Decimal) -> None:
        if not Decimal(0) < value <= 1:
            raise CatalogError("rate must be in (0, 1]", path="rate", value=value)


Programme: TypeAlias = TransactionProgramme | ActivationLadder | GroupReward
