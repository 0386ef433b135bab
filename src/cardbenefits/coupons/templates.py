"""Coupon templates (电子票券): what a coupon gives, where and when it may be used, how it stacks.

A :class:`CouponTemplate` is catalog data. Its *effect* says what the coupon is worth:

- :class:`ThresholdDiscount` 满减 — spend at least ``threshold``, get ``off`` off;
- :class:`InstantDiscount` 立减金 — a fixed amount off, usually with a minimum spend;
- :class:`PercentOff` — a percentage off with an optional cap ("50% off up to ¥30");
- :class:`CouponCashback` — money credited after the payment;
- :class:`PointsMultiplier` — points or miles earned ``factor`` times;
- :class:`Gift` — a membership, service voucher or goods.

Its :class:`CouponScope` limits merchants, MCCs, channels (the library's
:class:`~cardbenefits.facts.Channel`, so a transaction's channel matches a scope directly), card
products and regions; its :class:`Validity` is fixed dates or relative to issue ("7 days"); its
usage ``windows`` are :class:`~cardbenefits.windows.RecurringWindow`\\ s (weekdays and hours in
a stated zone, "周三五折"); its :class:`Stacking` says how it combines with other coupons at
checkout; its :class:`ReturnPolicy` says what a refund does. Relative validity and daily
stock use the template's ``timezone``.

>>> from cardbenefits.money import Money
>>> from cardbenefits.facts import Channel
>>> from cardbenefits.windows import RecurringWindow
>>> tpl = CouponTemplate(
...     id="wed50", name="周三五折",
...     effect=PercentOff(percent=Decimal(50), cap=Money.of(30)),
...     windows=(RecurringWindow(frozenset({3}), "00:00", "24:00"),),
...     scope=CouponScope(channels=frozenset({Channel.WECHAT_PAY})),
... )
>>> tpl.effect.discount_for(Money.of("45.00"))
Money('22.50', 'CNY')
>>> tpl.effect.discount_for(Money.of("100.00"))
Money('30', 'CNY')
>>> import pendulum
>>> tpl.window_refusal(pendulum.datetime(2026, 11, 4, 12, tz="Asia/Shanghai")) is None   # a Wednesday
True
>>> tpl.window_refusal(pendulum.datetime(2026, 11, 5, 12, tz="Asia/Shanghai"))
'outside usage window (Thu 12:00 Asia/Shanghai)'
>>> str(tpl.name), tpl.usage_window().next_opening(pendulum.datetime(2026, 11, 5, 12, tz="Asia/Shanghai"))
('周三五折', DateTime(2026, 11, 11, 0, 0, 0, tzinfo=Timezone('Asia/Shanghai')))
>>> ThresholdDiscount(threshold=Money.of(100), off=Money.of(120))
Traceback (most recent call last):
  ...
cardbenefits.errors.CatalogError: effect.off: discount larger than the threshold (got Money('120', 'CNY'))
"""

from __future__ import annotations

import datetime as _dt
import enum
from collections.abc import Iterable
from decimal import Decimal
from functools import lru_cache
from typing import Any, TypeAlias

import attrs
import pendulum

from cardbenefits.clock import DEFAULT_TIMEZONE, check_timezone, ensure_aware, to_local
from cardbenefits.engine.calendar import LocalCalendar
from cardbenefits.errors import CardBenefitsError, CatalogError
from cardbenefits.facts import Channel
from cardbenefits.i18n import LocalizedText
from cardbenefits.money import Money, Rounding, to_decimal
from cardbenefits.rules import Rule
from cardbenefits.windows import AnyOf, RecurringWindow, RelativeWindow, Window, day_start

__all__ = [
    "CouponCashback",
    "CouponEffect",
    "CouponScope",
    "CouponTemplate",
    "Gift",
    "InstantDiscount",
    "PercentOff",
    "PointsMultiplier",
    "ReturnPolicy",
    "Stacking",
    "ThresholdBasis",
    "ThresholdDiscount",
    "Validity",
]


