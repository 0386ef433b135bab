"""The benefit library (权益库): what a customer can receive, one class per kind.

Every benefit has a localized name and description, a face value to the customer and a cost
to the issuer (both :class:`~cardbenefits.money.Money`), a provider or partner, an optional
validity and optional stock. Each kind adds its own terms: a cashback has a rate or a fixed
amount, a membership a number of months, a service a number of uses...

>>> from cardbenefits.money import Money
>>> video = Membership(
...     id="video_month",
...     name=LocalizedText.from_value({"zh_CN": "视频会员月卡", "en": "Video membership (1 month)"}),
...     membership="video",
...     months=1,
...     face_value=Money.of("25.00"),
...     cost=Money.of("12.00"),
...     provider="iQIYI",
... )
>>> video.kind, video.name.get("en"), video.margin
(<BenefitKind.MEMBERSHIP: 'membership'>, 'Video membership (1 month)', Money('13.00', 'CNY'))
>>> Cashback(id="cb", name=LocalizedText.from_value("返现"))
Traceback (most recent call last):
  ...
cardbenefits.errors.CatalogError: cb: a cashback needs exactly one of rate or amount (got None)
"""

from __future__ import annotations

import enum
import re
from decimal import Decimal
from typing import Any, ClassVar

import attrs
import pendulum

from cardbenefits.errors import CatalogError
from cardbenefits.i18n import LocalizedText
from cardbenefits.money import Money

__all__ = [
    "BENEFIT_TYPES",
    "ID_PATTERN",
    "Benefit",
    "BenefitKind",
    "Cashback",
    "FeeWaiver",
    "Gift",
    "InstalmentDiscount",
    "Insurance",
    "Membership",
    "Miles",
    "Points",
    "Service",
    "Validity",
    "Voucher",
]

#: Ids of catalog items: ASCII letters, digits, ``_``, ``-`` and ``.``; no spaces.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
_ID = re.compile(ID_PATTERN)


class BenefitKind(enum.StrEnum):
    """The kinds of benefit a catalog may hold (the ``kind`` key in a file)."""

    CASHBACK = "cashback"
    """返现: a percentage of spend or a fixed amount back."""
    POINTS = "points"
    """积分: a fixed grant of points or a points multiplier."""
    MILES = "miles"
    """里程: airline miles, e.g. 3x at designated airlines."""
    VOUCHER = "voucher"
    """券 / 立减金: a voucher or coupon worth a fixed amount, optionally from a coupon template."""
    MEMBERSHIP = "membership"
    """会员: a third-party membership such as a video month card."""
    SERVICE = "service"
    """服务: health check, airport lounge visit, concierge..."""
    INSURANCE = "insurance"
    """保险: travel accident, purchase protection..."""
    FEE_WAIVER = "fee_waiver"
    """免年费 / 费用减免: waiver of a fee, in percent."""
    INSTALMENT_DISCOUNT = "instalment_discount"
    """分期手续费折扣: discount on instalment fees."""
    GIFT = "gift"
    """礼品: a physical or digital gift."""


