"""Activation ladders (阶梯式激活) and group rewards (团队达标奖) in the engine.

A ladder counts qualifying spend and transactions per period (numbered from the card's
approval or activation) in ledger counters ``ladder:<id>:<customer>:<n>:spend|count``; each
transaction adds, each refund releases. A tier is granted on the transaction that completes
it (once per customer; once per person across cards when the ladder says so) and clawed back
per its policy when a refund undoes it. :func:`progress` reads the same counters.

>>> import pendulum
>>> from cardbenefits.engine.core import Engine
>>> from cardbenefits.engine.inputs import SimpleCustomer, SimpleTransaction
>>> from cardbenefits.ledger import MemoryLedger
>>> from cardbenefits.money import Money
>>> from cardbenefits.programmes import ActivationLadder, ItemReward, Tier
>>> ladder = ActivationLadder("welcome", tiers=(
...     Tier("month1", ItemReward(asset="membership:video", units=1), min_spend=Money.of(1000)),))
>>> engine = Engine(catalog_version="v1", ladders=[ladder])
>>> c = SimpleCustomer("c1", "p1", approved_at=pendulum.datetime(2026, 11, 5, tz="Asia/Shanghai"))
>>> ledger = MemoryLedger()
>>> t = SimpleTransaction("t1", "c1", Money.of(680), pendulum.datetime(2026, 11, 10, tz="Asia/Shanghai"))
>>> _ = ledger.apply(engine.on_transaction(c, t, ledger).batch)
>>> print(progress(engine, ladder, c, ledger, t.at).render("en"))
welcome/month1: spend ¥320.00 more by 2026-11-30
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import attrs

from cardbenefits.clock import to_local
from cardbenefits.engine.decision import Decision, Grant, Refusal
from cardbenefits.engine.explain import Earned, Reversed, ThresholdDistance
from cardbenefits.engine.inputs import CustomerLike, TransactionLike
from cardbenefits.errors import EngineError
from cardbenefits.ledger.entries import Charge, EntryBatch, EntryKind, LedgerEntry, is_money_asset
from cardbenefits.ledger.protocol import LedgerView
from cardbenefits.money import Money
from cardbenefits.periods import Period
from cardbenefits.programmes import ActivationLadder, Anchor, ClawbackPolicy, GroupReward, ItemReward, Tier

if TYPE_CHECKING:
    from cardbenefits.engine.core import Engine, _Pending

__all__ = ["LadderProgress", "TierProgress", "evaluate_group", "progress"]

_ZERO = Decimal(0)


def _anchor(ladder: ActivationLadder, customer: CustomerLike) -> datetime | None:
    return customer.approved_at if ladder.anchor is Anchor.APPROVAL else customer.activated_at


def _windows(
    engine: Engine, ladder: ActivationLadder, tier: Tier, customer: CustomerLike, anchor: datetime
) -> list[tuple[str, Period]]:
    if tier.within_days is not None:
        import pendulum

        start = pendulum.instance(anchor)
        return [(f"d{tier.within_days}", Period(start, start.add(days=tier.within_days)))]
    basis = engine.basis(ladder.basis, customer)
    assert basis is not None
    return [
        (str(n), basis.nth(anchor, n)) for n in range(tier.first_period, tier.first_period + tier.periods)
    ]


def _counters(ladder: ActivationLadder, customer: CustomerLike, label: str) -> tuple[str, str]:
    base = f"ladder:{ladder.id}:{customer.id}:{label}"
    return f"{base}:spend", f"{base}:count"


def _tier_counter(ladder: ActivationLadder, tier: Tier, customer: CustomerLike) -> str:
    return f"tier:{ladder.id}:{tier.id}:{customer.id}"


def _person_counter(ladder: ActivationLadder, tier: Tier, customer: CustomerLike) -> str:
    return f"person:{ladder.id}:{tier.id}:{customer.person_id or customer.id}"


def _labels(
    engine: Engine, ladder: ActivationLadder, customer: CustomerLike, anchor: datetime, instant: datetime
) -> list[str]:
    labels = []
    for tier in ladder.tiers:
        for label, period in _windows(engine, ladder, tier, customer, anchor):
            if period.contains(instant) and label not in labels:
                labels.append(label)
    return labels


def _reached(
    engine: Engine,
    ladder: ActivationLadder,
    tier: Tier,
    customer: CustomerLike,
    anchor: datetime,
    view: LedgerView,
    pending: _Pending,
) -> bool:
    for label, _period in _windows(engine, ladder, tier, customer, anchor):
        spend_c, count_c = _counters(ladder, customer, label)
        spend = view.usage(spend_c) + pending.deltas.get(spend_c, _ZERO)
        count = view.usage(count_c) + pending.deltas.get(count_c, _ZERO)
        if spend < tier.min_spend.amount or count < tier.min_count:
            return False
    return True


def _reward_entry(
    engine: Engine,
    kind: EntryKind,
    customer: CustomerLike,
    programme_id: str,
    reward: ItemReward,
    at: datetime,
    ref: str | None,
    charges: list[Charge],
    meta: dict[str, str],
) -> LedgerEntry:
    quantity = reward.amount.amount if reward.amount is not None else reward.units
    currency = reward.amount.currency if reward.amount is not None else "CNY"
    return engine._entry(
        kind,
        customer,
        programme_id,
        reward.asset,
        quantity,
        currency,
        at,
        ref=ref,
        reason=kind.value,
        charges=charges,
        meta=meta,
        benefit_id=reward.benefit_id,
    )


def ladder_on_transaction(
    engine: Engine,
    ladder: ActivationLadder,
    customer: CustomerLike,
    txn: TransactionLike,
    view: LedgerView,
    pending: _Pending,
) -> None:
    """Count ``txn`` for ``ladder`` and grant the tiers it completes."""
    anchor = _anchor(ladder, customer)
    q = ladder.qualifier
    if anchor is None:
        return
    instant = engine._instant(q.time_basis, txn)
    if q.check(kind=txn.kind, mcc=txn.mcc, channel=txn.channel, merchant=txn.merchant, amount=txn.amount):
        return
    labels = _labels(engine, ladder, customer, anchor, instant)
    if not labels:
        return
    if ladder.eligibility is not None and not ladder.eligibility.evaluate(
        engine.record_of(customer), instant
    ):
        return
    charges = []
    for label in labels:
        spend_c, count_c = _counters(ladder, customer, label)
        charges += [Charge(spend_c, txn.amount.amount, None), Charge(count_c, 1, None)]
    meta = {"amount": str(txn.amount.amount), "currency": txn.amount.currency, "labels": ",".join(labels)}
    pending.entries.append(
        engine._entry(
            EntryKind.ADJUST,
            customer,
            ladder.id,
            f"spend:{ladder.id}",
            _ZERO,
            txn.amount.currency,
            instant,
            ref=txn.id,
            reason="spend counted",
            charges=charges,
            meta=meta,
        )
    )
    pending.charge(charges)
    for tier in ladder.tiers:
        tier_c = _tier_counter(ladder, tier, customer)
        if view.usage(tier_c) + pending.deltas.get(tier_c, _ZERO) >= 1:
            continue
        if not _reached(engine, ladder, tier, customer, anchor, view, pending):
            continue
        if ladder.one_per_person and view.usage(_person_counter(ladder, tier, customer)) >= 1:
            pending.refusals.append(
                Refusal(
                    ladder.id, (Earned("one per person", _ZERO, _ZERO, tier.reward.asset),), tier_id=tier.id
                )
            )
            continue
        units = tier.reward.amount.amount if tier.reward.amount is not None else tier.reward.units
        cost = tier.reward.issuer_cost.amount
        granted, reasons, limit_charges = engine.fit_limits(
            ladder.id, ladder.limits, customer, instant, units, cost / units, view, pending, whole=True
        )
        if granted < units:
            pending.refusals.append(Refusal(ladder.id, tuple(reasons), tier_id=tier.id))
            continue
        tc = [Charge(tier_c, 1, 1), *(c for c, _m in limit_charges)]
        if ladder.one_per_person:
            tc.append(Charge(_person_counter(ladder, tier, customer), 1, 1))
        pending.entries.append(
            _reward_entry(
                engine,
                EntryKind.GRANT,
                customer,
                ladder.id,
                tier.reward,
                instant,
                txn.id,
                tc,
                {"tier": tier.id},
            )
        )
        pending.charge(tc)
        pending.grants.append(
            Grant(
                ladder.id,
                tier.reward.asset,
                units,
                EntryKind.GRANT,
                (Earned(f"{ladder.id}/{tier.id}", units, units, tier.reward.asset),),
                tier_id=tier.id,
            )
        )


def ladder_on_refund(
    engine: Engine,
    ladder: ActivationLadder,
    customer: CustomerLike,
    tid: str,
    entries: list[LedgerEntry],
    remaining: Money,
    refunded: Decimal,
    at: datetime,
    view: LedgerView,
    pending: _Pending,
) -> None:
    """Release a refund from the ladder's period counters and claw back tiers it undoes."""
    counted = [e for e in entries if e.kind is EntryKind.ADJUST and e.asset == f"spend:{ladder.id}"]
    if not counted:
        return
    anchor = _anchor(ladder, customer)
    if anchor is None:
        return
    below = ladder.qualifier.min_amount is not None and remaining < ladder.qualifier.min_amount
    have: dict[str, Decimal] = {}
    for e in entries:
        for c in e.charges:
            if c.counter.startswith("ladder:"):
                have[c.counter] = have.get(c.counter, _ZERO) + c.delta
    charges = []
    for counter, value in have.items():
        if counter.endswith(":spend"):
            release = min(refunded, value)
        else:
            release = value if (below or not remaining.is_positive()) else _ZERO
        if release > 0:
            charges.append(Charge(counter, -release, None))
    if charges:
        pending.entries.append(
            engine._entry(
                EntryKind.ADJUST,
                customer,
                ladder.id,
                f"spend:{ladder.id}",
                _ZERO,
                remaining.currency,
                at,
                ref=tid,
                reason="refund deducted",
                charges=charges,
                meta={},
            )
        )
        pending.charge(charges)
    for tier in ladder.tiers:
        tier_c = _tier_counter(ladder, tier, customer)
        if view.usage(tier_c) + pending.deltas.get(tier_c, _ZERO) < 1:
            continue
        if _reached(engine, ladder, tier, customer, anchor, view, pending):
            continue
        _clawback_tier(engine, ladder, tier, customer, tid, at, view, pending)