class ThresholdBasis(enum.StrEnum):
    """Which amount a coupon's minimum spend is tested against at checkout.

    Coupons are applied in :attr:`Stacking.priority` order. ``REMAINING`` (the default,
    the conservative rule most issuers publish) tests the amount still payable after the
    coupons applied before this one; ``ORIGINAL`` tests the payment amount before any coupon.
    """

    ORIGINAL = "original"
    REMAINING = "remaining"


class ReturnPolicy(enum.StrEnum):
    """What a refund of the paid order does to a redeemed coupon (退款退券规则)."""

    RETURN_IF_VALID = "return_if_valid"
    """Returned to the wallet if refunded before it expires; otherwise it is expired."""
    ALWAYS = "always"
    """Returned with its original validity, even if that has already ended (then it expires)."""
    NEVER = "never"
    """Not returned: a refund forfeits the coupon."""


def _money(path: str) -> Any:
    def check(_inst: object, _attr: object, value: object) -> None:
        if not isinstance(value, Money):
            raise CatalogError("expected Money", path=path, value=value)
        if value.is_negative():
            raise CatalogError("amount must not be negative", path=path, value=value)
        if value.quantize() != value:
            raise CatalogError("amount must be a whole number of minor units (fen)", path=path, value=value)

    return check


def _positive_money(path: str) -> Any:
    def check(inst: object, attr: object, value: object) -> None:
        _money(path)(inst, attr, value)
        assert isinstance(value, Money)
        if value.is_zero():
            raise CatalogError("amount must be positive", path=path, value=value)

    return check


def _zero() -> Money:
    return Money.zero()


@attrs.frozen
class ThresholdDiscount:
    """满减: spend at least ``threshold``, get ``off`` off (e.g. ≥ ¥100, ¥20 off).

    >>> ThresholdDiscount(Money.of(100), Money.of(20)).discount_for(Money.of(150))
    Money('20', 'CNY')
    """

    threshold: Money = attrs.field(validator=_positive_money("effect.threshold"))
    off: Money = attrs.field(validator=_positive_money("effect.off"))

    def __attrs_post_init__(self) -> None:
        if self.off > self.threshold:
            raise CatalogError("discount larger than the threshold", path="effect.off", value=self.off)

    @property
    def min_spend(self) -> Money:
        """The amount the payment must reach."""
        return self.threshold

    def discount_for(self, payable: Money) -> Money:
        """Discount on ``payable`` (never more than ``payable``), ignoring the threshold."""
        return self.off.min(payable)


@attrs.frozen
class InstantDiscount:
    """立减金: a fixed amount off, with an optional minimum spend (0 = none).

    >>> InstantDiscount(Money.of(10)).discount_for(Money.of("6.50"))
    Money('6.50', 'CNY')
    """

    off: Money = attrs.field(validator=_positive_money("effect.off"))
    min_spend: Money = attrs.field(factory=_zero, validator=_money("effect.min_spend"))

    def discount_for(self, payable: Money) -> Money:
        """Discount on ``payable`` (never more than ``payable``), ignoring the minimum spend."""
        return self.off.min(payable)


def _percent(value: object) -> Decimal:
    result = to_decimal(value, path="effect.percent")
    if not 0 < result <= 100:
        raise CatalogError("percent must be in (0, 100]", path="effect.percent", value=value)
    return result


