"""The coupon state machine: a small explicit table, replayed over ledger entries.

A coupon's state is never stored; it is derived by replaying the coupon's ledger entries
through :data:`TRANSITIONS`. Each entry names its event in ``meta["coupon_event"]``.

=========  ========  ===========  ======================================================
event      kind      units        counters charged (see :mod:`cardbenefits.coupons.operations`)
=========  ========  ===========  ======================================================
issue      issue     1            stock, daily stock, per-customer caps, ``issued:<id>``
hold       adjust    0            ``use:<id>`` +1, ``hold:<id>:<hold>`` +1
release    adjust    0            ``use:<id>`` -1, ``hold:<id>:<hold>`` -1
redeem     redeem    1            ``use:<id>`` +1, or ``hold:<id>:<hold>`` -1 when held
return     return    1            ``use:<id>`` -1
expire     expire    1            ``use:<id>`` +1
=========  ========  ===========  ======================================================

``use:<id>`` has limit 1: it is 1 exactly while the coupon is held, redeemed or expired, so
the ledger refuses — atomically, under concurrent writers — a second hold, redemption or
expiry of the same coupon.

>>> state = None
>>> for event in (CouponEvent.ISSUE, CouponEvent.REDEEM, CouponEvent.RETURN, CouponEvent.HOLD):
...     state = next_state(state, event)
>>> state
<CouponState.HELD: 'held'>
>>> next_state(CouponState.REDEEMED, CouponEvent.REDEEM)
Traceback (most recent call last):
  ...
cardbenefits.errors.EngineError: coupon_event: cannot redeem a coupon that is redeemed (got 'redeem')
"""

from __future__ import annotations

import enum
from typing import Final

from cardbenefits.errors import EngineError

__all__ = ["TRANSITIONS", "USABLE_STATES", "CouponEvent", "CouponState", "next_state"]


class CouponState(enum.StrEnum):
    """Where a coupon is in its life."""

    ISSUED = "issued"
    """In the wallet, usable (领取)."""
    HELD = "held"
    """Reserved for a payment in progress (冻结/占用)."""
    REDEEMED = "redeemed"
    """Used at payment (核销)."""
    EXPIRED = "expired"
    """Lapsed unused (过期)."""
    RETURNED = "returned"
    """Given back after the paid order was refunded; usable again until it expires (退券)."""


class CouponEvent(enum.StrEnum):
    """What can happen to a coupon."""

    ISSUE = "issue"
    HOLD = "hold"
    RELEASE = "release"
    REDEEM = "redeem"
    RETURN = "return"
    EXPIRE = "expire"


_S, _E = CouponState, CouponEvent

TRANSITIONS: Final[dict[tuple[CouponState | None, CouponEvent], CouponState]] = {
    (None, _E.ISSUE): _S.ISSUED,
    (_S.ISSUED, _E.HOLD): _S.HELD,
    (_S.RETURNED, _E.HOLD): _S.HELD,
    (_S.HELD, _E.RELEASE): _S.ISSUED,
    (_S.ISSUED, _E.REDEEM): _S.REDEEMED,
    (_S.RETURNED, _E.REDEEM): _S.REDEEMED,
    (_S.HELD, _E.REDEEM): _S.REDEEMED,
    (_S.REDEEMED, _E.RETURN): _S.RETURNED,
    (_S.ISSUED, _E.EXPIRE): _S.EXPIRED,
    (_S.RETURNED, _E.EXPIRE): _S.EXPIRED,
}
"""(state before, event) -> state after; ``None`` is "not issued yet". Anything else is refused."""

USABLE_STATES: Final = frozenset({CouponState.ISSUED, CouponState.RETURNED})
"""States in which a coupon may be held or redeemed (while it is within its validity)."""


def next_state(state: CouponState | None, event: CouponEvent) -> CouponState:
    """The state after ``event``, or :class:`~cardbenefits.errors.EngineError` if not allowed."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        where = "a coupon that was never issued" if state is None else f"a coupon that is {state.value}"
        raise EngineError(f"cannot {event.value} {where}", path="coupon_event", value=event.value) from None
