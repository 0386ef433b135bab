"""Checkout: pick the allowed combination of wallet coupons that saves the customer the most.

:func:`best_combination` first filters the coupons that apply to the :class:`Payment`
(validity, usage windows, scope, minimum spend) and records why each other coupon was refused.
It then runs an exact branch-and-bound search over the applicable ones:

- a combination respects :class:`StackingRules` — at most ``max_coupons`` coupons, at most the
  group's limit per stacking group (exclusive groups: 1), ``alone`` coupons on their own, at
  most ``Stacking.max_per_payment`` copies of one template;
- coupons apply in ascending ``(priority, template id)``; each discount is computed on the
  amount still payable and never exceeds it; a minimum spend is tested on the amount the
  template's :class:`~cardbenefits.coupons.templates.ThresholdBasis` states (still payable,
  or the original amount);
- a combination in which some coupon would not apply, or would be worth nothing, is not
  allowed (a coupon is never burnt for nothing);
- the customer's *saving* is discounts + cashback + the stated value of multipliers and gifts;
- ties are broken deterministically: fewer coupons, then the coupons that expire first
  (the sorted ``(valid_until, coupon_id)`` tuple, smallest first).

The search enumerates sets in order of each coupon's upper-bound value and prunes with the
sum of the best remaining upper bounds; identical copies of a template are reduced to the
ones that could be used together, expiring first. Discounts are allocated across basket lines
exactly with :meth:`Money.allocate`, in proportion to what each line still costs.
:func:`exhaustive_combination` is the brute-force reference the tests and benchmark use.

>>> import pendulum
>>> from cardbenefits.money import Money
>>> from cardbenefits.coupons.templates import (
...     CouponTemplate, InstantDiscount, PercentOff, Stacking, ThresholdDiscount)
>>> from cardbenefits.coupons.coupon import Coupon
>>> at = pendulum.datetime(2026, 11, 4, 12, tz="Asia/Shanghai")
>>> def coupon(cid, effect, group, priority=100):
...     tpl = CouponTemplate(id=cid, name=cid, effect=effect, stacking=Stacking(group, priority))
...     return Coupon.issue(tpl, coupon_id=cid, customer_id="c42", at=at.subtract(days=1))
>>> wallet = [
...     coupon("mj100-20", ThresholdDiscount(Money.of(100), Money.of(20)), "merchant", 10),
...     coupon("mj150-35", ThresholdDiscount(Money.of(150), Money.of(35)), "merchant", 10),
...     coupon("ljj10", InstantDiscount(Money.of(10)), "bank", 20),
...     coupon("half", PercentOff(50, cap=Money.of(30)), "bank", 20),
... ]
>>> payment = Payment(Money.of("160.00"), at, lines=(
...     BasketLine("tea", Money.of("40.00")), BasketLine("cake", Money.of("120.00"))))
>>> rules = StackingRules(max_coupons=2, group_limits={"merchant": 1, "bank": 1})
>>> plan = best_combination(wallet, payment, rules)
>>> [(a.coupon_id, str(a.discount)) for a in plan.coupons]
[('mj150-35', '35.00'), ('half', '30.00')]
>>> str(plan.payable), str(plan.saving)
('95.00', '65.00')
>>> [str(m) for m in plan.coupons[0].line_discounts]
['8.75', '26.25']
>>> plan.without_search_stats() == exhaustive_combination(wallet, payment, rules).without_search_stats()
True
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import pendulum

from cardbenefits.clock import ensure_aware
from cardbenefits.coupons.coupon import Coupon
from cardbenefits.coupons.templates import (
    CouponCashback,
    CouponScope,
    CouponTemplate,
    InstantDiscount,
    PercentOff,
    ThresholdBasis,
    ThresholdDiscount,
)
from cardbenefits.errors import EngineError, FactError
from cardbenefits.facts import Channel, Transaction
from cardbenefits.money import Money, Rounding, total

__all__ = [
    "AppliedCoupon",
    "BasketLine",
    "CheckoutPlan",
    "Payment",
    "Refusal",
    "StackingRules",
    "best_combination",
    "exhaustive_combination",
]


def _positive_fen(path: str) -> Any:
    def check(_inst: object, _attr: object, value: object) -> None:
        if not isinstance(value, Money):
            raise FactError("expected Money", path=path, value=value)
        if not value.is_positive() or value.quantize() != value:
            raise FactError("amount must be positive and in whole minor units", path=path, value=value)

    return check


@attrs.frozen
class BasketLine:
    """One line of the basket (an item or a group of items) and what it costs."""

    line_id: str
    amount: Money = attrs.field(validator=_positive_fen("lines[].amount"))


def _payment_at(value: object) -> pendulum.DateTime:
    return ensure_aware(value, "payment.at")


def _channel(value: object) -> Channel | None:
    if value is None:
        return None
    try:
        return Channel(str(value))
    except ValueError:
        raise FactError("unknown channel", path="payment.channel", value=value) from None


def _lines(value: Iterable[BasketLine]) -> tuple[BasketLine, ...]:
    return tuple(value)


@attrs.frozen
class Payment:
    """A payment about to be made: what the optimiser chooses coupons for.

    ``lines``, when given, must sum to ``amount``; the discount is then split across them.
    """

    amount: Money = attrs.field(validator=_positive_fen("payment.amount"))
    at: pendulum.DateTime = attrs.field(converter=_payment_at)
    merchant: str | None = None
    mcc: str | None = None
    channel: Channel | None = attrs.field(default=None, converter=_channel)
    card_product: str | None = None
    region: str | None = None
    lines: tuple[BasketLine, ...] = attrs.field(default=(), converter=_lines)

    @classmethod
    def for_transaction(
        cls, transaction: Transaction, *, card_product: str | None = None, lines: Iterable[BasketLine] = ()
    ) -> Payment:
        """The payment of a purchase :class:`~cardbenefits.facts.Transaction` (its amount, time,
        merchant, MCC, channel and region); the card product is not on a transaction, so pass it.

        >>> from cardbenefits.facts import Transaction
        >>> txn = Transaction("t1", "c1", "k1", Money.of("88.00"), "m1", "5812", "wechat_pay",
        ...                   "purchase", "2026-11-04T12:00+08:00")
        >>> p = Payment.for_transaction(txn, card_product="youth")
        >>> p.channel, p.mcc, p.merchant, p.card_product
        (<Channel.WECHAT_PAY: 'wechat_pay'>, '5812', 'm1', 'youth')
        """
        if not transaction.kind.is_spend:
            raise FactError(
                "only a purchase can be paid with coupons", path="transaction.kind", value=transaction.kind
            )
        return cls(
            transaction.amount,
            transaction.transacted_at,
            merchant=transaction.merchant_id,
            mcc=transaction.mcc,
            channel=transaction.channel,
            card_product=card_product,
            region=transaction.region,
            lines=lines,
        )

    def __attrs_post_init__(self) -> None:
        if self.lines:
            line_total = total((line.amount for line in self.lines), self.amount.currency)
            if line_total != self.amount:
                raise FactError(
                    "basket lines do not sum to the amount", path="payment.lines", value=line_total
                )
            ids = [line.line_id for line in self.lines]
            if len(set(ids)) != len(ids):
                raise FactError("duplicate basket line id", path="payment.lines", value=ids)


def _group_limits(value: Mapping[str, int] | Iterable[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    items = sorted(dict(value).items())
    for group, limit in items:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise EngineError("group limit must be a positive int", path=f"group_limits.{group}", value=limit)
    return tuple(items)


@attrs.frozen
class StackingRules:
    """The stacking policy of a checkout (叠加规则).

    ``group_limits`` maps a stacking group to how many of its coupons one payment may use
    (1 = exclusive group, more = stackable group); groups not listed get
    ``default_group_limit`` (1: unknown groups are exclusive, the conservative reading).
    ``id`` names the policy in a catalog's ``checkout_rules`` section (``"default"`` unless
    the issuer keeps several, e.g. one per channel).

    >>> StackingRules(group_limits={"platform": 2}).limit("platform"), StackingRules().limit("x")
    (2, 1)
    """

    max_coupons: int = 3
    group_limits: tuple[tuple[str, int], ...] = attrs.field(factory=tuple, converter=_group_limits)
    default_group_limit: int = 1
    id: str = "default"

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id or ":" in self.id:
            raise EngineError("id must be a non-empty string without ':'", path="id", value=self.id)
        for name in ("max_coupons", "default_group_limit"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise EngineError("must be a positive int", path=name, value=value)

    def limit(self, group: str) -> int:
        """How many coupons of ``group`` one payment may use."""
        for name, limit in self.group_limits:
            if name == group:
                return limit
        return self.default_group_limit


@attrs.frozen
class Refusal:
    """A wallet coupon that cannot be used for this payment, and why."""

    coupon_id: str
    reason: str


@attrs.frozen
class AppliedCoupon:
    """A coupon in the chosen combination and what it is worth.

    ``line_discounts`` splits ``discount`` over the payment's basket lines (empty without lines).
    """

    coupon_id: str
    template_id: str
    discount: Money
    cashback: Money
    other_value: Money
    line_discounts: tuple[Money, ...] = ()

    @property
    def saving(self) -> Money:
        """Discount + cashback + stated value of a multiplier or gift."""
        return self.discount + self.cashback + self.other_value


@attrs.frozen
class CheckoutPlan:
    """The chosen combination, in application order, with totals and refusals.

    ``nodes`` counts the combinations the search evaluated (a measure of its work).
    """

    amount: Money
    coupons: tuple[AppliedCoupon, ...]
    refused: tuple[Refusal, ...]
    nodes: int = 0

    @property
    def discount(self) -> Money:
        """Total discount off the amount."""
        return total((c.discount for c in self.coupons), self.amount.currency)

    @property
    def cashback(self) -> Money:
        """Total cashback credited after the payment."""
        return total((c.cashback for c in self.coupons), self.amount.currency)

    @property
    def saving(self) -> Money:
        """Everything the customer gains from the coupons."""
        return total((c.saving for c in self.coupons), self.amount.currency)

    @property
    def payable(self) -> Money:
        """What the customer pays."""
        return self.amount - self.discount

    @property
    def coupon_ids(self) -> tuple[str, ...]:
        """Ids of the chosen coupons, in application order."""
        return tuple(c.coupon_id for c in self.coupons)

    def without_search_stats(self) -> CheckoutPlan:
        """The same plan with ``nodes`` zeroed, to compare results of different searches."""
        return attrs.evolve(self, nodes=0)


# -- filtering ----------------------------------------------------------------------------

_KIND_FIXED, _KIND_PERCENT, _KIND_CASHBACK, _KIND_VALUE = 0, 1, 2, 3


class _Numbers:
    """A template's checkout arithmetic in integers (minor units), computed once per template."""

    __slots__ = (
        "alone",
        "cap",
        "currency",
        "group",
        "kind",
        "min_spend",
        "mode",
        "pden",
        "pnum",
        "priority",
        "remaining",
        "scoped",
        "template",
        "value",
    )

    def __init__(self, tpl: CouponTemplate) -> None:
        effect = tpl.effect
        self.template = tpl
        self.group = tpl.stacking.group
        self.priority = tpl.stacking.priority
        self.alone = tpl.stacking.alone
        self.remaining = tpl.threshold_basis is ThresholdBasis.REMAINING
        self.currency = effect.min_spend.currency
        self.min_spend = effect.min_spend.minor_units
        self.scoped = tpl.scope != _NO_SCOPE
        self.cap = -1
        self.pnum = self.pden = 1
        self.mode = Rounding.HALF_UP
        if isinstance(effect, ThresholdDiscount | InstantDiscount):
            self.kind, self.value = _KIND_FIXED, effect.off.minor_units
        elif isinstance(effect, PercentOff):
            num, den = effect.percent.as_integer_ratio()
            self.kind, self.value, self.pnum, self.pden = _KIND_PERCENT, 0, num, den * 100
            self.mode = effect.rounding
            self.cap = -1 if effect.cap is None else effect.cap.minor_units
        elif isinstance(effect, CouponCashback):
            self.kind, self.value = _KIND_CASHBACK, effect.amount.minor_units
        else:
            self.kind, self.value = _KIND_VALUE, effect.estimated_value.minor_units