@attrs.frozen
class PercentOff:
    """A percentage off the amount payable, rounded to the fen, capped by ``cap`` (None = no cap).

    >>> PercentOff(Decimal("12.5"), cap=None, rounding=Rounding.DOWN).discount_for(Money.of("9.99"))
    Money('1.24', 'CNY')
    """

    percent: Decimal = attrs.field(converter=_percent)
    cap: Money | None = attrs.field(default=None)
    min_spend: Money = attrs.field(factory=_zero, validator=_money("effect.min_spend"))
    rounding: Rounding = attrs.field(default=Rounding.HALF_UP, converter=Rounding)

    @cap.validator
    def _check_cap(self, _attr: object, value: Money | None) -> None:
        if value is not None:
            _positive_money("effect.cap")(self, _attr, value)

    def discount_for(self, payable: Money) -> Money:
        """``percent`` of ``payable`` rounded with ``rounding``, at most ``cap``."""
        discount = payable.percent(self.percent, self.rounding)
        return discount if self.cap is None else discount.min(self.cap)


@attrs.frozen
class CouponCashback:
    """返现券: ``amount`` credited after the payment (never more than the amount still payable).

    >>> CouponCashback(Money.of(5), min_spend=Money.of(50)).cashback_for(Money.of("3.20"))
    Money('3.20', 'CNY')
    """

    amount: Money = attrs.field(validator=_positive_money("effect.amount"))
    min_spend: Money = attrs.field(factory=_zero, validator=_money("effect.min_spend"))

    def cashback_for(self, payable: Money) -> Money:
        """Cashback on a payment of which ``payable`` is still to be paid."""
        return self.amount.min(payable)


def _factor(value: object) -> Decimal:
    return to_decimal(value, path="effect.factor")


def _asset(value: object) -> str:
    if value not in ("points", "miles"):
        raise CatalogError("multiplier asset must be 'points' or 'miles'", path="effect.asset", value=value)
    return str(value)


@attrs.frozen
class PointsMultiplier:
    """积分/里程加倍券: the payment earns ``factor`` times the usual points or miles.

    The extra points are granted by the rewards programme; ``estimated_value`` is what the
    checkout optimiser counts the coupon as worth to the customer (zero = never worth using it
    at checkout ahead of a saving).
    """

    asset: str = attrs.field(converter=_asset)
    factor: Decimal = attrs.field(converter=_factor)
    min_spend: Money = attrs.field(factory=_zero, validator=_money("effect.min_spend"))
    estimated_value: Money = attrs.field(factory=_zero, validator=_money("effect.estimated_value"))

    @factor.validator
    def _check_factor(self, _attr: object, value: Decimal) -> None:
        if value <= 1:
            raise CatalogError("multiplier factor must be greater than 1", path="effect.factor", value=value)


@attrs.frozen
class Gift:
    """礼品券: a membership, service voucher or goods, worth ``estimated_value`` at checkout."""

    description: str
    min_spend: Money = attrs.field(factory=_zero, validator=_money("effect.min_spend"))
    estimated_value: Money = attrs.field(factory=_zero, validator=_money("effect.estimated_value"))


CouponEffect: TypeAlias = (
    ThresholdDiscount | InstantDiscount | PercentOff | CouponCashback | PointsMultiplier | Gift
)
"""Any coupon effect."""

_EFFECT_TYPES = (ThresholdDiscount, InstantDiscount, PercentOff, CouponCashback, PointsMultiplier, Gift)


