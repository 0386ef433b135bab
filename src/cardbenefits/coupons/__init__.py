"""Coupons (电子票券池): templates, pools, issued coupons, their ledger-derived state, checkout.

Templates, pools and checkout rules are catalog data (``coupon_templates``, ``coupon_pools``,
``checkout_rules``; see :mod:`cardbenefits.coupons.catalog_file`). Every operation is a pure
decision over a read-only ledger view; the caller applies the decision's batch. A typical day:
issue coupons from pools (领券), rebuild the wallet from the ledger, let checkout pick the best
allowed combination for a payment, redeem what it chose (核销).

>>> import pendulum
>>> from cardbenefits.catalog import load_catalog
>>> from cardbenefits.ledger import MemoryLedger
>>> from cardbenefits.money import Money
>>> catalog = load_catalog("examples/catalogs/coupons.yaml")
>>> templates, pools = coupon_templates(catalog), coupon_pools(catalog)
>>> ledger = MemoryLedger()
>>> at = pendulum.datetime(2026, 11, 4, 11, tz="Asia/Shanghai")  # a Wednesday
>>> for pool_id in ("mj100-nov", "ljj10-daily", "wed50-nov", "cb5-pool"):
...     pool = pools[pool_id]
...     issued = issue_coupon(pool, templates[pool.template_id], customer_id="c42",
...                           request_id="claim-1", at=at, view=ledger)
...     assert ledger.apply(issued.batch).applied
>>> wallet = Wallet.from_ledger(ledger, "c42", templates)
>>> payment = Payment(Money.of("128.00"), at.add(hours=1), merchant="noodle-house", mcc="5812",
...                   channel="wechat_pay", card_product="dining")
>>> plan = best_combination(wallet.available(payment.at), payment, stacking_rules(catalog))
>>> plan.coupon_ids
('mj100-nov:claim-1', 'wed50-nov:claim-1', 'cb5-pool:claim-1')
>>> str(plan.payable), str(plan.cashback), str(plan.saving)
('78.00', '5.00', '55.00')
>>> for applied in plan.coupons:
...     used = redeem_coupon(wallet.get(applied.coupon_id).coupon, payment_id="pay-1",
...                          at=payment.at, view=ledger)
...     assert ledger.apply(used.batch).applied
>>> [(c.coupon.template_id, c.state.value) for c in Wallet.from_ledger(ledger, "c42", templates)]
[('mj100-20', 'redeemed'), ('ljj10', 'issued'), ('wed50', 'redeemed'), ('cb5', 'redeemed')]
"""

from __future__ import annotations

from cardbenefits.coupons.catalog_file import (
    CheckoutRulesFile,
    CouponPoolFile,
    CouponTemplateFile,
    coupon_pools,
    coupon_templates,
    stacking_rules,
)
from cardbenefits.coupons.checkout import (
    AppliedCoupon,
    BasketLine,
    CheckoutPlan,
    Payment,
    Refusal,
    StackingRules,
    best_combination,
    exhaustive_combination,
)
from cardbenefits.coupons.coupon import Coupon
from cardbenefits.coupons.operations import (
    CouponDecision,
    expire_coupon,
    hold_coupon,
    issue_coupon,
    redeem_coupon,
    refusal_for_counter,
    release_coupon,
    return_coupon,
)
from cardbenefits.coupons.pools import CouponPool
from cardbenefits.coupons.state import TRANSITIONS, USABLE_STATES, CouponEvent, CouponState, next_state
from cardbenefits.coupons.templates import (
    CouponCashback,
    CouponEffect,
    CouponScope,
    CouponTemplate,
    Gift,
    InstantDiscount,
    PercentOff,
    PointsMultiplier,
    ReturnPolicy,
    Stacking,
    ThresholdBasis,
    ThresholdDiscount,
    Validity,
)
from cardbenefits.coupons.wallet import Wallet, WalletCoupon, coupon_status

__all__ = [
    "TRANSITIONS",
    "USABLE_STATES",
    "AppliedCoupon",
    "BasketLine",
    "CheckoutPlan",
    "CheckoutRulesFile",
    "Coupon",
    "CouponCashback",
    "CouponDecision",
    "CouponEffect",
    "CouponEvent",
    "CouponPool",
    "CouponPoolFile",
    "CouponScope",
    "CouponState",
    "CouponTemplate",
    "CouponTemplateFile",
    "Gift",
    "InstantDiscount",
    "Payment",
    "PercentOff",
    "PointsMultiplier",
    "Refusal",
    "ReturnPolicy",
    "Stacking",
    "StackingRules",
    "ThresholdBasis",
    "ThresholdDiscount",
    "Validity",
    "Wallet",
    "WalletCoupon",
    "best_combination",
    "coupon_pools",
    "coupon_status",
    "coupon_templates",
    "exhaustive_combination",
    "expire_coupon",
    "hold_coupon",
    "issue_coupon",
    "next_state",
    "redeem_coupon",
    "refusal_for_counter",
    "release_coupon",
    "return_coupon",
    "stacking_rules",
]