_NO_SCOPE = CouponScope()
_CACHE: dict[int, _Numbers] = {}
_CACHE_SIZE = 4096


def _numbers(tpl: CouponTemplate) -> _Numbers:
    # Keyed by identity; the entry keeps the template alive, so an id is never reused under it.
    found = _CACHE.get(id(tpl))
    if found is not None and found.template is tpl:
        return found
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.clear()
    numbers = _CACHE[id(tpl)] = _Numbers(tpl)
    return numbers


def _refusal(coupon: Coupon, payment: Payment, numbers: _Numbers, amount: int) -> str | None:
    tpl = coupon.template
    if not coupon.valid_from <= payment.at:
        return "not valid yet"
    if not payment.at < coupon.valid_until:
        return "expired"
    if tpl.windows:
        reason = tpl.window_refusal(payment.at)
        if reason is not None:
            return reason
    if numbers.scoped:
        reason = tpl.scope.refusal(
            merchant=payment.merchant,
            mcc=payment.mcc,
            channel=payment.channel,
            card_product=payment.card_product,
            region=payment.region,
        )
        if reason is not None:
            return reason
    if numbers.currency != payment.amount.currency:
        return f"coupon is in {numbers.currency}"
    if amount < numbers.min_spend:
        return f"minimum spend {tpl.effect.min_spend.quantize()} not reached"
    if numbers.kind == _KIND_VALUE and numbers.value == 0:
        return "no value at checkout"
    return None


