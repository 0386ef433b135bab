"""Coupon operations: issue, hold, release, redeem, return on refund, expire.

Each operation is a pure decision: it reads a :class:`~cardbenefits.ledger.LedgerView`, checks
the state machine (:mod:`cardbenefits.coupons.state`) and returns a :class:`CouponDecision`
holding the :class:`~cardbenefits.ledger.EntryBatch` to apply, or the reason it refuses. The
batch's charges make the ledger enforce what must hold under concurrency: stock and caps on
issue, and ``use:<coupon>`` (limit 1) so a coupon is never held, redeemed or expired twice.

Idempotency keys (the same request gives the same key, so a retry is harmless):

- issue: ``coupon-issue:<pool>:<request_id>`` (coupon id ``<pool>:<request_id>`` unless given)
- hold / release: ``coupon-hold:<coupon>:<hold_id>`` / ``coupon-release:<coupon>:<hold_id>``
- redeem: ``coupon-redeem:<coupon>:<payment_id>``
- return on refund: ``coupon-return:<coupon>:<refund_id>``
- expire: ``coupon-expire:<coupon>``

>>> import pendulum
>>> from cardbenefits.ledger import MemoryLedger
>>> from cardbenefits.money import Money
>>> from cardbenefits.coupons.templates import CouponTemplate, ThresholdDiscount
>>> tpl = CouponTemplate(id="mj100", name="满100减20", effect=ThresholdDiscount(Money.of(100), Money.of(20)))
>>> pool = CouponPool(id="mj-nov", template_id="mj100", total_stock=1)
>>> at = pendulum.datetime(2026, 11, 1, 9, tz="Asia/Shanghai")
>>> ledger = MemoryLedger()
>>> first = issue_coupon(pool, tpl, customer_id="c1", request_id="r1", at=at, view=ledger)
>>> ledger.apply(first.batch).applied
True
>>> issue_coupon(pool, tpl, customer_id="c2", request_id="r2", at=at, view=ledger).refusal
'stock exhausted'
>>> used = redeem_coupon(first.coupon, payment_id="p1", at=at.add(hours=1), view=ledger)
>>> ledger.apply(used.batch).applied, used.state_after
(True, <CouponState.REDEEMED: 'redeemed'>)
>>> redeem_coupon(first.coupon, payment_id="p2", at=at.add(hours=2), view=ledger).refusal
'coupon is redeemed'
>>> back = return_coupon(first.coupon, refund_id="rf1", payment_id="p1", at=at.add(days=1), view=ledger)
>>> ledger.apply(back.batch).applied, back.state_after
(True, <CouponState.RETURNED: 'returned'>)
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from decimal import Decimal

import attrs

from cardbenefits.clock import ensure_aware
from cardbenefits.coupons.coupon import Coupon
from cardbenefits.coupons.pools import CouponPool
from cardbenefits.coupons.state import USABLE_STATES, CouponEvent, CouponState
from cardbenefits.coupons.templates import CouponTemplate, ReturnPolicy
from cardbenefits.coupons.wallet import EVENT_KEY, WalletCoupon, coupon_status
from cardbenefits.errors import CatalogError, EngineError
from cardbenefits.ledger.entries import Charge, EntryBatch, EntryKind, LedgerEntry
from cardbenefits.ledger.protocol import LedgerView

__all__ = [
    "CouponDecision",
    "expire_coupon",
    "hold_coupon",
    "issue_coupon",
    "redeem_coupon",
    "refusal_for_counter",
    "release_coupon",
    "return_coupon",
]

_KIND = {
    CouponEvent.ISSUE: EntryKind.ISSUE,
    CouponEvent.HOLD: EntryKind.ADJUST,
    CouponEvent.RELEASE: EntryKind.ADJUST,
    CouponEvent.REDEEM: EntryKind.REDEEM,
    CouponEvent.RETURN: EntryKind.RETURN,
    CouponEvent.EXPIRE: EntryKind.EXPIRE,
}
# Holds move no balance: the coupon is still the customer's until redeemed.
_UNITS = {CouponEvent.HOLD: Decimal(0), CouponEvent.RELEASE: Decimal(0)}


@attrs.frozen
class CouponDecision:
    """What an operation decided: a batch to apply, or a refusal (then ``batch`` is None)."""

    event: CouponEvent
    coupon: Coupon | None
    batch: EntryBatch | None
    refusal: str | None = None
    state_after: CouponState | None = None

    @property
    def ok(self) -> bool:
        """True when there is a batch to apply."""
        return self.batch is not None


def refusal_for_counter(counter: str) -> str:
    """A readable reason for a limit the ledger enforced on ``counter``.

    >>> refusal_for_counter("stock:ljj-nov:2026-11-30"), refusal_for_counter("use:coupon:c1")
    ('daily stock exhausted', 'coupon already in use')
    """
    parts = counter.split(":")
    if parts[0] == "stock":
        return "daily stock exhausted" if len(parts) > 2 else "stock exhausted"
    if parts[0] == "cap":
        return "daily per-customer limit reached" if len(parts) > 3 else "per-customer limit reached"
    if parts[0] == "issued":
        return "coupon id already issued"
    if parts[0] == "use":
        return "coupon already in use"
    if parts[0] == "hold":
        return "hold already released or used"
    return f"limit reached on {counter}"


def _entry(
    event: CouponEvent,
    coupon: Coupon,
    at: _dt.datetime,
    catalog_version: str,
    reason: str,
    charges: Sequence[Charge],
    ref: str | None = None,
    meta: Mapping[str, str] | None = None,
    *,
    key: str,
) -> LedgerEntry:
    """The one entry of an operation's batch ``key`` (numbered ``#0`` here: no renumbering copy)."""
    data = {
        EVENT_KEY: event.value,
        "coupon_id": coupon.coupon_id,
        "template_id": coupon.template.id,
        **(meta or {}),
    }
    return LedgerEntry(
        kind=_KIND[event],
        customer_id=coupon.customer_id,
        programme_id=coupon.pool_id or coupon.template.id,
        benefit_id=coupon.template.id,
        asset=coupon.template.asset,
        units=_UNITS.get(event, Decimal(1)),
        at=ensure_aware(at),
        catalog_version=catalog_version,
        reason=reason,
        ref=ref,
        charges=tuple(charges),
        meta=data,
        entry_id=f"{key}#0",
    )


