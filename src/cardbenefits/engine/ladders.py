"""Activation ladders (阶梯式激活) and group rewards (团队达标奖) in the engine.

A ladder counts qualifying spend and transactions per period of a card (numbered from the
card's approval or activation, read from the customer's :class:`~cardbenefits.facts.CardHolding`)
in ledger counters ``ladder:<id>:<customer>:<card>:<n>:spend|count``; each purchase adds, each
refund releases. A tier is granted on the transaction that completes it (once per card; once
per person across cards when the ladder says so) and clawed back per its policy when a refund
undoes it. :func:`progress` reads the same counters. A customer failing the ladder's
eligibility rule gets a refusal with the rule trace; a person who already received a tier on
another card gets an :class:`~cardbenefits.engine.explain.OnePerPerson` refusal.

>>> from cardbenefits.engine.core import Engine
>>> from cardbenefits.facts import CardHolding, Customer, Transaction
>>> from cardbenefits.ledger import MemoryLedger
>>> from cardbenefits.money import Money
>>> from cardbenefits.programmes import ActivationLadder, ItemReward, Tier
>>> ladder = ActivationLadder("welcome", tiers=(
...     Tier("month1", ItemReward(asset="membership:video", units=1), min_spend=Money.of(1000)),))
>>> engine = Engine(catalog_version="v1", ladders=[ladder])
>>> c = Customer("c1", "p1", cards=(CardHolding("k1", "std", "gold", "2026-11-05T09:00+08:00"),))
>>> ledger = MemoryLedger()
>>> t = Transaction("t1", "c1", "k1", Money.of(680), "m1", "5411", "pos", "purchase",
...                 "2026-11-10T12:00+08:00")
>>> _ = ledger.apply(engine.decide(c, t, ledger).batch)
>>> print(progress(engine, ladder, c, c.cards[0], ledger, t.at).render("en"))
welcome/month1: spend ¥320.00 more by 2026-11-30
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import attrs
import pendulum

from cardbenefits.clock import to_local
from cardbenefits.engine import build
from cardbenefits.engine.decision import Decision, Grant, Refusal
from cardbenefits.engine.explain import (
    Earned,
    GroupRate,
    Ineligible,
    OnePerPerson,
    Reversed,
    ThresholdDistance,
)
from cardbenefits.errors import EngineError
from cardbenefits.facts import CardHolding, Customer, Transaction
from cardbenefits.ledger.entries import Charge, EntryKind, LedgerEntry
from cardbenefits.ledger.protocol import LedgerView
from cardbenefits.money import Money
from cardbenefits.programmes import (
    ActivationLadder,
    Anchor,
    ClawbackPolicy,
    GroupReward,
    ItemReward,
    PeriodUnit,
    Tier,
    TimeBasis,
)

if TYPE_CHECKING:
    from cardbenefits.engine.calendar import LocalDay
    from cardbenefits.engine.core import Engine, _Event

__all__ = [
    "LadderPlan",
    "LadderProgress",
    "TierProgress",
    "clawback_of",
    "evaluate_group",
    "progress",
    "tier_unit_cost",
]

_ZERO = Decimal(0)
_ONE = Decimal(1)


def _anchor(ladder: ActivationLadder, card: CardHolding) -> datetime | None:
    return card.approved_at if ladder.anchor is Anchor.APPROVAL else card.activated_at


def tier_unit_cost(tier: Tier) -> Decimal | None:
    """The issuer cost of one unit of ``tier``'s reward (how reports price its grants and
    clawbacks of items); None for a reward of no units."""
    reward = tier.reward
    units = reward.amount.amount if reward.amount is not None else reward.units
    return reward.issuer_cost.amount / units if units else None


def clawback_of(reward: ItemReward) -> tuple[str, Decimal, str]:
    """``(asset, quantity, currency)`` a tier clawback takes back: the reward itself
    (``reverse``) or its ``charge`` in cashback (``charge``)."""
    if reward.on_clawback is ClawbackPolicy.REVERSE:
        units, currency = _quantity(reward)
        return reward.asset, units, currency
    assert reward.charge is not None
    return "cashback", reward.charge.amount, reward.charge.currency


def _tier_labels(tier: Tier) -> tuple[str, ...]:
    if tier.within_days is not None:
        return (f"d{tier.within_days}",)
    return tuple(str(n) for n in range(tier.first_period, tier.first_period + tier.periods))


def _quantity(reward: ItemReward) -> tuple[Decimal, str]:
    if reward.amount is not None:
        return reward.amount.amount, reward.amount.currency
    return reward.units, "CNY"


class LadderPlan:
    """A ladder compiled for the engine: counter names, covered periods and windows."""

    def __init__(self, engine: Engine, ladder: ActivationLadder) -> None:
        self.engine = engine
        self.ladder = ladder
        self.id = ladder.id
        q = ladder.qualifier
        self.posting = q.time_basis is TimeBasis.POSTING
        self.covered = frozenset(
            n
            for t in ladder.tiers
            if t.within_days is None
            for n in range(t.first_period, t.first_period + t.periods)
        )
        self.windows = tuple(sorted({t.within_days for t in ladder.tiers if t.within_days is not None}))
        self.labels = {t.id: _tier_labels(t) for t in ladder.tiers}
        self._window_ends: dict[tuple[datetime, int], datetime] = {}
        # id(card) -> (card, anchor, local day of the anchor); the card is kept so ids stay unique
        self._anchor_days: dict[int, tuple[CardHolding, datetime, LocalDay]] = {}

    # -- counters ------------------------------------------------------------------------------
    def counters(self, customer_id: str, card_id: str, label: str) -> tuple[str, str]:
        """The spend and count counters of one period of one card."""
        base = f"ladder:{self.id}:{customer_id}:{card_id}:{label}"
        return f"{base}:spend", f"{base}:count"

    def tier_counter(self, tier: Tier, customer_id: str, card_id: str) -> str:
        """1 while ``tier`` is granted on the card."""
        return f"tier:{self.id}:{tier.id}:{customer_id}:{card_id}"

    def person_counter(self, tier: Tier, person_id: str) -> str:
        """1 while ``tier`` is granted to the person on any card."""
        return f"person:{self.id}:{tier.id}:{person_id}"

    def period_index(
        self, card: CardHolding, anchor: datetime, instant: datetime, day: LocalDay | None = None
    ) -> int:
        """How many ladder periods ``instant`` lies after the anchor's period.

        ``day`` is the local day of ``instant`` when the caller already has it.
        """
        cal = self.engine.calendar
        if day is None:
            day = cal.day(instant)
        # a card's anchor never changes: its local day is looked up once per card
        cached = self._anchor_days.get(id(card))
        if cached is not None and cached[0] is card and cached[1] is anchor:
            start = cached[2]
        else:
            start = cal.day(anchor)
            if len(self._anchor_days) < 1_000_000:
                self._anchor_days[id(card)] = (card, anchor, start)
        if self.ladder.basis is PeriodUnit.MONTH:
            return day.month_index - start.month_index
        billing = self.engine._billing_day(card)
        return day.cycle(billing)[0] - start.cycle(billing)[0]

    def window_end(self, anchor: datetime, days: int) -> datetime:
        """End (exclusive) of the ``days``-day window from ``anchor`` (calendar days, local time)."""
        key = (anchor, days)
        end = self._window_ends.get(key)
        if end is None:
            local = to_local(anchor, self.engine.timezone)
            end = self._window_ends[key] = local.add(days=days)
        return end

    def _labels(
        self, card: CardHolding, anchor: datetime, instant: datetime, day: LocalDay | None = None
    ) -> list[str]:
        labels = []
        if self.covered:
            n = self.period_index(card, anchor, instant, day)
            if n in self.covered:
                labels.append(str(n))
        for days in self.windows:
            if anchor <= instant < self.window_end(anchor, days):
                labels.append(f"d{days}")
        return labels

    def reached(self, tier: Tier, customer_id: str, card_id: str, used: Callable[[str], Decimal]) -> bool:
        """Whether every period of ``tier`` has its spend and count on the card (``used`` reads a counter)."""
        return self.shortfall(tier, customer_id, card_id, used) is None

    def shortfall(
        self, tier: Tier, customer_id: str, card_id: str, used: Callable[[str], Decimal]
    ) -> str | None:
        """The first period label of ``tier`` short of spend or count on the card (None: reached).

        A short period stays short until a transaction counts in it: refunds only lower counters.
        """
        for label in self.labels[tier.id]:
            spend_c, count_c = self.counters(customer_id, card_id, label)
            if used(spend_c) < tier.min_spend.amount or used(count_c) < tier.min_count:
                return label
        return None

    def refund_releases(
        self, have: Mapping[str, Decimal], refunded: Decimal, remaining: Money
    ) -> list[tuple[str, Decimal]]:
        """The period-counter releases of a refund: spend gives back the refunded amount (up to
        what the purchase counted), count the purchase once the remainder no longer qualifies."""
        q = self.ladder.qualifier
        below = q.min_amount is not None and remaining < q.min_amount
        releases = []
        for counter, value in have.items():
            if counter.endswith(":spend"):
                release = min(refunded, value)
            else:
                release = value if (below or not remaining.is_positive()) else _ZERO
            if release > 0:
                releases.append((counter, -release))
        return releases

    # -- events --------------------------------------------------------------------------------
    def on_transaction(self, txn: Transaction, ev: _Event) -> None:
        """Count ``txn`` for the ladder and grant the tiers it completes."""
        card = ev.card
        if card is None:
            return
        anchor = _anchor(self.ladder, card)
        if anchor is None:
            return
        q = self.ladder.qualifier
        if q.check(
            kind=txn.kind, mcc=txn.mcc, channel=txn.channel, merchant=txn.merchant_id, amount=txn.amount
        ):
            return
        instant = txn.posted_at if self.posting else txn.transacted_at
        labels = self._labels(card, anchor, instant, ev.local_day(self.posting, instant))
        if not labels:
            return
        ladder = self.ladder
        if ladder.eligibility is not None:
            record = ev.get_record()
            if not ladder.eligibility.evaluate(record, instant):
                ev.refusals.append(Refusal(ladder.id, (Ineligible.of(ladder.eligibility, record, instant),)))
                return
        customer = ev.customer
        amount = txn.amount
        charges: list[Charge] = []
        for label in labels:
            spend_c, count_c = self.counters(customer.id, card.card_id, label)
            charges += [build.charge(spend_c, amount.amount, None), build.charge(count_c, _ONE, None)]
        meta = {
            "amount": str(amount.amount),
            "currency": amount.currency,
            "labels": ",".join(labels),
            "card": card.card_id,
        }
        ev.add(
            EntryKind.ADJUST,
            ladder.id,
            f"spend:{ladder.id}",
            _ZERO,
            amount.currency,
            instant,
            txn.id,
            "spend counted",
            tuple(charges),
            build.frozen_map(meta),
        )
        ev.charge(charges)
        for tier in ladder.tiers:
            tier_c = self.tier_counter(tier, customer.id, card.card_id)
            if ev.used(tier_c) >= 1 or not self.reached(tier, customer.id, card.card_id, ev.used):
                continue
            person_c = self.person_counter(tier, customer.person_id)
            if ladder.one_per_person and ev.used(person_c) >= 1:
                reason = OnePerPerson(
                    customer.person_id, tier.reward.asset, self._granted_on(tier, customer, ev)
                )
                ev.refusals.append(Refusal(ladder.id, (reason,), tier_id=tier.id))
                continue
            units, currency = _quantity(tier.reward)
            cost = tier.reward.issuer_cost.amount
            granted, reasons, limit_charges = self.engine.fit_limits(
                ladder.id, ladder.limits, customer, card, instant, units, cost / units, ev, whole=True
            )
            if granted < units:
                ev.refusals.append(Refusal(ladder.id, tuple(reasons), tier_id=tier.id))
                continue
            tc = [build.charge(tier_c, _ONE, _ONE), *limit_charges]
            if ladder.one_per_person:
                tc.append(build.charge(person_c, _ONE, _ONE))
            ev.add(
                EntryKind.GRANT,
                ladder.id,
                tier.reward.asset,
                units,
                currency,
                instant,
                txn.id,
                "tier reached",
                tuple(tc),
                build.frozen_map({"tier": tier.id, "card": card.card_id}),
                tier.reward.benefit_id,
            )
            ev.charge(tc)
            earned = Earned(f"{ladder.id}/{tier.id}", units, units, tier.reward.asset)
            ev.grants.append(Grant(ladder.id, tier.reward.asset, units, EntryKind.GRANT, (earned,), tier.id))

    def _granted_on(self, tier: Tier, customer: Customer, ev: _Event) -> str | None:
        for e in reversed(ev.view.entries(programme_id=self.id)):
            if (
                e.kind is EntryKind.GRANT
                and e.person_id == customer.person_id
                and e.meta.get("tier") == tier.id
            ):
                return f"{e.customer_id}/{e.meta.get('card', '?')}"
        return None

    def on_refund(
        self,
        tid: str,
        entries: list[LedgerEntry],
        remaining: Money,
        refunded: Decimal,
        at: datetime,
        ev: _Event,
    ) -> None:
        """Release a refund from the ladder's period counters and claw back tiers it undoes."""
        counted = [e for e in entries if e.kind is EntryKind.ADJUST and "card" in e.meta]
        if not counted:
            return
        card_id = counted[0].meta["card"]
        have: dict[str, Decimal] = {}
        for e in entries:
            for c in e.charges:
                if c.counter.startswith("ladder:"):
                    have[c.counter] = have.get(c.counter, _ZERO) + c.delta
        releases = self.refund_releases(have, refunded, remaining)
        charges = [build.charge(counter, delta, None) for counter, delta in releases]
        if charges:
            ev.add(
                EntryKind.ADJUST,
                self.id,
                f"spend:{self.id}",
                _ZERO,
                remaining.currency,
                at,
                tid,
                "refund deducted",
                tuple(charges),
                None,
            )
            ev.charge(charges)
        customer = ev.customer
        for tier in self.ladder.tiers:
            if ev.used(self.tier_counter(tier, customer.id, card_id)) < 1:
                continue
            if self.reached(tier, customer.id, card_id, ev.used):
                continue
            self._clawback_tier(tier, card_id, tid, at, ev)

    def _clawback_tier(self, tier: Tier, card_id: str, tid: str, at: datetime, ev: _Event) -> None:
        reward = tier.reward
        if reward.on_clawback is ClawbackPolicy.KEEP:
            return
        grant = None
        for e in ev.view.entries(customer_id=ev.customer.id, programme_id=self.id):
            if e.kind is EntryKind.GRANT and e.meta.get("tier") == tier.id and e.meta.get("card") == card_id:
                grant = e  # the latest grant (a tier can be re-earned after a clawback)
        if grant is None:
            return
        release = tuple(build.charge(c.counter, -c.delta, None) for c in grant.charges if c.delta > 0)
        units = _quantity(reward)[0]
        meta = build.frozen_map({"tier": tier.id, "card": card_id, "refund_of": tid})
        asset, qty, currency = clawback_of(reward)
        ev.add(
            EntryKind.CLAWBACK,
            self.id,
            asset,
            qty,
            currency,
            at,
            grant.entry_id,
            "tier undone",
            release,
            meta,
            reward.benefit_id,
        )
        ev.charge(release)
        reason = Reversed(tid, units, _ZERO, reward.asset)
        ev.grants.append(Grant(self.id, asset, qty, EntryKind.CLAWBACK, (reason,), tier_id=tier.id))


