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
from cardbenefits.coupons.templates import (
    Channel,
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
    UsageWindow,
    Validity,
)

__all__ = [
    "AppliedCoupon",
    "BasketLine",
    "Channel",
    "CheckoutPlan",
    "Coupon",
    "CouponCashback",
    "CouponEffect",
    "CouponScope",
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
    "UsageWindow",
    "Validity",
    "best_combination",
    "exhaustive_combination",
]
