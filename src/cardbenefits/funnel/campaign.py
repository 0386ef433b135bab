"""Funnel campaigns (漏斗型促销, the ICBC e生活 model): follow → draw → pay.

A :class:`FunnelCampaign` moves each participant through three :class:`Stage` s:
客户关注 *follow* (opt in through a channel), 抽奖领券 *draw* (a lottery on a
:class:`PrizePool`; a won prize is a coupon that lands in the wallet) and 支付消费 *pay*
(the stage completes when a coupon won in this campaign is redeemed at payment).

>>> import pendulum
>>> pool = PrizePool(
...     "eat-pool",
...     prizes=(
...         Prize("cut20", "满100减20", coupon_template="cut20", weight=10, stock=100, daily_stock=10),
...         Prize("cut5", "5元立减金", coupon_template="cut5", weight=40),
...     ),
...     blank_weight=50,
... )
>>> pool.total_weight
100
>>> campaign = FunnelCampaign(
...     "e-life-eat",
...     "e生活 · 餐饮美食",
...     seed="s3cret",
...     pool=pool,
...     starts_at=pendulum.datetime(2026, 11, 1, tz="Asia/Shanghai"),
...     ends_at=pendulum.datetime(2026, 12, 1, tz="Asia/Shanghai"),
...     draw_limits=DrawLimits(per_day=1, per_campaign=3),
... )
>>> campaign.is_open(pendulum.datetime(2026, 11, 23, 9, tz="Asia/Shanghai"))
True
>>> campaign.pool.prize("cut5").name
'5元立减金'
>>> Prize("x", "x", coupon_template="x", weight=0)
Traceback (most recent call last):
  ...
cardbenefits.errors.CatalogError: weight: prize weight must be a positive integer (got 0)
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cached_property, lru_cache
from typing import Protocol, runtime_checkable

import attrs
import pendulum

from cardbenefits.engine.calendar import LocalCalendar
from cardbenefits.errors import CatalogError
from cardbenefits.money import Money

__all__ = [
    "DEFAULT_ZONE",
    "DrawLimits",
    "FunnelCampaign",
    "OutOfStock",
    "Prize",
    "PrizePool",
    "Stage",
    "StageRule",
]

#: The zone in which days (daily stock, per-day limits) are counted unless a campaign says otherwise.
DEFAULT_ZONE = "Asia/Shanghai"


class Stage(enum.StrEnum):
    """A stage of a funnel campaign, in funnel order."""

    FOLLOW = "follow"
    """客户关注: the customer opts in (follows the account, opens the app page)."""
    DRAW = "draw"
    """抽奖领券: the customer draws from the prize pool."""
    PAY = "pay"
    """支付消费: the customer pays with a coupon won in the campaign."""

    @property
    def position(self) -> int:
        """0 for follow, 1 for draw, 2 for pay.

        >>> [s.position for s in Stage]
        [0, 1, 2]
        """
        return list(Stage).index(self)


class OutOfStock(enum.StrEnum):
    """What a draw does when the prize it landed on has no stock left (total or today's).

    The rule is part of the campaign and recorded in every draw's ledger meta.
    """

    BLANK = "blank"
    """Fall back to the no-prize outcome (谢谢参与). Odds of the other prizes are unchanged."""
    REDRAW = "redraw"
    """Re-draw over the outcomes still in stock (the prizes with stock left and the blank, each
    keeping its weight) with a second number derived the same way from the request id (message
    suffix ``redraw``). Re-using the first number would be biased: it lies in the empty prize's
    interval, so it would always land on the prize next to it. The result stays a pure function
    of (seed, request id, stock state), and the remaining outcomes keep their relative odds."""


def _check_id(_instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value or value != value.strip() or ":" in value:
        raise CatalogError(
            "must be a non-empty string without ':' or surrounding spaces", path=attribute.name, value=value
        )


def _check_weight(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise CatalogError("prize weight must be a positive integer", path=attribute.name, value=value)


def _check_optional_count(
    _instance: object, attribute: attrs.Attribute[int | None], value: int | None
) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CatalogError(
            "must be a non-negative integer or null (unlimited)", path=attribute.name, value=value
        )


def _check_aware(_instance: object, attribute: attrs.Attribute[datetime], value: datetime) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise CatalogError("must be an aware datetime", path=attribute.name, value=value)


def _check_zone(_instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    try:
        pendulum.timezone(value)
    except Exception:  # pendulum raises several kinds for unknown zones
        raise CatalogError("unknown time zone", path=attribute.name, value=value) from None


@attrs.frozen
class Prize:
    """One prize of a pool (奖品): a coupon template, a weight and its stock.

    ``stock`` is the total number that may ever be won, ``daily_stock`` the number per day
    (days start at 00:00 in the campaign zone, Beijing time by default). ``None`` means
    unlimited.
    """

    id: str = attrs.field(validator=_check_id)
    name: str = attrs.field(validator=attrs.validators.instance_of(str))
    coupon_template: str = attrs.field(kw_only=True, validator=_check_id)
    weight: int = attrs.field(kw_only=True, validator=_check_weight)
    stock: int | None = attrs.field(default=None, kw_only=True, validator=_check_optional_count)
    daily_stock: int | None = attrs.field(default=None, kw_only=True, validator=_check_optional_count)
    name_en: str | None = attrs.field(default=None, kw_only=True)

    def label(self, locale: str) -> str:
        """The prize name in ``locale`` (English when asked and known, else the Chinese name).

        >>> Prize("p", "满100减20", coupon_template="t", weight=1, name_en="¥20 off ¥100").label("en")
        '¥20 off ¥100'
        """
        if locale.startswith("en") and self.name_en:
            return self.name_en
        return self.name


def _check_prizes(
    instance: PrizePool, _attribute: attrs.Attribute[tuple[Prize, ...]], value: tuple[Prize, ...]
) -> None:
    seen: set[str] = set()
    for index, prize in enumerate(value):
        if not isinstance(prize, Prize):
            raise CatalogError("must be a Prize", path=f"prizes[{index}]", value=prize)
        if prize.id in seen:
            raise CatalogError("duplicate prize id", path=f"prizes[{index}].id", value=prize.id)
        seen.add(prize.id)


def _prize_tuple(value: Iterable[Prize]) -> tuple[Prize, ...]:
    return tuple(value)


def _check_blank_weight(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CatalogError("blank weight must be a non-negative integer", path=attribute.name, value=value)


@attrs.frozen
class PrizePool:
    """A prize pool (奖池): weighted prizes plus a weighted 谢谢参与 (no prize) outcome.

    The chance of an outcome is its weight over :attr:`total_weight`. Outcomes are ordered
    as declared, the blank last; that order is part of the audit trail.
    """

    id: str = attrs.field(validator=_check_id)
    prizes: tuple[Prize, ...] = attrs.field(converter=_prize_tuple, validator=_check_prizes)
    blank_weight: int = attrs.field(default=0, kw_only=True, validator=_check_blank_weight)
    on_out_of_stock: OutOfStock = attrs.field(default=OutOfStock.BLANK, kw_only=True, converter=OutOfStock)
    blank_name: str = attrs.field(default="谢谢参与", kw_only=True)
    blank_name_en: str = attrs.field(default="Thanks for taking part", kw_only=True)

    def __attrs_post_init__(self) -> None:
        if not self.prizes:
            raise CatalogError("a prize pool needs at least one prize", path="prizes", value=self.prizes)

    @property
    def total_weight(self) -> int:
        """Sum of all prize weights and the blank weight."""
        return sum(prize.weight for prize in self.prizes) + self.blank_weight

    def prize(self, prize_id: str) -> Prize:
        """The prize with ``prize_id``; :class:`CatalogError` if there is none."""
        for prize in self.prizes:
            if prize.id == prize_id:
                return prize
        raise CatalogError("unknown prize", path=f"prize_pools.{self.id}.prizes", value=prize_id)

    def blank_label(self, locale: str) -> str:
        """The name of the no-prize outcome in ``locale``.

        >>> PrizePool("p", [Prize("a", "a", coupon_template="a", weight=1)]).blank_label("zh_CN")
        '谢谢参与'
        """
        return self.blank_name_en if locale.startswith("en") else self.blank_name


@attrs.frozen
class DrawLimits:
    """Per-person draw limits (每人限抽): per day (campaign zone) and over the whole campaign.

    Counted per person (身份证号) when the customer has a ``person_id``, else per customer.
    ``None`` means unlimited.

    >>> DrawLimits(per_day=1, per_campaign=3)
    DrawLimits(per_day=1, per_campaign=3)
    """

    per_day: int | None = attrs.field(default=None, validator=_check_optional_count)
    per_campaign: int | None = attrs.field(default=None, validator=_check_optional_count)


@runtime_checkable
class StageRule(Protocol):
    """What a per-stage eligibility rule offers (satisfied by ``cardbenefits.catalog.Eligibility``)."""

    text: str

    def holds(self, record: Mapping[str, object], at: pendulum.DateTime) -> bool:
        """Whether the rule holds for a customer record at ``at``."""
        ...


def _stage_rules(value: Mapping[Stage | str, StageRule] | None) -> Mapping[Stage, StageRule]:
    if value is None:
        return {}
    result: dict[Stage, StageRule] = {}
    for key, rule in value.items():
        try:
            stage = Stage(key)
        except ValueError:
            raise CatalogError("unknown stage", path="eligibility", value=key) from None
        if not isinstance(rule, StageRule):
            raise CatalogError("not an eligibility rule", path=f"eligibility.{stage}", value=rule)
        result[stage] = rule
    return result


def _channels(value: Iterable[str] | None) -> frozenset[str] | None:
    return None if value is None else frozenset(value)


_calendar = lru_cache(maxsize=64)(LocalCalendar)
"""One shared calendar per campaign zone (it caches the zone's days)."""


@attrs.frozen
class FunnelCampaign:
    """A funnel campaign: window, prize pool, draw limits and per-stage eligibility.

    - ``seed``: the secret from which every draw's random number is derived (see
      :mod:`cardbenefits.funnel.draws`); the ledger records only its fingerprint.
    - ``eligibility``: an optional rule per stage (e.g. follow: ``region == "SH"``; draw:
      ``not delinquent``); a stage without a rule is open to every participant.
    - ``channels``: follow channels accepted (``None`` = any).
    - ``pay_min_amount``: the least payment amount that completes the pay stage.
    - ``zone``: the zone of days for daily stock and per-day limits (Beijing by default).
    - ``risk_policy``: the id of the catalog risk policy checked on every draw, if any.
    """

    id: str = attrs.field(validator=_check_id)
    name: str = attrs.field(validator=attrs.validators.instance_of(str))
    seed: str = attrs.field(kw_only=True, validator=attrs.validators.min_len(1))
    pool: PrizePool = attrs.field(kw_only=True, validator=attrs.validators.instance_of(PrizePool))
    starts_at: datetime = attrs.field(kw_only=True, validator=_check_aware)
    ends_at: datetime = attrs.field(kw_only=True, validator=_check_aware)
    draw_limits: DrawLimits = attrs.field(factory=DrawLimits, kw_only=True)
    eligibility: Mapping[Stage, StageRule] = attrs.field(
        factory=dict, kw_only=True, converter=_stage_rules, eq=False, hash=False
    )
    channels: frozenset[str] | None = attrs.field(default=None, kw_only=True, converter=_channels)
    pay_min_amount: Money | None = attrs.field(default=None, kw_only=True)
    zone: str = attrs.field(default=DEFAULT_ZONE, kw_only=True, validator=_check_zone)
    name_en: str | None = attrs.field(default=None, kw_only=True)
    risk_policy: str | None = attrs.field(default=None, kw_only=True)

    def __attrs_post_init__(self) -> None:
        if self.ends_at <= self.starts_at:
            raise CatalogError("campaign must end after it starts", path="ends_at", value=self.ends_at)

    def is_open(self, at: datetime) -> bool:
        """Whether ``at`` falls in ``[starts_at, ends_at)``."""
        return self.starts_at <= at < self.ends_at

    def day(self, at: datetime) -> str:
        """The campaign-zone calendar day of ``at`` (``YYYY-MM-DD``), the key of daily counters.

        >>> c = FunnelCampaign("c", "c", seed="s", pool=PrizePool("p", [Prize("a", "a", coupon_template="a",
        ...     weight=1)]), starts_at=pendulum.datetime(2026, 1, 1), ends_at=pendulum.datetime(2027, 1, 1))
        >>> c.day(pendulum.datetime(2026, 11, 22, 16, 30, tz="UTC"))   # 00:30 on the 23rd in Beijing
        '2026-11-23'
        """
        if at.tzinfo is None or at.utcoffset() is None:  # pendulum reads a naive time as UTC
            return pendulum.instance(at).in_timezone(self.zone).to_date_string()
        # The same local date as pendulum's conversion, without it (daily counters are on hot paths);
        # its cached ISO label is what strftime writes from year 1000 on.
        local = _calendar(self.zone).day(at)
        return local.label if local.date.year >= 1000 else local.date.strftime("%Y-%m-%d")

    @cached_property
    def day_span(self) -> tuple[str, str]:
        """The campaign-zone days of ``starts_at`` and ``ends_at`` (named by refusals outside the window).

        >>> c = FunnelCampaign("c", "c", seed="s", pool=PrizePool("p", [Prize("a", "a", coupon_template="a",
        ...     weight=1)]), starts_at=pendulum.datetime(2026, 1, 1), ends_at=pendulum.datetime(2027, 1, 1))
        >>> c.day_span
        ('2026-01-01', '2027-01-01')
        """
        return self.day(self.starts_at), self.day(self.ends_at)

    def label(self, locale: str) -> str:
        """The campaign name in ``locale``."""
        if locale.startswith("en") and self.name_en:
            return self.name_en
        return self.name