# -- progress ----------------------------------------------------------------------------------
@attrs.frozen
class TierProgress:
    """Where a customer's card stands on one tier."""

    ladder_id: str
    tier_id: str
    granted: bool
    reached: bool
    distance: ThresholdDistance | None
    deadline: str | None
    remaining_count: int = 0
    expired: bool = False
    """A period the tier needs has ended without qualifying: it can no longer be reached."""

    def render(self, locale: str = "zh_CN") -> str:
        """``welcome/month1: spend ¥320.00 more by 2026-11-30`` (or granted / reached / expired)."""
        head = f"{self.ladder_id}/{self.tier_id}: "
        zh = locale.startswith("zh")
        if self.granted:
            return head + ("已获得" if zh else "granted")
        if self.reached:
            return head + ("已达标" if zh else "reached")
        if self.expired or self.distance is None:
            return head + ("已过期" if zh else "expired")
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
    engine: Engine,
    ladder: ActivationLadder,
    customer: Customer,
    card: CardHolding,
    view: LedgerView,
    at: datetime,
) -> LadderProgress:
    """Which tiers ``card`` reached, what remains ("¥320 more by 30 Nov") and the deadline."""
    anchor = _anchor(ladder, card)
    if anchor is None:
        raise EngineError(
            "the card has no anchor date yet", path=f"ladders.{ladder.id}.anchor", value=ladder.anchor.value
        )
    plan = LadderPlan(engine, ladder)
    out = []
    for tier in ladder.tiers:
        granted = view.usage(plan.tier_counter(tier, customer.id, card.card_id)) >= 1
        if tier.within_days is not None:
            windows = [(f"d{tier.within_days}", plan.window_end(anchor, tier.within_days))]
        else:
            basis = engine.basis(ladder.basis, card)
            assert basis is not None
            windows = [
                (str(n), basis.nth(anchor, n).end)
                for n in range(tier.first_period, tier.first_period + tier.periods)
            ]
        distance, deadline, count_left = None, None, 0
        reached, expired = True, False
        for label, end in windows:
            spend_c, count_c = plan.counters(customer.id, card.card_id, label)
            spend, count = view.usage(spend_c), view.usage(count_c)
            ok = spend >= tier.min_spend.amount and count >= tier.min_count
            reached = reached and ok
            if not ok and end <= at:
                # A period of the tier ended unqualified: consecutive periods are broken.
                expired = True
            if not ok and distance is None and end > at:
                last = to_local(end, engine.timezone).subtract(microseconds=1)
                deadline = last.date().isoformat()
                distance = ThresholdDistance(tier.min_spend, Money(spend, tier.min_spend.currency), deadline)
                count_left = max(tier.min_count - int(count), 0)
        if reached or expired:
            distance, deadline, count_left = None, None, 0
        out.append(
            TierProgress(
                ladder.id,
                tier.id,
                granted,
                reached,
                distance if not granted else None,
                deadline,
                count_left,
                expired and not granted,
            )
        )
    return LadderProgress(tuple(out))


