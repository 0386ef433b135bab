"""What a simulation counts while it replays: per programme, per funnel campaign, per segment.

:class:`MetricsCollector` folds each applied batch (and each refusal) as it happens, so memory
grows with customers and days, never with events. :meth:`MetricsCollector.result` freezes the
figures into plain, JSON-ready :class:`ProgrammeMetrics` rows.

Issuer cost (what the bank pays) of an entry: the amount for money assets (cashback in yuan);
``units x unit_cost`` for points, miles and items (the engine records ``unit_cost`` in the
entry's meta; a ladder tier's cost comes from its reward's ``issuer_cost``). A coupon costs
what it saved the customer when redeemed at checkout (:meth:`MetricsCollector.on_coupon_value`),
and that cost is given back when a refund returns the coupon.

>>> import pendulum
>>> from decimal import Decimal
>>> from cardbenefits.ledger import EntryBatch, LedgerEntry
>>> from cardbenefits.money import Money
>>> at = pendulum.datetime(2026, 11, 3, 12, tz="Asia/Shanghai")
>>> grant = LedgerEntry(kind="grant", customer_id="c1", programme_id="cashback50", asset="cashback",
...                     amount=Money.of(5), at=at, catalog_version="v1", reason="earned")
>>> m = MetricsCollector()
>>> m.on_batch(EntryBatch.of("t1:cat", [grant]))
>>> m.on_refusal("cashback50", "cap:monthly")
>>> row = m.result().programmes["cashback50"]
>>> row.grants, row.customers_reached, row.issuer_cost, row.refusals
(1, 1, Decimal('5'), {'cap:monthly': 1})
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs

from cardbenefits.clock import DEFAULT_TIMEZONE
from cardbenefits.engine.batch import ProgrammeTotals
from cardbenefits.engine.calendar import LocalCalendar
from cardbenefits.ledger.entries import EntryBatch, EntryKind, LedgerEntry, is_money_asset

__all__ = ["MetricsCollector", "ProgrammeMetrics", "RunMetrics", "entry_cost"]

_ZERO = Decimal(0)

#: Issuer cost per unit of a ladder tier's reward: ``(programme id, tier id) -> yuan per unit``.
TierCosts = Mapping[tuple[str, str], Decimal]


def entry_cost(entry: LedgerEntry, tier_costs: TierCosts | None = None) -> Decimal:
    """The issuer cost of ``entry`` in yuan (unsigned; the caller applies the kind's sign).

    >>> import pendulum
    >>> from cardbenefits.ledger import LedgerEntry
    >>> e = LedgerEntry(kind="grant", customer_id="c1", programme_id="miles3x", asset="miles", units=300,
    ...                 at=pendulum.datetime(2026, 11, 3, tz="UTC"), catalog_version="v1", reason="earned",
    ...                 meta={"unit_cost": "0.01"})
    >>> entry_cost(e)
    Decimal('3.00')
    """
    if is_money_asset(entry.asset):
        return entry.amount.amount if entry.amount is not None else _ZERO
    unit = entry.meta.get("unit_cost")
    if unit is not None:
        return entry.units * Decimal(unit)
    tier = entry.meta.get("tier")
    if tier is not None and tier_costs is not None:
        return entry.units * tier_costs.get((entry.programme_id, tier), _ZERO)
    return _ZERO


@attrs.frozen
class ProgrammeMetrics:
    """The figures of one programme (or funnel/referral campaign) over a run.

    ``quantity`` is the net quantity per asset (grants minus clawbacks); ``issuer_cost`` is net
    of clawed-back cost; ``burn`` is the cumulative net cost at the end of each local day with
    activity; ``tiers`` counts ladder tiers granted (net of clawed-back tiers); ``reached_by``
    counts reached customers per lifecycle stage.
    """

    programme_id: str
    customers_reached: int
    grants: int
    clawbacks: int
    quantity: Mapping[str, Decimal]
    issuer_cost: Decimal
    clawback_cost: Decimal
    burn: tuple[tuple[str, Decimal], ...]
    tiers: Mapping[str, int]
    coupons_issued: int
    coupons_redeemed: int
    refusals: Mapping[str, int]
    reached_by: Mapping[str, int]
    coupons_returned: int = 0
    coupons_kept: Mapping[str, int] = attrs.field(factory=dict)
    coupon_value: Decimal = _ZERO

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (decimals as strings)."""
        return {
            "programme_id": self.programme_id,
            "customers_reached": self.customers_reached,
            "grants": self.grants,
            "clawbacks": self.clawbacks,
            "quantity": {k: str(v) for k, v in self.quantity.items()},
            "issuer_cost": str(self.issuer_cost),
            "clawback_cost": str(self.clawback_cost),
            "burn": [[day, str(v)] for day, v in self.burn],
            "tiers": dict(self.tiers),
            "coupons_issued": self.coupons_issued,
            "coupons_redeemed": self.coupons_redeemed,
            "coupons_returned": self.coupons_returned,
            "coupons_kept_on_refund": dict(self.coupons_kept),
            "coupon_value": str(self.coupon_value),
            "refusals": dict(self.refusals),
            "reached_by": dict(self.reached_by),
        }


@attrs.frozen
class RunMetrics:
    """Everything a run counted: per programme rows, refunds, event counts by type."""

    programmes: Mapping[str, ProgrammeMetrics]
    events: Mapping[str, int]
    refunds: int
    refunded_amount: Decimal
    days: tuple[str, ...]
    active_customers: int = 0
    customers_reached: int = 0
    """Customers with a grant or an issued coupon from any programme (group holders excluded)."""


@attrs.define
class _Acc:
    customers: set[str] = attrs.field(factory=set)
    grants: int = 0
    clawbacks: int = 0
    quantity: dict[str, Decimal] = attrs.field(factory=lambda: defaultdict(Decimal))
    cost: Decimal = _ZERO
    clawback_cost: Decimal = _ZERO
    cost_by_day: dict[str, Decimal] = attrs.field(factory=lambda: defaultdict(Decimal))
    tiers: Counter[str] = attrs.field(factory=Counter)
    issued: int = 0
    redeemed: int = 0
    returned: int = 0
    kept: Counter[str] = attrs.field(factory=Counter)
    coupon_value: Decimal = _ZERO
    refusals: Counter[str] = attrs.field(factory=Counter)


@attrs.define
class MetricsCollector:
    """Folds batches and refusals into per-programme figures (see the module docstring).

    ``stage_of`` maps a customer id to a lifecycle stage label for ``reached_by``.
    """

    timezone: str = DEFAULT_TIMEZONE
    tier_costs: TierCosts = attrs.field(factory=dict)
    stage_of: Callable[[str], str | None] = lambda _cid: None
    _acc: dict[str, _Acc] = attrs.field(factory=lambda: defaultdict(_Acc), init=False)
    _events: Counter[str] = attrs.field(factory=Counter, init=False)
    _refunds: int = attrs.field(default=0, init=False)
    _refunded: Decimal = attrs.field(default=_ZERO, init=False)
    _days: set[str] = attrs.field(factory=set, init=False)
    _active: set[str] = attrs.field(factory=set, init=False)
    # The engine's cached local calendar: the same day labels without pendulum per batch.
    _calendar: LocalCalendar = attrs.field(
        init=False, default=attrs.Factory(lambda self: LocalCalendar(self.timezone), takes_self=True)
    )

    # The entries of one batch share their instant object: remember the last label, keyed by
    # identity (no hashing of the datetime), and the parsed figures of asset names and unit costs.
    _last_at: datetime | None = attrs.field(default=None, init=False)
    _last_day: str = attrs.field(default="", init=False)
    _money_assets: dict[str, bool] = attrs.field(factory=dict, init=False)
    _unit_costs: dict[str, Decimal] = attrs.field(factory=dict, init=False)

    def _day(self, at: datetime) -> str:
        if at is self._last_at:
            return self._last_day
        # The calendar caches whole local-day hours for fixed-offset and UTC instants.
        label = self._calendar.day(at).label
        self._last_at, self._last_day = at, label
        return label

    def _cost(self, entry: LedgerEntry) -> Decimal:
        """:func:`entry_cost` with the asset kind and ``unit_cost`` parse cached per text."""
        asset = entry.asset
        money = self._money_assets.get(asset)
        if money is None:
            money = is_money_asset(asset)
            if len(self._money_assets) < 100_000:
                self._money_assets[asset] = money
        if money:
            return entry.amount.amount if entry.amount is not None else _ZERO
        meta = entry.meta
        unit = meta.get("unit_cost")
        if unit is not None:
            per = self._unit_costs.get(unit)
            if per is None:
                per = Decimal(unit)
                if len(self._unit_costs) < 100_000:
                    self._unit_costs[unit] = per
            return entry.units * per
        tier = meta.get("tier")
        if tier is not None:
            return entry.units * self.tier_costs.get((entry.programme_id, tier), _ZERO)
        return _ZERO

    def on_event(self, event_type: str, customer_id: str | None = None) -> None:
        """Count one replayed event of ``event_type`` (and its customer as active)."""
        self._events[event_type] += 1
        if customer_id is not None:
            self._active.add(customer_id)

    def on_events(self, event_type: str, count: int, customer_ids: Iterable[str]) -> None:
        """Count ``count`` replayed events of ``event_type`` by ``customer_ids`` (a batch of rows)."""
        self._events[event_type] += count
        self._active.update(customer_ids)

    def on_refunds(self, count: int, amount: Decimal) -> None:
        """Count ``count`` recorded refunds of ``amount`` in all (decided elsewhere)."""
        self._refunds += count
        self._refunded += amount

    def add_totals(self, programme_id: str, totals: ProgrammeTotals) -> None:
        """Fold what a :class:`~cardbenefits.engine.batch.BatchEvaluator` counted for a programme."""
        acc = self._acc[programme_id]
        acc.grants += totals.grants
        acc.clawbacks += totals.clawbacks
        acc.customers |= totals.customers
        for asset, quantity in totals.quantity.items():
            acc.quantity[asset] += quantity
        acc.cost += totals.cost
        acc.clawback_cost += totals.clawback_cost
        for day, cost in totals.cost_by_day.items():
            acc.cost_by_day[day] += cost
            self._days.add(day)
        acc.refusals.update(totals.refusals)
        acc.tiers.update(totals.tiers)

    def on_batch(self, batch: EntryBatch) -> None:
        """Fold the entries of one applied batch."""
        on_entry = self.on_entry
        for entry in batch.entries:
            on_entry(entry)

    def on_entry(self, entry: LedgerEntry) -> None:
        """Fold one applied entry."""
        kind = entry.kind
        if kind is EntryKind.ADJUST:
            if entry.programme_id == "refund":
                self._refunds += 1
                self._refunded += Decimal(entry.meta.get("refunded", entry.meta.get("amount", "0")))
            return
        acc = self._acc[entry.programme_id]
        if kind is EntryKind.GRANT:
            quantity = entry.quantity
            if quantity <= 0 or entry.asset.startswith("funnel:"):
                return
            cost = self._cost(entry)
            acc.grants += 1
            acc.customers.add(entry.customer_id)
            acc.quantity[entry.asset] += quantity
            acc.cost += cost
            day = self._day(entry.at)
            self._days.add(day)
            acc.cost_by_day[day] += cost
            tier = entry.meta.get("tier")
            if tier is not None:
                acc.tiers[tier] += 1
        elif kind is EntryKind.CLAWBACK:
            quantity = entry.quantity
            if quantity <= 0:
                return
            cost = self._cost(entry)
            acc.clawbacks += 1
            acc.quantity[entry.asset] -= quantity
            acc.cost -= cost
            acc.clawback_cost += cost
            day = self._day(entry.at)
            self._days.add(day)
            acc.cost_by_day[day] -= cost
            tier = entry.meta.get("tier")
            if tier is not None:
                acc.tiers[tier] -= 1
        elif kind is EntryKind.ISSUE:
            acc.issued += 1
            acc.customers.add(entry.customer_id)
        elif kind is EntryKind.REDEEM:
            acc.redeemed += 1
        elif kind is EntryKind.RETURN:
            acc.returned += 1

    def on_coupon_value(self, programme_id: str, at: datetime, value: Decimal) -> None:
        """Count what a redeemed coupon saved the customer as issuer cost (negative: returned)."""
        acc = self._acc[programme_id]
        acc.cost += value
        acc.coupon_value += value
        day = self._day(at)
        self._days.add(day)
        acc.cost_by_day[day] += value

    def on_coupon_kept(self, programme_id: str, policy: str) -> None:
        """Count a coupon a refund did not return (its template's ``on_refund`` policy)."""
        self._acc[programme_id].kept[policy] += 1

    def on_refusal(self, programme_id: str, reason: str) -> None:
        """Count one refusal of ``programme_id`` for ``reason`` (a stable code)."""
        self._acc[programme_id].refusals[reason] += 1

    def result(self, programme_ids: tuple[str, ...] = ()) -> RunMetrics:
        """The frozen figures; ``programme_ids`` get a row even when nothing happened to them."""
        for pid in programme_ids:
            _ = self._acc[pid]
        days = tuple(sorted(self._days))
        rows: dict[str, ProgrammeMetrics] = {}
        for pid in sorted(self._acc):
            acc = self._acc[pid]
            running = _ZERO
            burn: list[tuple[str, Decimal]] = []
            for day in sorted(acc.cost_by_day):
                running += acc.cost_by_day[day]
                burn.append((day, running))
            reached: Counter[str] = Counter()
            for cid in acc.customers:
                reached[self.stage_of(cid) or "unknown"] += 1
            rows[pid] = ProgrammeMetrics(
                programme_id=pid,
                customers_reached=len(acc.customers),
                grants=acc.grants,
                clawbacks=acc.clawbacks,
                quantity=dict(sorted(acc.quantity.items())),
                issuer_cost=acc.cost,
                clawback_cost=acc.clawback_cost,
                burn=tuple(burn),
                tiers=dict(sorted(acc.tiers.items())),
                coupons_issued=acc.issued,
                coupons_redeemed=acc.redeemed,
                refusals=dict(sorted(acc.refusals.items())),
                reached_by=dict(sorted(reached.items())),
                coupons_returned=acc.returned,
                coupons_kept=dict(sorted(acc.kept.items())),
                coupon_value=acc.coupon_value,
            )
        reached_any: set[str] = set()
        for acc in self._acc.values():
            reached_any |= acc.customers
        reached_total = sum(1 for cid in reached_any if not cid.startswith("group:"))
        return RunMetrics(rows, dict(sorted(self._events.items())), self._refunds, self._refunded, days,
                          len(self._active), reached_total)  # fmt: skip
