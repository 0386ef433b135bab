"""A customer's wallet (卡券包), derived from the ledger.

Nothing about a coupon is stored outside the ledger: its issue entry carries the coupon's
id, template and validity in ``meta``, and its state is the replay of its entries through the
state machine (:mod:`cardbenefits.coupons.state`). :meth:`Wallet.from_ledger` rebuilds the
wallet; :meth:`Wallet.available` gives what :func:`~cardbenefits.coupons.checkout.best_combination`
may choose from.

>>> import pendulum
>>> from cardbenefits.ledger import MemoryLedger
>>> from cardbenefits.money import Money
>>> from cardbenefits.coupons.templates import CouponTemplate, InstantDiscount
>>> from cardbenefits.coupons.pools import CouponPool
>>> from cardbenefits.coupons.operations import issue_coupon
>>> tpl = CouponTemplate(id="ljj10", name="立减金", effect=InstantDiscount(Money.of(10)))
>>> pool = CouponPool(id="nov", template_id="ljj10", daily_stock=100)
>>> at = pendulum.datetime(2026, 11, 1, 9, tz="Asia/Shanghai")
>>> ledger = MemoryLedger()
>>> decision = issue_coupon(pool, tpl, customer_id="c42", request_id="claim-1", at=at, view=ledger)
>>> ledger.apply(decision.batch).applied
True
>>> wallet = Wallet.from_ledger(ledger, "c42", {"ljj10": tpl})
>>> [(c.coupon.coupon_id, c.state.value) for c in wallet.coupons]
[('nov:claim-1', 'issued')]
>>> wallet.state_at("nov:claim-1", at.add(days=30))
<CouponState.EXPIRED: 'expired'>
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache

import attrs
import pendulum

from cardbenefits.clock import ensure_aware
from cardbenefits.coupons.coupon import Coupon
from cardbenefits.coupons.state import USABLE_STATES, CouponEvent, CouponState, next_state
from cardbenefits.coupons.templates import CouponTemplate
from cardbenefits.errors import EngineError
from cardbenefits.ledger.entries import LedgerEntry
from cardbenefits.ledger.protocol import LedgerView

__all__ = ["Wallet", "WalletCoupon", "coupon_status"]

EVENT_KEY = "coupon_event"
"""``meta`` key naming the coupon event of an entry."""


@attrs.frozen
class WalletCoupon:
    """A coupon with its state as recorded in the ledger.

    ``hold_id`` is set while held; ``payment_id`` names the payment of the last redemption.
    """

    coupon: Coupon
    state: CouponState
    hold_id: str | None = None
    payment_id: str | None = None
    history: tuple[CouponEvent, ...] = ()

    def state_at(self, at: _dt.datetime) -> CouponState:
        """The state at ``at``: a usable coupon past its validity counts as expired."""
        if self.state in USABLE_STATES and ensure_aware(at) >= self.coupon.valid_until:
            return CouponState.EXPIRED
        return self.state


@lru_cache(maxsize=4096)
def _instant(text: str) -> object:
    # Checkout rebuilds a holder's wallet at every purchase: the same validity texts again
    # (the Coupon's converters check what was parsed, as before).
    return pendulum.parse(text)


def _coupon_from_issue(entry: LedgerEntry, templates: Mapping[str, CouponTemplate]) -> Coupon:
    meta = entry.meta
    template_id = meta["template_id"]
    template = templates.get(template_id)
    if template is None:
        raise EngineError(
            "coupon of an unknown template", path=f"ledger[{entry.entry_id}]", value=template_id
        )
    return Coupon(
        coupon_id=meta["coupon_id"],
        template=template,
        customer_id=entry.customer_id,
        issued_at=entry.at,
        valid_from=_instant(meta["valid_from"]),
        valid_until=_instant(meta["valid_until"]),
        pool_id=meta.get("pool_id") or None,
    )


def _replay(
    entries: Iterable[LedgerEntry], templates: Mapping[str, CouponTemplate]
) -> dict[str, WalletCoupon]:
    result: dict[str, WalletCoupon] = {}
    for entry in entries:
        event_name = entry.meta.get(EVENT_KEY)
        if event_name is None or not entry.asset.startswith("coupon:"):
            continue
        event = CouponEvent(event_name)
        cid = entry.meta["coupon_id"]
        current = result.get(cid)
        if event is CouponEvent.ISSUE:
            if current is not None:
                raise EngineError("coupon issued twice", path=f"ledger[{entry.entry_id}]", value=cid)
            result[cid] = WalletCoupon(
                _coupon_from_issue(entry, templates), next_state(None, event), history=(event,)
            )
            continue
        if current is None:
            next_state(None, event)  # raises: event on a coupon never issued
            continue
        state = next_state(current.state, event)
        hold = entry.meta.get("hold_id") if event is CouponEvent.HOLD else None
        payment = entry.meta.get("payment_id") if event is CouponEvent.REDEEM else current.payment_id
        result[cid] = attrs.evolve(
            current, state=state, hold_id=hold, payment_id=payment, history=(*current.history, event)
        )
    return result


def coupon_status(view: LedgerView, coupon: Coupon) -> WalletCoupon | None:
    """The ledger's record of ``coupon`` (None if it was never issued)."""
    entries = [
        e for e in view.entries(customer_id=coupon.customer_id) if e.meta.get("coupon_id") == coupon.coupon_id
    ]
    found = _replay(entries, {coupon.template.id: coupon.template})
    return found.get(coupon.coupon_id)


@attrs.frozen
class Wallet:
    """Every coupon a customer was ever issued, with its ledger-derived state."""

    customer_id: str
    coupons: tuple[WalletCoupon, ...]

    @classmethod
    def from_ledger(
        cls, view: LedgerView, customer_id: str, templates: Mapping[str, CouponTemplate]
    ) -> Wallet:
        """Rebuild the wallet of ``customer_id`` from its ledger entries (in issue order)."""
        found = _replay(view.entries(customer_id=customer_id), templates)
        return cls(customer_id, tuple(found.values()))

    def __iter__(self) -> Iterator[WalletCoupon]:
        return iter(self.coupons)

    def __len__(self) -> int:
        return len(self.coupons)

    def get(self, coupon_id: str) -> WalletCoupon | None:
        """The coupon with this id, or None."""
        for item in self.coupons:
            if item.coupon.coupon_id == coupon_id:
                return item
        return None

    def state_at(self, coupon_id: str, at: _dt.datetime) -> CouponState | None:
        """The state of a coupon at ``at`` (see :meth:`WalletCoupon.state_at`)."""
        item = self.get(coupon_id)
        return None if item is None else item.state_at(at)

    def available(self, at: _dt.datetime) -> tuple[Coupon, ...]:
        """Coupons that may be used at ``at``: usable state, within their validity."""
        instant = ensure_aware(at)
        return tuple(
            item.coupon
            for item in self.coupons
            if item.state in USABLE_STATES and item.coupon.valid_from <= instant < item.coupon.valid_until
        )