# -- group rewards -----------------------------------------------------------------------------
def evaluate_group(
    engine: Engine,
    group: GroupReward,
    group_id: str,
    members: Iterable[Customer],
    view: LedgerView,
    at: datetime,
) -> Decision:
    """Grant, keep or claw back ``group``'s reward for employer group ``group_id`` at ``at``.

    Members are the customers whose ``employer_group`` is ``group_id``; one counts as activated
    when one of their cards was activated at or before ``at`` (and before the deadline). The
    reward goes to the pseudo-customer ``group:<group_id>`` once (counter limit 1).

    The reward is provisional until the deadline: evaluated again before it (members join, or
    leave the roster), a rate below the threshold claws the reward back per its
    ``on_clawback`` policy, and reaching it again grants it again. At or after the deadline the
    grant is final and nothing changes. Without a deadline a grant is final at once. Each
    evaluation is its own decision (idempotency key ``group:<id>:<group>:<instant>``).
    """
    roster = [m for m in members if m.employer_group == group_id]
    deadline = group.deadline
    counted_until = deadline if deadline is not None and at > deadline else at

    def activated(m: Customer) -> bool:
        for card in m.cards:
            act = card.activated_at
            if act is not None and act <= counted_until and (deadline is None or act < deadline):
                return True
        return False

    count = sum(1 for m in roster if activated(m))
    required = max(math.ceil(group.rate * len(roster)), group.min_members)
    rate = GroupRate(count, len(roster), required, group.rate)
    instant = pendulum.instance(at) if not isinstance(at, pendulum.DateTime) else at
    key = engine.key(f"group:{group.id}:{group_id}:{instant.in_timezone('UTC').isoformat()}")
    if view.has_applied(key):
        return engine._replay(key, key, view)
    from cardbenefits.engine.core import _Event

    holder = Customer(f"group:{group_id}", f"group:{group_id}")
    ev = _Event(engine, holder, None, view, key)
    flag = f"group:{group.id}:{group_id}"
    granted_now = ev.used(flag) >= 1
    final = deadline is None or at >= deadline
    units, currency = _quantity(group.reward)
    if rate.reached and not granted_now:
        cost = group.reward.issuer_cost.amount
        got, reasons, limit_charges = engine.fit_limits(
            group.id, group.limits, holder, None, at, units, cost / units, ev, whole=True
        )
        if got < units:
            ev.refusals.append(Refusal(group.id, (rate, *reasons)))
        else:
            charges = (build.charge(flag, _ONE, _ONE), *limit_charges)
            meta = build.frozen_map({"activated": str(count), "members": str(len(roster))})
            ev.add(
                EntryKind.GRANT,
                group.id,
                group.reward.asset,
                units,
                currency,
                at,
                None,
                "group reached",
                charges,
                meta,
                group.reward.benefit_id,
                holder.id,
            )
            ev.charge(charges)
            ev.grants.append(Grant(group.id, group.reward.asset, units, EntryKind.GRANT, (rate,)))
    elif not rate.reached and granted_now and not final:
        _group_clawback(engine, group, holder, rate, at, ev)
    elif not rate.reached:
        ev.refusals.append(Refusal(group.id, (rate,)))
    return Decision(
        key, engine.catalog_version, build.batch(key, tuple(ev.entries)), tuple(ev.grants), tuple(ev.refusals)
    )


def _group_clawback(
    engine: Engine, group: GroupReward, holder: Customer, rate: GroupRate, at: datetime, ev: _Event
) -> None:
    reward = group.reward
    grant = None
    for e in ev.view.entries(customer_id=holder.id, programme_id=group.id):
        if e.kind is EntryKind.GRANT:
            grant = e
    if grant is None:
        return
    if reward.on_clawback is ClawbackPolicy.KEEP:
        ev.refusals.append(Refusal(group.id, (rate,)))
        return
    release = tuple(build.charge(c.counter, -c.delta, None) for c in grant.charges if c.delta > 0)
    units, currency = _quantity(reward)
    if reward.on_clawback is ClawbackPolicy.REVERSE:
        asset, qty = reward.asset, units
    else:
        assert reward.charge is not None
        asset, qty, currency = "cashback", reward.charge.amount, reward.charge.currency
    ev.add(
        EntryKind.CLAWBACK,
        group.id,
        asset,
        qty,
        currency,
        at,
        grant.entry_id,
        "group rate fell",
        release,
        None,
        reward.benefit_id,
        holder.id,
    )
    ev.charge(release)
    ev.grants.append(Grant(group.id, asset, qty, EntryKind.CLAWBACK, (rate,)))