class _Cand:
    """A coupon prepared for the search: integers in minor units, no Money on the hot path."""

    __slots__ = (
        "alone",
        "cap",
        "coupon",
        "group",
        "kind",
        "limit",
        "min_spend",
        "mode",
        "pden",
        "pnum",
        "rank",
        "remaining",
        "tie",
        "ub",
        "value",
    )

    def __init__(self, coupon: Coupon, n: _Numbers, amount: int, group_limit: int) -> None:
        self.coupon = coupon
        self.group, self.alone, self.remaining, self.min_spend = n.group, n.alone, n.remaining, n.min_spend
        self.kind, self.value, self.cap, self.pnum, self.pden, self.mode = (
            n.kind,
            n.value,
            n.cap,
            n.pnum,
            n.pden,
            n.mode,
        )
        self.limit = group_limit
        self.tie = (coupon.valid_until, coupon.coupon_id)
        self.rank: tuple[Any, ...] = (n.priority, coupon.template.id, self.tie)
        kind = n.kind
        if kind == _KIND_PERCENT:
            ub = _round_div(amount * n.pnum, n.pden, n.mode)
            self.ub = ub if n.cap < 0 or ub < n.cap else n.cap
        elif kind == _KIND_VALUE:
            self.ub = n.value
        else:
            self.ub = n.value if n.value < amount else amount