def _clawback_tier(
    engine: Engine,
    ladder: ActivationLadder,
    tier: Tier,
    customer: CustomerLike,
    tid: str,
    at: datetime,
    view: LedgerView,
    pending: _Pending,
) -> None:
    reward = tier.reward
    if reward.on_clawback is ClawbackPolicy.KEEP:
        return
    grant = next(
        (
            e
            for e in view.entries(customer_id=customer.id, programme_id=ladder.id)
            if e.kind is EntryKind.GRANT and e.meta.get("tier") == tier.id
        ),
        None,
    )
    if grant is None:
        return
    release = [Charge(c.counter, -c.delta, None) for c in grant.charges if c.delta > 0]
    units = reward.amount.amount if reward.amount is not None else reward.units
    if reward.on_clawback is ClawbackPolicy.REVERSE:
        entry = _reward_entry(
            engine,
            EntryKind.CLAWBACK,
            customer,
            ladder.id,
            reward,
            at,
            grant.entry_id,
            release,
            {"tier": tier.id, "refund_of": tid},
        )
        asset, qty = reward.asset, units
    else:
        assert reward.charge is not None
        entry = engine._entry(
            EntryKind.CLAWBACK,
            customer,
            ladder.id,
            "cashback",
            reward.charge.amount,
            reward.charge.currency,
            at,
            ref=grant.entry_id,
            reason="charged",
            charges=release,
            meta={"tier": tier.id, "refund_of": tid},
        )
        asset, qty = "cashback", reward.charge.amount
    pending.entries.append(entry)
    pending.charge(release)
    pending.grants.append(
        Grant(
            ladder.id, asset, qty, EntryKind.CLAWBACK, (Reversed(tid, units, _ZERO, asset),), tier_id=tier.id
        )
    )


