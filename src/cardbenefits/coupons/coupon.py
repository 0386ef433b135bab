"""An issued coupon: one instance of a :class:`~cardbenefits.coupons.templates.CouponTemplate`.

The instance fixes its validity at issue; its *state* (issued, held, redeemed, ...) is not
stored here but derived from ledger entries (see :mod:`cardbenefits.coupons.state`).

>>> import pendulum
>>> from cardbenefits.money import Money
>>> from cardbenefits.coupons.templates import CouponTemplate, InstantDiscount, Validity
>>> tpl = CouponTemplate(id="ljj10", name="立减金 ¥10", effect=InstantDiscount(Money.of(10)),
...                      validity=Validity(days=7))
>>> c = Coupon.issue(tpl, coupon_id="c1", customer_id="cust42",
...                  at=pendulum.datetime(2026, 11, 1, 9, tz="Asia/Shanghai"))
>>> c.valid_until
DateTime(2026, 11, 8, 0, 0, 0, tzinfo=Timezone('Asia/Shanghai'))
>>> c.is_valid_at(pendulum.datetime(2026, 11, 7, 23, 59, tz="Asia/Shanghai"))
True
"""

from __future__ import annotations

import datetime as _dt

import attrs
import pendulum

from cardbenefits.clock import ensure_aware
from cardbenefits.coupons.templates import CouponTemplate
from cardbenefits.errors import FactError

__all__ = ["Coupon"]


def _issued_at(value: object) -> pendulum.DateTime:
    return ensure_aware(value, "issued_at")


def _valid_from(value: object) -> pendulum.DateTime:
    return ensure_aware(value, "valid_from")


def _valid_until(value: object) -> pendulum.DateTime:
    return ensure_aware(value, "valid_until")


@attrs.frozen
class Coupon:
    """A coupon issued to ``customer_id``, usable in ``[valid_from, valid_until)``."""

    coupon_id: str
    template: CouponTemplate = attrs.field(repr=False)
    customer_id: str
    issued_at: pendulum.DateTime = attrs.field(converter=_issued_at)
    valid_from: pendulum.DateTime = attrs.field(converter=_valid_from)
    valid_until: pendulum.DateTime = attrs.field(converter=_valid_until)
    pool_id: str | None = None

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.coupon_id, str) or not self.coupon_id:
            raise FactError("coupon id must be a non-empty string", path="coupon_id", value=self.coupon_id)
        if self.valid_until <= self.valid_from:
            raise FactError("coupon validity is empty", path="valid_until", value=self.valid_until)

    @classmethod
    def issue(
        cls,
        template: CouponTemplate,
        *,
        coupon_id: str,
        customer_id: str,
        at: _dt.datetime,
        pool_id: str | None = None,
    ) -> Coupon:
        """A coupon of ``template`` issued at ``at``, with the validity the template states."""
        issued = _issued_at(at)
        start, end = template.validity.window(issued, template.timezone)
        # What cls(...) builds: its converters would return these aware pendulum instants as
        # they are, so only the checks of __attrs_post_init__ are left to run (every draw and
        # coupon reward issues one).
        coupon = _new(cls)
        for setter, value in zip(
            _SETTERS, (coupon_id, template, customer_id, issued, start, end, pool_id), strict=True
        ):
            setter(coupon, value)
        coupon.__attrs_post_init__()
        return coupon

    @property
    def template_id(self) -> str:
        """The id of the coupon's template."""
        return self.template.id

    def is_valid_at(self, at: _dt.datetime) -> bool:
        """Whether ``at`` lies in the validity period (usage windows not considered)."""
        instant = ensure_aware(at)
        return self.valid_from <= instant < self.valid_until


_new = object.__new__
_SETTERS = tuple(Coupon.__dict__[field.name].__set__ for field in attrs.fields(Coupon))