def _round_div(n: int, d: int, mode: Rounding) -> int:
    """``n / d`` for ``n >= 0, d > 0`` rounded as :meth:`Money.quantize` would."""
    q, r = divmod(n, d)
    if r == 0 or mode in (Rounding.DOWN, Rounding.FLOOR):
        return q
    if mode in (Rounding.UP, Rounding.CEILING):
        return q + 1
    twice = 2 * r
    if twice > d:
        return q + 1
    if twice < d:
        return q
    if mode is Rounding.HALF_UP:
        return q + 1
    if mode is Rounding.HALF_DOWN:
        return q
    return q + (q & 1)  # HALF_EVEN


def _evaluate(chosen: Sequence[_Cand], amount: int) -> int:
    """Saving in minor units of ``chosen`` (in application order), or -1 if not allowed."""
    payable = amount
    saving = 0
    for c in chosen:
        if (payable if c.remaining else amount) < c.min_spend:
            return -1
        kind = c.kind
        if kind == _KIND_FIXED:
            v = c.value if c.value < payable else payable
            payable -= v
        elif kind == _KIND_PERCENT:
            v = _round_div(payable * c.pnum, c.pden, c.mode)
            if 0 <= c.cap < v:
                v = c.cap
            payable -= v
        elif kind == _KIND_CASHBACK:
            v = c.value if c.value < payable else payable
        else:
            v = c.value
        if v <= 0:
            return -1
        saving += v
    return saving