def _strings(value: Iterable[object] | None, path: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        raise CatalogError("expected a list of strings, not one string", path=path, value=value)
    items = frozenset(value)
    for item in items:
        if not isinstance(item, str) or not item:
            raise CatalogError("expected non-empty strings", path=path, value=item)
    return frozenset(str(i) for i in items)


def _merchants(value: Iterable[object] | None) -> frozenset[str]:
    return _strings(value, "scope.merchants")


def _mccs(value: Iterable[object] | None) -> frozenset[str]:
    return _strings(value, "scope.mccs")


def _exclude_mccs(value: Iterable[object] | None) -> frozenset[str]:
    return _strings(value, "scope.exclude_mccs")


def _card_products(value: Iterable[object] | None) -> frozenset[str]:
    return _strings(value, "scope.card_products")


def _regions(value: Iterable[object] | None) -> frozenset[str]:
    return _strings(value, "scope.regions")


def _channels(value: Iterable[object] | None) -> frozenset[Channel]:
    if value is None:
        return frozenset()
    result = set()
    for item in value:
        try:
            result.add(Channel(str(item)))
        except ValueError:
            raise CatalogError("unknown channel", path="scope.channels", value=item) from None
    return frozenset(result)


@attrs.frozen
class CouponScope:
    """Where a coupon may be used; an empty set means "any".

    ``exclude_mccs`` refuses merchant categories even when ``mccs`` is empty. A payment whose
    field is unknown (``None``) does not match a restricted scope.

    >>> scope = CouponScope(mccs=frozenset({"5812"}), channels=frozenset({"alipay"}))
    >>> scope.refusal(merchant=None, mcc="5812", channel="alipay", card_product=None, region=None) is None
    True
    >>> scope.refusal(merchant=None, mcc="5411", channel="alipay", card_product=None, region=None)
    "MCC '5411' not in scope"
    """

    merchants: frozenset[str] = attrs.field(factory=frozenset, converter=_merchants)
    mccs: frozenset[str] = attrs.field(factory=frozenset, converter=_mccs)
    exclude_mccs: frozenset[str] = attrs.field(factory=frozenset, converter=_exclude_mccs)
    channels: frozenset[Channel] = attrs.field(factory=frozenset, converter=_channels)
    card_products: frozenset[str] = attrs.field(factory=frozenset, converter=_card_products)
    regions: frozenset[str] = attrs.field(factory=frozenset, converter=_regions)

    def refusal(
        self,
        *,
        merchant: str | None,
        mcc: str | None,
        channel: str | None,
        card_product: str | None,
        region: str | None,
    ) -> str | None:
        """Why a payment with these attributes is out of scope, or None when it is in scope."""
        if self.merchants and merchant not in self.merchants:
            return f"merchant {merchant!r} not in scope"
        if (self.mccs and mcc not in self.mccs) or (mcc is not None and mcc in self.exclude_mccs):
            return f"MCC {mcc!r} not in scope"
        if self.channels and channel not in self.channels:
            return f"channel {channel!r} not in scope"
        if self.card_products and card_product not in self.card_products:
            return f"card product {card_product!r} not in scope"
        if self.regions and region not in self.regions:
            return f"region {region!r} not in scope"
        return None


def _starts_at(value: object) -> pendulum.DateTime | None:
    return None if value is None else ensure_aware(value, "validity.starts_at")


def _ends_at(value: object) -> pendulum.DateTime | None:
    return None if value is None else ensure_aware(value, "validity.ends_at")


def _timezone(value: object) -> str:
    return check_timezone(value, "timezone")


@attrs.frozen
class Validity:
    """When an issued coupon may be used.

    ``starts_at``/``ends_at`` are fixed instants (``ends_at`` exclusive). ``days`` makes the
    validity relative to issue: valid from the issue instant to the end of the ``days``-th
    local day, counting the issue day as day 1 ("领取后7天内有效"); it is resolved with
    :class:`~cardbenefits.windows.RelativeWindow` from the start of the issue day. With both,
    the earlier end wins. (A coupon validity may have a start without an end, or an end
    without a start, so it is not itself a :class:`~cardbenefits.windows.FixedWindow`.)

    >>> v = Validity(days=7)
    >>> start, end = v.window(pendulum.datetime(2026, 11, 1, 10, tz="Asia/Shanghai"), "Asia/Shanghai")
    >>> to_local(end)
    DateTime(2026, 11, 8, 0, 0, 0, tzinfo=Timezone('Asia/Shanghai'))
    """

    starts_at: pendulum.DateTime | None = attrs.field(default=None, converter=_starts_at)
    ends_at: pendulum.DateTime | None = attrs.field(default=None, converter=_ends_at)
    days: int | None = attrs.field(default=None)

    def __attrs_post_init__(self) -> None:
        if self.days is not None and (isinstance(self.days, bool) or not isinstance(self.days, int)):
            raise CatalogError("days must be an int", path="validity.days", value=self.days)
        if self.days is not None and self.days < 1:
            raise CatalogError("days must be at least 1", path="validity.days", value=self.days)
        if self.ends_at is None and self.days is None:
            raise CatalogError("validity needs ends_at or days", path="validity", value=None)
        if self.starts_at is not None and self.ends_at is not None and self.ends_at <= self.starts_at:
            raise CatalogError("validity ends before it starts", path="validity.ends_at", value=self.ends_at)

    def window(self, issued_at: _dt.datetime, tz: str) -> tuple[pendulum.DateTime, pendulum.DateTime]:
        """The ``[valid_from, valid_until)`` instants of a coupon issued at ``issued_at``."""
        issued = ensure_aware(issued_at, "issued_at")
        start = issued if self.starts_at is None else max(issued, self.starts_at)
        ends: list[pendulum.DateTime] = []
        if self.ends_at is not None:
            ends.append(self.ends_at)
        if self.days is not None:
            # Whole local days counted from the issue day (day 1): the relative window is anchored
            # at the midnight that starts the issue day, not at the issue instant, so a coupon
            # issued at 00:00 or at 23:59 is valid through the same last day.
            ends.append(_day_ends(self.days, tz).end(issued))
        return start, min(ends)


class _DayEnds:
    """The ends of a ``days``-long relative validity in ``tz``, one per local issue day.

    Every coupon issued on the same local day ends at the same instant; resolving it through
    :class:`~cardbenefits.windows.RelativeWindow` costs more than the rest of an issue.
    """

    __slots__ = ("_calendar", "_ends", "_window")

    def __init__(self, days: int, tz: str) -> None:
        self._window = RelativeWindow(days=days, tz=tz)  # refuses a bad zone as before
        self._calendar = LocalCalendar(self._window.tz)
        self._ends: dict[_dt.date, pendulum.DateTime] = {}

    def end(self, issued: pendulum.DateTime) -> pendulum.DateTime:
        tz = self._window.tz
        date = self._calendar.local_date(issued)
        found = self._ends.get(date)
        if found is None:
            if len(self._ends) >= 4096:
                self._ends.clear()
            found = self._ends[date] = self._window.resolve(day_start(issued, tz)).end
        return found


@lru_cache(maxsize=256)
def _day_ends(days: int, tz: str) -> _DayEnds:
    return _DayEnds(days, tz)


def _effect(value: object) -> CouponEffect:
    if not isinstance(value, _EFFECT_TYPES):
        raise CatalogError("unknown coupon effect", path="effect", value=value)
    return value


@attrs.frozen
class Stacking:
    """How a coupon combines with others at checkout (叠加规则).

    ``group`` names a stacking group; the checkout's :class:`~cardbenefits.coupons.checkout.StackingRules`
    say how many coupons of a group one payment may use (exclusive = 1). ``alone`` coupons
    combine with nothing. Coupons apply in ascending ``priority`` (then template id), which
    matters for percentages and for :attr:`ThresholdBasis.REMAINING` thresholds.
    ``max_per_payment`` limits copies of the same template in one payment.
    """

    group: str = "default"
    priority: int = 100
    alone: bool = False
    max_per_payment: int = 1

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.group, str) or not self.group:
            raise CatalogError(
                "stacking group must be a non-empty string", path="stacking.group", value=self.group
            )
        if isinstance(self.max_per_payment, bool) or not isinstance(self.max_per_payment, int):
            raise CatalogError(
                "max_per_payment must be an int", path="stacking.max_per_payment", value=self.max_per_payment
            )
        if self.max_per_payment < 1:
            raise CatalogError(
                "max_per_payment must be at least 1",
                path="stacking.max_per_payment",
                value=self.max_per_payment,
            )
        if isinstance(self.priority, bool) or not isinstance(self.priority, int):
            raise CatalogError("priority must be an int", path="stacking.priority", value=self.priority)


