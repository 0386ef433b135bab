"""Coupons (电子票券池): templates, pools, issued coupons, their ledger-derived state, checkout.

>>> from cardbenefits.coupons import best_combination, CouponTemplate
>>> callable(best_combination), CouponTemplate.__name__
(True, 'CouponTemplate')
"""

from __future__ import annotations

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
    "Coupon",
    "CouponCashback",
    "CouponDecision",
    "CouponEffect",
    "CouponEvent",
    "CouponPool",
    "CouponScope",
    "CouponState",
    "CouponTemplate",
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
    "coupon_status",
    "exhaustive_combination",
    "expire_coupon",
    "hold_coupon",
    "issue_coupon",
    "next_state",
    "redeem_coupon",
    "refusal_for_counter",
    "release_coupon",
    "return_coupon",
]
