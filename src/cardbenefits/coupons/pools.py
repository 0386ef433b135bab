"""Coupon pools (电子票券池): limited stock of one template, issued first come, first served.

A :class:`CouponPool` states the total stock, the daily stock (reset at local midnight in the
pool's time zone), per-customer caps (in total and per day) and when it is open. The limits
become ledger :class:`~cardbenefits.ledger.Charge`\\ s on every issue, so the ledger enforces
them atomically: whoever's batch is applied first gets the coupon.

>>> import pendulum
>>> pool = CouponPool(id="ljj-nov", template_id="ljj10", total_stock=10000, daily_stock=500,
...                   per_customer=3, per_customer_daily=1)
>>> at = pendulum.datetime(2026, 11, 30, 23, 59, tz="Asia/Shanghai")
>>> [(c.counter, c.limit) for c in pool.charges("cust42", at)]   # doctest: +NORMALIZE_WHITESPACE
[('stock:ljj-nov', Decimal('10000')), ('stock:ljj-nov:2026-11-30', Decimal('500')),
 ('cap:ljj-nov:cust42', Decimal('3')), ('cap:ljj-nov:cust42:2026-11-30', Decimal('1'))]
"""

from __future__ import annotations

import datetime as _dt
from functools import lru_cache
from typing import Any

import attrs
import pendulum

from cardbenefits.clock import DEFAULT_TIMEZONE, check_timezone, ensure_aware, to_local
from cardbenefits.engine.calendar import LocalCalendar
from cardbenefits.errors import CatalogError
from cardbenefits.ledger.entries import Charge

__all__ = ["CouponPool"]


def _limit(path: str) -> Any:
    def check(_inst: object, _attr: object, value: object) -> None:
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise CatalogError("limit must be a positive int or null", path=path, value=value)

    return check


def _opt_instant(value: object) -> pendulum.DateTime | None:
    return None if value is None else ensure_aware(value, "opens_at")


def _tz(value: object) -> str:
    return check_timezone(value, "timezone")


def _check_id(_inst: object, _attr: object, value: Any) -> None:
    if not isinstance(value, str) or not value or ":" in value:
        raise CatalogError("id must be a non-empty string without ':'", path="id", value=value)


_calendar = lru_cache(maxsize=64)(LocalCalendar)
"""One shared calendar per pool zone (it caches the zone's days)."""


@attrs.frozen
class CouponPool:
    """Stock of coupons of ``template_id``; ``None`` limits are unlimited.

    ``opens_at``/``closes_at`` bound when coupons may be issued (``closes_at`` exclusive).
    """

    id: str = attrs.field(validator=_check_id)
    template_id: str = attrs.field(validator=_check_id)
    total_stock: int | None = attrs.field(default=None, validator=_limit("total_stock"))
    daily_stock: int | None = attrs.field(default=None, validator=_limit("daily_stock"))
    per_customer: int | None = attrs.field(default=None, validator=_limit("per_customer"))
    per_customer_daily: int | None = attrs.field(
        default=None,
        validator=_limit("per_customer_daily"),
    )
    opens_at: pendulum.DateTime | None = attrs.field(default=None, converter=_opt_instant)
    closes_at: pendulum.DateTime | None = attrs.field(default=None, converter=_opt_instant)
    timezone: str = attrs.field(default=DEFAULT_TIMEZONE, converter=_tz)

    def __attrs_post_init__(self) -> None:
        if self.opens_at is not None and self.closes_at is not None and self.closes_at <= self.opens_at:
            raise CatalogError("pool closes before it opens", path="closes_at", value=self.closes_at)

    def local_date(self, at: _dt.datetime) -> _dt.date:
        """The pool's local calendar date of ``at`` (daily stock resets at local midnight)."""
        if isinstance(at, _dt.datetime) and at.tzinfo is not None and at.utcoffset() is not None:
            return _calendar(self.timezone).local_date(at)  # the same date, without pendulum
        return to_local(ensure_aware(at), self.timezone).date()

    def closed_reason(self, at: _dt.datetime) -> str | None:
        """Why the pool does not issue at ``at``, or None when open."""
        instant = ensure_aware(at)
        if self.opens_at is not None and instant < self.opens_at:
            return "pool not open yet"
        if self.closes_at is not None and instant >= self.closes_at:
            return "pool closed"
        return None

    def charges(self, customer_id: str, at: _dt.datetime) -> tuple[Charge, ...]:
        """The counter movements of issuing one coupon to ``customer_id`` at ``at``."""
        day = self.local_date(at).isoformat()
        pairs = (
            (f"stock:{self.id}", self.total_stock),
            (f"stock:{self.id}:{day}", self.daily_stock),
            (f"cap:{self.id}:{customer_id}", self.per_customer),
            (f"cap:{self.id}:{customer_id}:{day}", self.per_customer_daily),
        )
        # Unlimited counters are still counted, for monitoring (运行监测).
        return tuple(_charge(counter, limit) for counter, limit in pairs)


@lru_cache(maxsize=4096)
def _charge(counter: str, limit: int | None) -> Charge:
    # One issue of a pool's coupon: the same stock counters (and the day's) issue after issue.
    return Charge(counter, 1, limit)