def _prepare(
    coupons: Iterable[Coupon], payment: Payment, rules: StackingRules, *, dedupe: bool
) -> tuple[list[_Cand], list[Refusal]]:
    amount = payment.amount.minor_units
    refused: list[Refusal] = []
    by_template: dict[str, list[_Cand]] = {}
    seen: set[str] = set()
    for coupon in coupons:
        if coupon.coupon_id in seen:
            raise EngineError("coupon appears twice in the wallet", path="wallet", value=coupon.coupon_id)
        seen.add(coupon.coupon_id)
        numbers = _numbers(coupon.template)
        reason = _refusal(coupon, payment, numbers, amount)
        if reason is not None:
            refused.append(Refusal(coupon.coupon_id, reason))
            continue
        cand = _Cand(coupon, numbers, amount, rules.limit(numbers.group))
        by_template.setdefault(coupon.template.id, []).append(cand)
    cands: list[_Cand] = []
    for copies in by_template.values():
        if dedupe:
            # Copies of one template are interchangeable; keep those that could be used together,
            # the ones expiring first (which is also the tie-break).
            copies.sort(key=lambda c: c.tie)
            tpl = copies[0].coupon.template
            keep = min(tpl.stacking.max_per_payment, copies[0].limit, rules.max_coupons)
            copies = copies[:keep]
        cands.extend(copies)
    refused.sort(key=lambda r: r.coupon_id)
    return cands, refused


# -- building the plan with Money arithmetic ----------------------------------------------


def _plan(chosen: Sequence[Coupon], payment: Payment, refused: Sequence[Refusal], nodes: int) -> CheckoutPlan:
    """Apply ``chosen`` (application order) with Money arithmetic; None-free by construction."""
    currency = payment.amount.currency
    zero = Money.zero(currency)
    payable = payment.amount
    line_left = [line.amount for line in payment.lines]
    applied: list[AppliedCoupon] = []
    for coupon in chosen:
        effect = coupon.template.effect
        discount = cashback = other = zero
        if isinstance(effect, ThresholdDiscount | InstantDiscount | PercentOff):
            discount = effect.discount_for(payable)
        elif isinstance(effect, CouponCashback):
            cashback = effect.cashback_for(payable)
        else:
            other = effect.estimated_value
        # Normalise to whole fen so plans print and compare the same however they were found.
        discount, cashback, other = discount.quantize(), cashback.quantize(), other.quantize()
        payable = payable - discount
        lines: tuple[Money, ...] = ()
        if line_left and discount.is_positive():
            weights = [m.minor_units for m in line_left]
            lines = tuple(discount.allocate(weights))
            line_left = [left - part for left, part in zip(line_left, lines, strict=True)]
        elif line_left:
            lines = tuple(zero for _ in line_left)
        applied.append(AppliedCoupon(coupon.coupon_id, coupon.template.id, discount, cashback, other, lines))
    return CheckoutPlan(payment.amount, tuple(applied), tuple(refused), nodes)


def _money_saving(chosen: Sequence[Coupon], payment: Payment) -> Money | None:
    """Reference evaluation with Money arithmetic (used by :func:`exhaustive_combination`)."""
    payable = payment.amount
    saving = Money.zero(payment.amount.currency)
    for coupon in chosen:
        tpl = coupon.template
        effect = tpl.effect
        base = payable if tpl.threshold_basis is ThresholdBasis.REMAINING else payment.amount
        if base < effect.min_spend:
            return None
        if isinstance(effect, ThresholdDiscount | InstantDiscount | PercentOff):
            value = effect.discount_for(payable)
            payable = payable - value
        elif isinstance(effect, CouponCashback):
            value = effect.cashback_for(payable)
        else:
            value = effect.estimated_value
        if not value.is_positive():
            return None
        saving = saving + value
    return saving


def _order_key(coupon: Coupon) -> tuple[Any, ...]:
    return (coupon.template.stacking.priority, coupon.template.id, coupon.valid_until, coupon.coupon_id)