@attrs.frozen
class TierProgress:
    """Where a customer stands on one tier."""

    ladder_id: str
    tier_id: str
    granted: bool
    reached: bool
    distance: ThresholdDistance | None
    deadline: str | None
    remaining_count: int = 0

    def render(self, locale: str = "zh_CN") -> str:
        """``welcome/month1: spend ¥320.00 more by 2026-11-30`` (or granted / expired)."""
        head = f"{self.ladder_id}/{self.tier_id}: "
        if self.granted:
            return head + ("已获得" if locale.startswith("zh") else "granted")
        if self.distance is None:
            return head + ("已过期" if locale.startswith("zh") else "expired")
        text = self.distance.render(locale)
        if self.remaining_count:
            text += (
                f" (+{self.remaining_count} txn)"
                if not locale.startswith("zh")
                else f"（还需 {self.remaining_count} 笔）"
            )
        return head + text


@attrs.frozen
class LadderProgress:
    """Progress on every tier of a ladder at an instant."""

    tiers: tuple[TierProgress, ...]

    def render(self, locale: str = "zh_CN") -> str:
        """One line per tier."""
        return "\n".join(t.render(locale) for t in self.tiers)


def progress(
    engine: Engine, ladder: ActivationLadder, customer: CustomerLike, view: LedgerView, at: datetime
) -> LadderProgress:
    """Which tiers are reached, what remains ("¥320 more by 30 Nov") and the deadline."""
    anchor = _anchor(ladder, customer)
    if anchor is None:
        raise EngineError(
            "the card has no anchor date yet", path=f"ladders.{ladder.id}.anchor", value=ladder.anchor.value
        )
    out = []
    for tier in ladder.tiers:
        granted = view.usage(_tier_counter(ladder, tier, customer)) >= 1
        windows = _windows(engine, ladder, tier, customer, anchor)
        distance, deadline, count_left = None, None, 0
        reached = True
        for label, period in windows:
            spend_c, count_c = _counters(ladder, customer, label)
            spend, count = view.usage(spend_c), view.usage(count_c)
            ok = spend >= tier.min_spend.amount and count >= tier.min_count
            reached = reached and ok
            if not ok and distance is None and period.end > at:
                end = to_local(period.end, engine.timezone).subtract(microseconds=1)
                deadline = end.date().isoformat()
                distance = ThresholdDistance(tier.min_spend, Money(spend, tier.min_spend.currency), deadline)
                count_left = max(tier.min_count - int(count), 0)
        if reached:
            distance = None
        out.append(
            TierProgress(
                ladder.id, tier.id, granted, reached, distance if not granted else None, deadline, count_left
            )
        )
    return LadderProgress(tuple(out))