def _check_id(instance: Any, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise CatalogError(
            "an id is ASCII letters, digits, '_', '-' or '.'", path=attribute.name, value=value
        )


def _aware(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (not isinstance(value, pendulum.DateTime) or value.tzinfo is None):
        raise CatalogError("expected an aware pendulum DateTime", path=attribute.name, value=value)


def _non_negative(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | Decimal) or value < 0:
        raise CatalogError("must be a non-negative number", path=attribute.name, value=value)


def _positive(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | Decimal) or value <= 0:
        raise CatalogError("must be positive", path=attribute.name, value=value)


def _money(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (not isinstance(value, Money) or value.is_negative()):
        raise CatalogError("expected a non-negative Money", path=attribute.name, value=value)


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class Validity:
    """How long a granted benefit may be used: ``days`` after the grant and/or fixed dates.

    >>> v = Validity(days=30, end=pendulum.datetime(2026, 12, 31, 23, 59, 59, tz="Asia/Shanghai"))
    >>> v.expires_at(pendulum.datetime(2026, 12, 20, tz="Asia/Shanghai")).to_date_string()
    '2026-12-31'
    >>> v.expires_at(pendulum.datetime(2026, 11, 1, tz="Asia/Shanghai")).to_date_string()
    '2026-12-01'
    """

    days: int | None = attrs.field(default=None, validator=_positive)
    start: pendulum.DateTime | None = attrs.field(default=None, validator=_aware)
    end: pendulum.DateTime | None = attrs.field(default=None, validator=_aware)

    def __attrs_post_init__(self) -> None:
        if self.days is None and self.start is None and self.end is None:
            raise CatalogError("a validity needs days, start or end", path="validity", value=None)
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise CatalogError("validity end must be after its start", path="validity.end", value=self.end)

    def expires_at(self, granted_at: pendulum.DateTime) -> pendulum.DateTime | None:
        """When a benefit granted at ``granted_at`` expires (None: never)."""
        candidates = [c for c in (self.end,) if c is not None]
        if self.days is not None:
            candidates.append(granted_at.add(days=self.days))
        return min(candidates) if candidates else None

    def contains(self, at: pendulum.DateTime, granted_at: pendulum.DateTime | None = None) -> bool:
        """Whether the benefit may be used at ``at`` (granted at ``granted_at``, if known)."""
        if self.start is not None and at < self.start:
            return False
        if granted_at is not None:
            expiry = self.expires_at(granted_at)
            return expiry is None or at < expiry
        return self.end is None or at < self.end


@attrs.frozen(kw_only=True)
class Benefit:
    """Fields every benefit kind shares. Use a subclass; ``kind`` names it in files."""

    kind: ClassVar[BenefitKind]

    id: str = attrs.field(validator=_check_id)
    name: LocalizedText
    description: LocalizedText | None = None
    face_value: Money | None = attrs.field(default=None, validator=_money)
    """What the benefit is worth to the customer."""
    cost: Money | None = attrs.field(default=None, validator=_money)
    """What the benefit costs the issuer (budget burn)."""
    provider: str | None = None
    """The provider or partner (合作方)."""
    validity: Validity | None = None
    stock: int | None = attrs.field(default=None, validator=_non_negative)
    """Total units available (None: unlimited)."""
    daily_stock: int | None = attrs.field(default=None, validator=_non_negative)
    """Units available per day, reset at 00:00 in the catalog time zone (None: no daily limit)."""
    tags: tuple[str, ...] = attrs.field(default=(), converter=_strings)

    @property
    def margin(self) -> Money | None:
        """Face value minus cost (None when either is unknown)."""
        if self.face_value is None or self.cost is None:
            return None
        return self.face_value - self.cost

    def _fail(self, message: str, value: object) -> None:
        raise CatalogError(message, path=self.id, value=value)


@attrs.frozen(kw_only=True)
class Cashback(Benefit):
    """返现: ``rate`` percent of the spend, or a fixed ``amount``; capped by ``cap``."""

    kind: ClassVar[BenefitKind] = BenefitKind.CASHBACK
    rate: Decimal | None = attrs.field(default=None, validator=_positive)
    amount: Money | None = attrs.field(default=None, validator=_money)
    cap: Money | None = attrs.field(default=None, validator=_money)
    min_spend: Money | None = attrs.field(default=None, validator=_money)

    def __attrs_post_init__(self) -> None:
        if (self.rate is None) == (self.amount is None):
            self._fail("a cashback needs exactly one of rate or amount", self.rate)


@attrs.frozen(kw_only=True)
class Points(Benefit):
    """积分: a fixed grant of ``points`` and/or an earning ``multiplier``."""

    kind: ClassVar[BenefitKind] = BenefitKind.POINTS
    points: int | None = attrs.field(default=None, validator=_positive)
    multiplier: Decimal | None = attrs.field(default=None, validator=_positive)

    def __attrs_post_init__(self) -> None:
        if self.points is None and self.multiplier is None:
            self._fail("a points benefit needs points or a multiplier", None)


@attrs.frozen(kw_only=True)
class Miles(Benefit):
    """里程: a fixed grant of ``miles`` and/or a ``multiplier`` at the listed ``airlines``."""

    kind: ClassVar[BenefitKind] = BenefitKind.MILES
    miles: int | None = attrs.field(default=None, validator=_positive)
    multiplier: Decimal | None = attrs.field(default=None, validator=_positive)
    airlines: tuple[str, ...] = attrs.field(default=(), converter=_strings)

    def __attrs_post_init__(self) -> None:
        if self.miles is None and self.multiplier is None:
            self._fail("a miles benefit needs miles or a multiplier", None)


@attrs.frozen(kw_only=True)
class Voucher(Benefit):
    """券 / 立减金: ``amount`` off a purchase of at least ``min_spend``.

    ``coupon_template`` refers to a coupon template of the same catalog (its full terms).
    """

    kind: ClassVar[BenefitKind] = BenefitKind.VOUCHER
    amount: Money | None = attrs.field(default=None, validator=_money)
    min_spend: Money | None = attrs.field(default=None, validator=_money)
    coupon_template: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.amount is None and self.coupon_template is None:
            self._fail("a voucher needs an amount or a coupon_template", None)


@attrs.frozen(kw_only=True)
class Membership(Benefit):
    """会员: ``months`` of a third-party ``membership`` (video, music, food delivery...)."""

    kind: ClassVar[BenefitKind] = BenefitKind.MEMBERSHIP
    membership: str
    months: int = attrs.field(default=1, validator=_positive)


@attrs.frozen(kw_only=True)
class Service(Benefit):
    """服务: a ``service`` such as ``health_check``, ``lounge`` or ``concierge``.

    ``uses`` is the number of uses per year (None: unlimited, e.g. a concierge line).
    """

    kind: ClassVar[BenefitKind] = BenefitKind.SERVICE
    service: str
    uses: int | None = attrs.field(default=None, validator=_positive)


@attrs.frozen(kw_only=True)
class Insurance(Benefit):
    """保险: ``insurance`` cover (e.g. ``travel_accident``) up to ``coverage``."""

    kind: ClassVar[BenefitKind] = BenefitKind.INSURANCE
    insurance: str
    coverage: Money = attrs.field(validator=_money)


@attrs.frozen(kw_only=True)
class FeeWaiver(Benefit):
    """费用减免: ``percent`` of the ``fee`` (e.g. ``annual_fee``) waived."""

    kind: ClassVar[BenefitKind] = BenefitKind.FEE_WAIVER
    fee: str
    percent: Decimal = attrs.field(default=Decimal(100), validator=_positive)

    def __attrs_post_init__(self) -> None:
        if self.percent > 100:
            self._fail("a waiver cannot exceed 100 percent", self.percent)


@attrs.frozen(kw_only=True)
class InstalmentDiscount(Benefit):
    """分期手续费折扣: ``percent`` off instalment fees, for plans up to ``max_periods``."""

    kind: ClassVar[BenefitKind] = BenefitKind.INSTALMENT_DISCOUNT
    percent: Decimal = attrs.field(validator=_positive)
    max_periods: int | None = attrs.field(default=None, validator=_positive)

    def __attrs_post_init__(self) -> None:
        if self.percent > 100:
            self._fail("a discount cannot exceed 100 percent", self.percent)


@attrs.frozen(kw_only=True)
class Gift(Benefit):
    """礼品: a gift ``item`` (a blind box, a co-branded mug, a course voucher...)."""

    kind: ClassVar[BenefitKind] = BenefitKind.GIFT
    item: str


#: The domain class of each kind.
BENEFIT_TYPES: dict[BenefitKind, type[Benefit]] = {
    cls.kind: cls
    for cls in (
        Cashback,
        Points,
        Miles,
        Voucher,
        Membership,
        Service,
        Insurance,
        FeeWaiver,
        InstalmentDiscount,
        Gift,
    )
}