def _refuse(
    event: CouponEvent, coupon: Coupon | None, reason: str, state: CouponState | None
) -> CouponDecision:
    return CouponDecision(event, coupon, None, reason, state)


def _replayed(event: CouponEvent, coupon: Coupon, view: LedgerView, key: str) -> CouponDecision | None:
    """The decision already applied under ``key`` (idempotent retry), if any."""
    if not view.has_applied(key):
        return None
    status = coupon_status(view, coupon)
    stored = [e for e in view.entries(customer_id=coupon.customer_id) if e.entry_id.startswith(f"{key}#")]
    return CouponDecision(
        event, coupon, EntryBatch(key, tuple(stored)), None, status.state if status else None
    )


def issue_coupon(
    pool: CouponPool,
    template: CouponTemplate,
    *,
    customer_id: str,
    request_id: str,
    at: _dt.datetime,
    view: LedgerView,
    record: Mapping[str, object] | None = None,
    catalog_version: str = "unversioned",
    coupon_id: str | None = None,
) -> CouponDecision:
    """Issue one coupon of ``template`` from ``pool`` (领券), first come, first served.

    ``record`` is the customer record (:func:`cardbenefits.facts.customer_record`) the
    template's eligibility rule reads; it is required when the template has one. The stock
    and caps are pre-checked against ``view`` for a clear refusal, and enforced again by the
    ledger when the batch is applied (a concurrent claim may still win the last coupon).
    """
    if template.id != pool.template_id:
        raise CatalogError("pool issues another template", path="template_id", value=template.id)
    event = CouponEvent.ISSUE
    cid = coupon_id if coupon_id is not None else f"{pool.id}:{request_id}"
    coupon = Coupon.issue(template, coupon_id=cid, customer_id=customer_id, at=at, pool_id=pool.id)
    key = f"coupon-issue:{pool.id}:{request_id}"
    done = _replayed(event, coupon, view, key)
    if done is not None:
        return done
    closed = pool.closed_reason(at)
    if closed is not None:
        return _refuse(event, None, closed, None)
    if template.eligibility is not None:
        if record is None:
            raise EngineError("template has an eligibility rule: pass the customer record", path="record")
        if not template.eligibility.evaluate(record, ensure_aware(at)):
            return _refuse(event, None, f"not eligible: {template.eligibility.text}", None)
    charges = (*pool.charges(customer_id, at), Charge(f"issued:coupon:{cid}", 1, 1))
    usages = view.usages(c.counter for c in charges)
    for charge in charges:
        if charge.limit is not None and usages[charge.counter] + charge.delta > charge.limit:
            return _refuse(event, None, refusal_for_counter(charge.counter), None)
    entry = _entry(
        event,
        coupon,
        at,
        catalog_version,
        "issued",
        charges,
        ref=request_id,
        meta={
            "pool_id": pool.id,
            "valid_from": coupon.valid_from.isoformat(),
            "valid_until": coupon.valid_until.isoformat(),
        },
        key=key,
    )
    return CouponDecision(event, coupon, EntryBatch.of(key, [entry]), None, CouponState.ISSUED)