def _allowed(chosen: Sequence[Coupon], rules: StackingRules) -> bool:
    if len(chosen) > rules.max_coupons:
        return False
    if len(chosen) > 1 and any(c.template.stacking.alone for c in chosen):
        return False
    groups: dict[str, int] = {}
    templates: dict[str, int] = {}
    for c in chosen:
        stacking = c.template.stacking
        groups[stacking.group] = groups.get(stacking.group, 0) + 1
        templates[c.template.id] = templates.get(c.template.id, 0) + 1
        if groups[stacking.group] > rules.limit(stacking.group):
            return False
        if templates[c.template.id] > stacking.max_per_payment:
            return False
    return True


# -- the searches -------------------------------------------------------------------------


def best_combination(
    wallet: Iterable[Coupon], payment: Payment, rules: StackingRules | None = None
) -> CheckoutPlan:
    """The allowed combination of ``wallet`` coupons that maximises the customer's saving.

    Exact (branch and bound; see the module docstring for the rules and the tie-break).
    ``wallet`` holds the customer's *usable* coupons (e.g. :meth:`Wallet.available`).
    """
    rules = StackingRules() if rules is None else rules
    cands, refused = _prepare(wallet, payment, rules, dedupe=True)
    amount = payment.amount.minor_units
    cands.sort(key=lambda c: (-c.ub, c.rank))
    n = len(cands)
    prefix = [0]
    for c in cands:
        prefix.append(prefix[-1] + c.ub)
    k = rules.max_coupons
    # best = [saving, count, tie tuple, chosen]; the empty combination saves nothing.
    best: list[Any] = [0, 0, (), []]
    nodes = 0
    groups: dict[str, int] = {}

    def search(start: int, chosen: list[_Cand], value: int) -> None:
        nonlocal nodes
        size = len(chosen)
        slots = k - size
        for j in range(start, n):
            bound = value + prefix[min(j + slots, n)] - prefix[j]
            if bound < best[0] or (bound == best[0] and size + 1 > best[1]):
                break  # bounds only shrink further down the list
            c = cands[j]
            if c.alone and size:
                continue
            used = groups.get(c.group, 0)
            if used >= c.limit:
                continue
            trial = chosen.copy()
            bisect.insort(trial, c, key=lambda x: x.rank)
            nodes += 1
            saving = _evaluate(trial, amount)
            if saving < 0:
                continue  # adding coupons never makes a refused one apply again
            if saving > best[0] or (saving == best[0] and size + 1 <= best[1]):
                tie = tuple(sorted(x.tie for x in trial))
                if saving > best[0] or size + 1 < best[1] or tie < best[2]:
                    best[:] = [saving, size + 1, tie, trial]
            if slots > 1 and not c.alone:
                groups[c.group] = used + 1
                search(j + 1, trial, saving)
                groups[c.group] = used

    search(0, [], 0)
    chosen = [c.coupon for c in best[3]]
    plan = _plan(chosen, payment, refused, nodes)
    if plan.saving.minor_units != best[0]:
        raise EngineError("checkout arithmetic disagrees with the search", path="saving", value=plan.saving)
    return plan


def exhaustive_combination(
    wallet: Iterable[Coupon], payment: Payment, rules: StackingRules | None = None
) -> CheckoutPlan:
    """Brute-force reference for :func:`best_combination`: every allowed subset, Money arithmetic.

    Same rules and tie-break; exponential in the number of applicable coupons, so only for
    tests and benchmark baselines on small wallets.
    """
    rules = StackingRules() if rules is None else rules
    cands, refused = _prepare(wallet, payment, rules, dedupe=False)
    coupons = sorted((c.coupon for c in cands), key=_order_key)
    best_key: tuple[Any, ...] = (Money.zero(payment.amount.currency).amount, 0, ())
    best: tuple[Coupon, ...] = ()
    nodes = 0
    for size in range(1, min(rules.max_coupons, len(coupons)) + 1):
        for combo in itertools.combinations(coupons, size):
            if not _allowed(combo, rules):
                continue
            nodes += 1
            saving = _money_saving(combo, payment)
            if saving is None:
                continue
            tie = tuple(sorted((c.valid_until, c.coupon_id) for c in combo))
            key: tuple[Any, ...] = (saving.amount, size, tie)
            if (key[0], -key[1]) > (best_key[0], -best_key[1]) or (
                key[0] == best_key[0] and key[1] == best_key[1] and tie < best_key[2]
            ):
                best_key, best = key, combo
    return _plan(best, payment, refused, nodes)