def _default_validity() -> Validity:
    return Validity(days=7)


def _name(value: object) -> LocalizedText:
    try:
        return LocalizedText.from_value(value, path="name")
    except CardBenefitsError as err:
        raise CatalogError(err.message, path=err.path or "name", value=err.value) from None


def _windows(value: object) -> tuple[RecurringWindow, ...]:
    if isinstance(value, RecurringWindow) or not isinstance(value, Iterable):
        raise CatalogError("expected a sequence of RecurringWindow", path="windows", value=value)
    items = tuple(value)
    for i, item in enumerate(items):
        if not isinstance(item, RecurringWindow):
            raise CatalogError("a usage window is a RecurringWindow", path=f"windows[{i}]", value=item)
    return items


_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@attrs.frozen
class CouponTemplate:
    """A kind of coupon in the catalog; see the module docstring.

    ``name`` is a :class:`~cardbenefits.i18n.LocalizedText` (a plain string is the zh_CN
    text). ``windows`` are :class:`~cardbenefits.windows.RecurringWindow`\\ s (each in its own
    zone; the catalog file builds them in the template's zone); the coupon is usable when any
    of them is open, or always when there are none. ``eligibility`` (a
    :class:`~cardbenefits.rules.Rule` over the customer record) is tested when a coupon is
    issued. ``timezone`` is the zone of relative validity and of refusal messages.
    """

    id: str = attrs.field()
    name: LocalizedText = attrs.field(converter=_name)
    effect: CouponEffect = attrs.field(converter=_effect)
    scope: CouponScope = attrs.field(factory=CouponScope)
    validity: Validity = attrs.field(factory=_default_validity)
    windows: tuple[RecurringWindow, ...] = attrs.field(default=(), converter=_windows)
    stacking: Stacking = attrs.field(factory=Stacking)
    threshold_basis: ThresholdBasis = attrs.field(default=ThresholdBasis.REMAINING, converter=ThresholdBasis)
    on_refund: ReturnPolicy = attrs.field(default=ReturnPolicy.RETURN_IF_VALID, converter=ReturnPolicy)
    eligibility: Rule | None = attrs.field(default=None)
    timezone: str = attrs.field(default=DEFAULT_TIMEZONE, converter=_timezone)

    @id.validator
    def _check_id(self, _attr: object, value: object) -> None:
        if not isinstance(value, str) or not value or ":" in value:
            raise CatalogError("template id must be a non-empty string without ':'", path="id", value=value)

    @eligibility.validator
    def _check_eligibility(self, _attr: object, value: object) -> None:
        if value is not None and not isinstance(value, Rule):
            raise CatalogError("eligibility must be a parsed Rule", path="eligibility", value=value)

    @property
    def min_spend(self) -> Money:
        """The payment amount the coupon needs (0 when none)."""
        return self.effect.min_spend

    @property
    def asset(self) -> str:
        """The ledger asset name of this template's coupons (``coupon:<id>``)."""
        return f"coupon:{self.id}"

    def usage_window(self) -> Window | None:
        """The usage windows as one :class:`~cardbenefits.windows.Window` (None: always usable)."""
        if not self.windows:
            return None
        return self.windows[0] if len(self.windows) == 1 else AnyOf(self.windows)

    def window_refusal(self, at: _dt.datetime) -> str | None:
        """Why ``at`` is outside every usage window, or None (also when there are no windows)."""
        if not self.windows:
            return None
        instant = ensure_aware(at)
        if any(w.contains(instant) for w in self.windows):
            return None
        local = to_local(instant, self.timezone)
        return f"outside usage window ({_DAY_NAMES[local.isoweekday() - 1]} {local:%H:%M} {self.timezone})"