def _usable_refusal(status: WalletCoupon | None, coupon: Coupon, at: _dt.datetime) -> str | None:
    if status is None:
        return "coupon was never issued"
    if status.state not in USABLE_STATES:
        return f"coupon is {status.state.value}"
    if not coupon.is_valid_at(at):
        return "coupon not valid yet" if ensure_aware(at) < coupon.valid_from else "coupon expired"
    return coupon.template.window_refusal(at)


def hold_coupon(
    coupon: Coupon, *, hold_id: str, at: _dt.datetime, view: LedgerView, catalog_version: str = "unversioned"
) -> CouponDecision:
    """Reserve the coupon for a payment in progress (冻结)."""
    event = CouponEvent.HOLD
    key = f"coupon-hold:{coupon.coupon_id}:{hold_id}"
    done = _replayed(event, coupon, view, key)
    if done is not None:
        return done
    status = coupon_status(view, coupon)
    reason = _usable_refusal(status, coupon, at)
    if reason is not None:
        return _refuse(event, coupon, reason, status.state if status else None)
    charges = (
        Charge(f"use:coupon:{coupon.coupon_id}", 1, 1),
        Charge(f"hold:coupon:{coupon.coupon_id}:{hold_id}", 1, 1),
    )
    entry = _entry(
        event, coupon, at, catalog_version, "held", charges, ref=hold_id, meta={"hold_id": hold_id}, key=key
    )
    return CouponDecision(event, coupon, EntryBatch.of(key, [entry]), None, CouponState.HELD)


def release_coupon(
    coupon: Coupon, *, hold_id: str, at: _dt.datetime, view: LedgerView, catalog_version: str = "unversioned"
) -> CouponDecision:
    """Cancel a hold (the payment was abandoned): the coupon is usable again."""
    event = CouponEvent.RELEASE
    key = f"coupon-release:{coupon.coupon_id}:{hold_id}"
    done = _replayed(event, coupon, view, key)
    if done is not None:
        return done
    status = coupon_status(view, coupon)
    if status is None or status.state is not CouponState.HELD or status.hold_id != hold_id:
        return _refuse(event, coupon, f"no hold {hold_id!r} on this coupon", status.state if status else None)
    charges = (
        Charge(f"use:coupon:{coupon.coupon_id}", -1, 1),
        Charge(f"hold:coupon:{coupon.coupon_id}:{hold_id}", -1, 1),
    )
    entry = _entry(
        event,
        coupon,
        at,
        catalog_version,
        "released",
        charges,
        ref=hold_id,
        meta={"hold_id": hold_id},
        key=key,
    )
    return CouponDecision(event, coupon, EntryBatch.of(key, [entry]), None, CouponState.ISSUED)