def evaluate_group(
    engine: Engine,
    group: GroupReward,
    group_id: str,
    members: Iterable[CustomerLike],
    view: LedgerView,
    at: datetime,
) -> Decision:
    """Grant ``group``'s reward to ``group_id`` when enough members activated by ``at``.

    The reward goes to the pseudo-customer ``group:<group_id>``, once (counter limit 1).
    """
    roster = [m for m in members if m.employer_group == group_id]
    deadline = group.deadline
    activated = [
        m
        for m in roster
        if m.activated_at is not None
        and m.activated_at <= at
        and (deadline is None or m.activated_at < deadline)
    ]
    key = engine.key(f"group:{group.id}:{group_id}")
    if view.has_applied(key):
        return engine._replay(key, key, view)
    from cardbenefits.engine.core import _Pending
    from cardbenefits.engine.inputs import SimpleCustomer

    pending = _Pending()
    rate = Decimal(len(activated)) / Decimal(len(roster)) if roster else _ZERO
    if len(roster) < group.min_members or rate < group.rate:
        required = (group.rate * len(roster)).to_integral_value(rounding="ROUND_CEILING")
        reason = Earned(f"{len(activated)}/{len(roster)} activated, need {required}", rate, _ZERO, "rate")
        return Decision(
            key, engine.catalog_version, EntryBatch.of(key, ()), refusals=(Refusal(group.id, (reason,)),)
        )
    holder = SimpleCustomer(f"group:{group_id}")
    units = group.reward.amount.amount if group.reward.amount is not None else group.reward.units
    cost = group.reward.issuer_cost.amount
    granted, reasons, limit_charges = engine.fit_limits(
        group.id, group.limits, holder, at, units, cost / units, view, pending, whole=True
    )
    if granted < units:
        return Decision(
            key, engine.catalog_version, EntryBatch.of(key, ()), refusals=(Refusal(group.id, tuple(reasons)),)
        )
    charges = [Charge(f"group:{group.id}:{group_id}", 1, 1), *(c for c, _m in limit_charges)]
    entry = _reward_entry(
        engine,
        EntryKind.GRANT,
        holder,
        group.id,
        group.reward,
        at,
        None,
        charges,
        {"activated": str(len(activated)), "members": str(len(roster))},
    )
    _ = is_money_asset
    grant = Grant(
        group.id,
        group.reward.asset,
        units,
        EntryKind.GRANT,
        (
            Earned(
                f"{len(activated)}/{len(roster)} activated >= {group.rate}", units, units, group.reward.asset
            ),
        ),
    )
    return Decision(key, engine.catalog_version, EntryBatch.of(key, [entry]), grants=(grant,))