def redeem_coupon(
    coupon: Coupon,
    *,
    payment_id: str,
    at: _dt.datetime,
    view: LedgerView,
    hold_id: str | None = None,
    catalog_version: str = "unversioned",
    discount: str | None = None,
) -> CouponDecision:
    """Redeem (核销) the coupon for ``payment_id``; a held coupon needs its ``hold_id``.

    ``discount`` (e.g. ``str(applied.discount)`` from the checkout plan) is recorded in meta.
    """
    event = CouponEvent.REDEEM
    key = f"coupon-redeem:{coupon.coupon_id}:{payment_id}"
    done = _replayed(event, coupon, view, key)
    if done is not None:
        return done
    status = coupon_status(view, coupon)
    use = f"use:coupon:{coupon.coupon_id}"
    if status is not None and status.state is CouponState.HELD:
        if hold_id is None or status.hold_id != hold_id:
            return _refuse(event, coupon, "coupon is held for another payment", status.state)
        charges: tuple[Charge, ...] = (Charge(f"hold:coupon:{coupon.coupon_id}:{hold_id}", -1, 1),)
    else:
        reason = _usable_refusal(status, coupon, at)
        if reason is not None:
            return _refuse(event, coupon, reason, status.state if status else None)
        charges = (Charge(use, 1, 1),)
    meta = {"payment_id": payment_id}
    if discount is not None:
        meta["discount"] = discount
    entry = _entry(
        event, coupon, at, catalog_version, "redeemed", charges, ref=payment_id, meta=meta, key=key
    )
    return CouponDecision(event, coupon, EntryBatch.of(key, [entry]), None, CouponState.REDEEMED)


def return_coupon(
    coupon: Coupon,
    *,
    refund_id: str,
    payment_id: str,
    at: _dt.datetime,
    view: LedgerView,
    catalog_version: str = "unversioned",
) -> CouponDecision:
    """Give the coupon back after ``payment_id`` was refunded, as the template's policy states.

    ``RETURN_IF_VALID``: returned only before it expires; ``ALWAYS``: returned with its
    original validity (so it may be returned already expired); ``NEVER``: kept as redeemed.
    A refusal leaves the coupon redeemed.
    """
    event = CouponEvent.RETURN
    key = f"coupon-return:{coupon.coupon_id}:{refund_id}"
    done = _replayed(event, coupon, view, key)
    if done is not None:
        return done
    status = coupon_status(view, coupon)
    state = status.state if status else None
    if status is None or status.state is not CouponState.REDEEMED or status.payment_id != payment_id:
        return _refuse(event, coupon, f"coupon was not redeemed for payment {payment_id!r}", state)
    policy = coupon.template.on_refund
    if policy is ReturnPolicy.NEVER:
        return _refuse(event, coupon, "template keeps the coupon on refund", state)
    if policy is ReturnPolicy.RETURN_IF_VALID and ensure_aware(at) >= coupon.valid_until:
        return _refuse(event, coupon, "coupon expired before the refund; not returned", state)
    charges = (Charge(f"use:coupon:{coupon.coupon_id}", -1, 1),)
    entry = _entry(
        event, coupon, at, catalog_version, "returned on refund", charges, ref=refund_id,
        meta={"payment_id": payment_id, "refund_id": refund_id},
        key=key,
    )  # fmt: skip
    return CouponDecision(event, coupon, EntryBatch.of(key, [entry]), None, CouponState.RETURNED)


def expire_coupon(
    coupon: Coupon, *, at: _dt.datetime, view: LedgerView, catalog_version: str = "unversioned"
) -> CouponDecision:
    """Record that an unused coupon lapsed (at or after ``valid_until``)."""
    event = CouponEvent.EXPIRE
    key = f"coupon-expire:{coupon.coupon_id}"
    done = _replayed(event, coupon, view, key)
    if done is not None:
        return done
    status = coupon_status(view, coupon)
    if status is None or status.state not in USABLE_STATES:
        return _refuse(event, coupon, f"coupon is {status.state.value if status else 'not issued'}", None)
    if ensure_aware(at) < coupon.valid_until:
        return _refuse(event, coupon, "coupon still valid", status.state)
    charges = (Charge(f"use:coupon:{coupon.coupon_id}", 1, 1),)
    entry = _entry(event, coupon, at, catalog_version, "expired", charges, key=key)
    return CouponDecision(event, coupon, EntryBatch.of(key, [entry]), None, CouponState.EXPIRED)
