"""The rewards engine: transaction rewards, refunds and clawbacks, limits, activation ladders.

Pure: it decides from (programmes, customer, event, ledger view, instant) and returns a
:class:`~cardbenefits.engine.decision.Decision` whose batch the caller applies. All state it
needs across events lives in the ledger: counters (caps, budgets, stock, qualifying spend per
period) and entries whose ``ref`` is the source transaction id and whose ``meta`` records what
a refund needs.

>>> import pendulum
>>> from cardbenefits.ledger import MemoryLedger
>>> from cardbenefits.engine.inputs import SimpleCustomer, SimpleRefund, SimpleTransaction
>>> from cardbenefits.money import Money
>>> from cardbenefits.programmes import FixedReward, Limit, PeriodUnit, Qualifier, TransactionProgramme
>>> small = TransactionProgramme("cashback50", Qualifier(min_amount=Money.of(50)),
...     FixedReward(amount=Money.of(5)), limits=(Limit("monthly", 5, period=PeriodUnit.MONTH),))
>>> engine = Engine([small], catalog_version="v1")
>>> ledger, alice = MemoryLedger(), SimpleCustomer("c1", person_id="p1")
>>> at = pendulum.datetime(2026, 11, 3, 12, tz="Asia/Shanghai")
>>> for i in range(7):
...     d = engine.on_transaction(alice, SimpleTransaction(f"t{i}", "c1", Money.of(60), at), ledger)
...     _ = ledger.apply(d.batch)
>>> ledger.balance("c1", "cashback")
Decimal('25')
>>> print(d.refusal("cashback50").render("en"))
cashback50: cap monthly reached: 5 of 5 used in 2026-11
>>> d = engine.on_refund(alice, SimpleRefund("r1", "c1", "t0", Money.of(20), at), ledger)
>>> _ = ledger.apply(d.batch); ledger.balance("c1", "cashback")      # ¥40 left: below ¥50
Decimal('20')
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal

import attrs

from cardbenefits.clock import DEFAULT_TIMEZONE, check_timezone, ensure_aware, to_local
from cardbenefits.engine.decision import Decision, Grant, Refusal
from cardbenefits.engine.explain import (
    CapHit,
    Earned,
    Ineligible,
    NotQualified,
    RaceLost,
    Reason,
    Reversed,
)
from cardbenefits.engine.index import ProgrammeIndex
from cardbenefits.engine.inputs import CustomerLike, RefundLike, TransactionLike
from cardbenefits.errors import EngineError
from cardbenefits.ledger.entries import Charge, EntryBatch, EntryKind, LedgerEntry, is_money_asset
from cardbenefits.ledger.errors import CounterLimitExceededError
from cardbenefits.ledger.protocol import Ledger, LedgerView
from cardbenefits.money import Money
from cardbenefits.periods import CalendarDay, CalendarMonth, StatementCycle
from cardbenefits.periods import PeriodBasis as _Basis
from cardbenefits.programmes import (
    AccrualReward,
    ActivationLadder,
    BonusMultiplier,
    FixedReward,
    Flooring,
    Limit,
    LimitMeasure,
    LimitScope,
    PercentReward,
    PeriodUnit,
    TimeBasis,
    TransactionProgramme,
)
from cardbenefits.rules import explain

__all__ = ["Engine", "RecordOf", "apply_decision", "counter_name", "decide_and_apply"]

_ZERO = Decimal(0)
_ONE = Decimal(1)

#: Builds the eligibility record of a customer (normally ``cardbenefits.facts.customer_record``).
RecordOf = Callable[[CustomerLike], Mapping[str, object]]


def counter_name(programme_id: str, limit: Limit, scope_key: str, period_key: str) -> str:
    """The ledger counter of ``limit`` for one scope and period.

    >>> from cardbenefits.programmes import Limit
    >>> counter_name("cashback50", Limit("monthly", 5), "c1", "2026-11")
    'cap:cashback50:monthly:c1:2026-11'
    """
    return f"{limit.kind.value}:{programme_id}:{limit.id}:{scope_key}:{period_key}"


def _no_record(customer: CustomerLike) -> Mapping[str, object]:
    raise EngineError(
        "a programme has an eligibility rule but the engine has no record_of",
        path="record_of",
        value=customer.id,
    )


@attrs.define
class _Pending:
    """What a decision accumulates: entries, grants, refusals and counter deltas so far."""

    entries: list[LedgerEntry] = attrs.field(factory=list)
    grants: list[Grant] = attrs.field(factory=list)
    refusals: list[Refusal] = attrs.field(factory=list)
    deltas: dict[str, Decimal] = attrs.field(factory=lambda: defaultdict(Decimal))

    def charge(self, charges: list[Charge]) -> None:
        for c in charges:
            self.deltas[c.counter] += c.delta


class Engine:
    """Evaluates transactions and refunds against transaction programmes (and ladders, groups).

    ``catalog_id`` goes into idempotency keys (stable across catalog versions, so re-deciding
    an event under a new version is still recognised); ``catalog_version`` is recorded on every
    entry and decision. ``timezone`` is the catalog time zone for natural days and months.
    """

    def __init__(
        self,
        programmes: Iterable[TransactionProgramme] = (),
        *,
        catalog_version: str,
        catalog_id: str = "catalog",
        timezone: str = DEFAULT_TIMEZONE,
        record_of: RecordOf | None = None,
        ladders: Iterable[ActivationLadder] = (),
    ) -> None:
        self.programmes: tuple[TransactionProgramme, ...] = tuple(programmes)
        self.catalog_version = catalog_version
        self.catalog_id = catalog_id
        self.timezone = check_timezone(timezone)
        self.record_of: RecordOf = record_of if record_of is not None else _no_record
        self.index = ProgrammeIndex(self.programmes)
        self._by_id = {p.id: p for p in self.programmes}
        if len(self._by_id) != len(self.programmes):
            raise EngineError(
                "duplicate programme id", path="programmes", value=[p.id for p in self.programmes]
            )
        for i, p in enumerate(self.programmes):
            if isinstance(p.reward, BonusMultiplier) and p.reward.base not in self._by_id:
                raise EngineError(
                    "multiplier of an unknown programme",
                    path=f"programmes[{i}].reward.base",
                    value=p.reward.base,
                )
            periodic = isinstance(p.reward, AccrualReward) and p.reward.flooring is Flooring.PERIOD
            if periodic and any(lim.measure is LimitMeasure.COUNT for lim in p.limits):
                raise EngineError(
                    "count limits need per-transaction flooring", path=f"programmes[{i}].limits", value=p.id
                )
        self._day = CalendarDay(self.timezone)
        self._month = CalendarMonth(self.timezone)
        self._ladders: tuple[ActivationLadder, ...] = tuple(ladders)

    # -- periods -------------------------------------------------------------------------------
    def basis(self, unit: PeriodUnit, customer: CustomerLike) -> _Basis | None:
        """The :mod:`cardbenefits.periods` basis of ``unit`` for ``customer`` (None: campaign)."""
        if unit is PeriodUnit.DAY:
            return self._day
        if unit is PeriodUnit.MONTH:
            return self._month
        if unit is PeriodUnit.STATEMENT:
            day = customer.billing_day
            if day is None:
                raise EngineError(
                    "statement-cycle periods need the customer's billing day",
                    path=f"customers.{customer.id}.billing_day",
                    value=None,
                )
            return StatementCycle(billing_day=day, tz=self.timezone)
        return None

    def period_key(self, unit: PeriodUnit, customer: CustomerLike, instant: datetime) -> str:
        """The label of the period containing ``instant`` (``all`` for the campaign)."""
        if unit is PeriodUnit.MONTH:
            local = to_local(instant, self.timezone)
            return f"{local.year:04d}-{local.month:02d}"
        if unit is PeriodUnit.DAY:
            return to_local(instant, self.timezone).date().isoformat()
        basis = self.basis(unit, customer)
        return "all" if basis is None else basis.containing(instant).label

    def key(self, event_id: str) -> str:
        """The idempotency key of the decision on ``event_id``."""
        return f"{event_id}:{self.catalog_id}"

    # -- transactions --------------------------------------------------------------------------
    def on_transaction(
        self, customer: CustomerLike, txn: TransactionLike, view: LedgerView, *, naive: bool = False
    ) -> Decision:
        """Decide every transaction programme (and ladder) for ``txn``.

        ``naive=True`` checks every programme instead of the trigger index (the benchmark's
        baseline; the decision is the same).
        """
        key = self.key(txn.id)
        if view.has_applied(key):
            return self._replay(txn.id, key, view)
        pending = _Pending()
        candidates = self.programmes if naive else self.index.candidates(txn.kind, txn.mcc, txn.channel)
        base_units: dict[str, Decimal] = {}
        record: Mapping[str, object] | None = None
        for programme in candidates:
            if isinstance(programme.reward, BonusMultiplier):
                continue
            record = self._one(programme, customer, txn, view, pending, base_units, record)
        for programme in candidates:
            if isinstance(programme.reward, BonusMultiplier):
                record = self._one(programme, customer, txn, view, pending, base_units, record)
        for ladder in self._ladders:
            from cardbenefits.engine.ladders import ladder_on_transaction

            ladder_on_transaction(self, ladder, customer, txn, view, pending)
        return self._decision(txn.id, key, pending)

    def _instant(self, programme_basis: TimeBasis, txn: TransactionLike) -> datetime:
        if programme_basis is TimeBasis.POSTING and txn.posted_at is not None:
            return ensure_aware(txn.posted_at, path=f"{txn.id}.posted_at")
        return ensure_aware(txn.at, path=f"{txn.id}.at")

    def _one(
        self,
        p: TransactionProgramme,
        customer: CustomerLike,
        txn: TransactionLike,
        view: LedgerView,
        pending: _Pending,
        base_units: dict[str, Decimal],
        record: Mapping[str, object] | None,
    ) -> Mapping[str, object] | None:
        q = p.qualifier
        if q.time_basis is TimeBasis.POSTING and txn.posted_at is None:
            pending.refusals.append(Refusal(p.id, (NotQualified("validity", "not posted yet"),)))
            return record
        instant = self._instant(q.time_basis, txn)
        if (p.valid_from is not None and instant < p.valid_from) or (
            p.valid_until is not None and instant >= p.valid_until
        ):
            pending.refusals.append(Refusal(p.id, (NotQualified("validity", instant.isoformat()),)))
            return record
        failed = q.check(
            kind=txn.kind, mcc=txn.mcc, channel=txn.channel, merchant=txn.merchant, amount=txn.amount
        )
        if failed is not None:
            pending.refusals.append(Refusal(p.id, (NotQualified(*failed),)))
            return record
        if p.eligibility is not None:
            record = self.record_of(customer) if record is None else record
            if not p.eligibility.evaluate(record, instant):
                trace = explain(p.eligibility, record, instant)
                pending.refusals.append(Refusal(p.id, (Ineligible(p.eligibility.text, trace.render("en")),)))
                return record
        reward = p.reward
        period = self.period_key(p.period, customer, instant)
        extra_charges: list[Charge] = []
        measures: dict[str, str] = {}
        if isinstance(reward, FixedReward):
            earned = reward.amount.amount if reward.amount is not None else reward.units
        elif isinstance(reward, PercentReward):
            earned = reward.earn(txn.amount).amount
        elif isinstance(reward, AccrualReward):
            if reward.flooring is Flooring.TRANSACTION:
                earned = reward.earn(txn.amount)
            else:
                spend_counter = f"spend:{p.id}:{customer.id}:{period}"
                before = view.usage(spend_counter) + pending.deltas.get(spend_counter, _ZERO)
                after = before + txn.amount.amount
                earned = reward.earn(Money(after, txn.amount.currency)) - reward.earn(
                    Money(before, txn.amount.currency)
                )
                extra_charges.append(Charge(spend_counter, txn.amount.amount, None))
                measures[spend_counter] = "spend"
        else:
            earned = reward.extra(base_units.get(reward.base, _ZERO))
        granted, reasons, charges = self._limit(p, customer, instant, earned, view, pending)
        measures.update({c.counter: m for c, m in charges})
        all_charges = [c for c, _m in charges if granted > 0 or _m == "spend"] + extra_charges
        base_units[p.id] = granted
        if granted <= 0 and not extra_charges:
            pending.refusals.append(
                Refusal(p.id, tuple(reasons) or (NotQualified("not_reward", str(earned)),))
            )
            return record
        asset = self._asset(p)
        if granted > 0:
            # per-period flooring keeps the period's earned total for refunds
            if isinstance(reward, AccrualReward) and reward.flooring is Flooring.PERIOD:
                earned_counter = f"earned:{p.id}:{customer.id}:{period}"
                all_charges.append(Charge(earned_counter, granted, None))
                measures[earned_counter] = "amount"
        else:
            all_charges = extra_charges
        unit_cost = _ONE if is_money_asset(asset) else p.cost_per_unit.amount
        meta = {
            "event": txn.id,
            "amount": str(txn.amount.amount),
            "currency": txn.amount.currency,
            "period": period,
            "earned": str(earned),
            "unit_cost": str(unit_cost),
        }
        meta.update(
            {f"measure:{c}": m for c, m in measures.items() if any(x.counter == c for x in all_charges)}
        )
        entry = self._entry(
            EntryKind.GRANT,
            customer,
            p.id,
            asset,
            granted,
            txn.amount.currency,
            instant,
            ref=txn.id,
            reason="earned" if granted > 0 else "spend counted",
            charges=all_charges,
            meta=meta,
            benefit_id=p.benefit_id,
        )
        pending.entries.append(entry)
        pending.charge(all_charges)
        if granted > 0:
            reasons.insert(0, Earned(p.id, earned, granted, asset))
            pending.grants.append(Grant(p.id, asset, granted, EntryKind.GRANT, tuple(reasons)))
        else:
            pending.refusals.append(
                Refusal(p.id, tuple(reasons) or (NotQualified("not_reward", str(earned)),))
            )
        return record

    def _asset(self, p: TransactionProgramme) -> str:
        reward = p.reward
        if isinstance(reward, BonusMultiplier):
            return self._asset(self._by_id[reward.base])
        return reward.asset

    def _entry(
        self,
        kind: EntryKind,
        customer: CustomerLike,
        programme_id: str,
        asset: str,
        quantity: Decimal,
        currency: str,
        at: datetime,
        *,
        ref: str | None,
        reason: str,
        charges: Sequence[Charge],
        meta: Mapping[str, str],
        benefit_id: str | None = None,
    ) -> LedgerEntry:
        money = is_money_asset(asset)
        return LedgerEntry(
            kind=kind,
            customer_id=customer.id,
            person_id=customer.person_id,
            programme_id=programme_id,
            benefit_id=benefit_id,
            asset=asset,
            amount=Money(quantity, currency) if money else None,
            units=_ZERO if money else quantity,
            at=at,
            catalog_version=self.catalog_version,
            ref=ref,
            reason=reason,
            charges=tuple(charges),
            meta=meta,
        )

    # -- limits --------------------------------------------------------------------------------
    def limit_counters(
        self, programme_id: str, limits: Sequence[Limit], customer: CustomerLike, instant: datetime
    ) -> list[tuple[Limit, str, str]]:
        """``(limit, counter, period label)`` for each limit at ``instant``."""
        out = []
        for limit in limits:
            if limit.scope is LimitScope.CUSTOMER:
                scope = customer.id
            elif limit.scope is LimitScope.PERSON:
                scope = customer.person_id or customer.id
            else:
                scope = "all"
            period = self.period_key(limit.period, customer, instant)
            out.append((limit, counter_name(programme_id, limit, scope, period), period))
        return out

    def _limit(
        self,
        p: TransactionProgramme,
        customer: CustomerLike,
        instant: datetime,
        earned: Decimal,
        view: LedgerView,
        pending: _Pending,
    ) -> tuple[Decimal, list[Reason], list[tuple[Charge, str]]]:
        unit_cost = _ONE if is_money_asset(self._asset(p)) else p.cost_per_unit.amount
        whole = not is_money_asset(self._asset(p))
        return self.fit_limits(
            p.id, p.limits, customer, instant, earned, unit_cost, view, pending, whole=whole
        )

    def fit_limits(
        self,
        programme_id: str,
        limits: Sequence[Limit],
        customer: CustomerLike,
        instant: datetime,
        earned: Decimal,
        unit_cost: Decimal,
        view: LedgerView,
        pending: _Pending,
        *,
        whole: bool,
    ) -> tuple[Decimal, list[Reason], list[tuple[Charge, str]]]:
        """Truncate ``earned`` to what every limit still allows; the charges it would make."""
        counters = self.limit_counters(programme_id, limits, customer, instant)
        usages = view.usages([c for _l, c, _p in counters]) if counters else {}
        granted = earned if earned > 0 else _ZERO
        reasons: list[Reason] = []
        ordered = sorted(counters, key=lambda t: t[0].measure is LimitMeasure.COUNT)
        for limit, counter, period in ordered:
            used = usages.get(counter, _ZERO) + pending.deltas.get(counter, _ZERO)
            room = limit.maximum - used
            if limit.measure is LimitMeasure.COUNT:
                fits = granted if room >= 1 else _ZERO
            elif limit.measure is LimitMeasure.AMOUNT:
                fits = min(granted, max(room, _ZERO))
            else:
                fits = granted if unit_cost == 0 else min(granted, max(room, _ZERO) / unit_cost)
            if whole:
                fits = fits.to_integral_value(rounding=ROUND_FLOOR)
            elif fits != granted:
                fits = Money(fits).quantize("down").amount
            if fits < granted and granted > 0:
                reasons.append(
                    CapHit(
                        limit.id, limit.kind.value, counter, used, limit.maximum, period, truncated=fits > 0
                    )
                )
                granted = fits
        charges: list[tuple[Charge, str]] = []
        if granted > 0:
            for limit, counter, _period in counters:
                if limit.measure is LimitMeasure.COUNT:
                    delta = _ONE
                elif limit.measure is LimitMeasure.AMOUNT:
                    delta = granted
                else:
                    delta = granted * unit_cost
                if delta > 0:
                    charges.append((Charge(counter, delta, limit.maximum), limit.measure.value))
        return granted, reasons, charges

    # -- refunds -------------------------------------------------------------------------------
    def on_refund(
        self,
        customer: CustomerLike,
        refund: RefundLike,
        view: LedgerView,
        original: TransactionLike | None = None,
    ) -> Decision:
        """Deduct a (partial) refund: claw back what the remaining amount no longer earns.

        The original's amount comes from ``original`` or from the grant entries the engine
        recorded for it; refunds already applied are read from the ``refunded:<txn>`` counter.
        """
        key = self.key(refund.id)
        if view.has_applied(key):
            return self._replay(refund.id, key, view)
        pending = _Pending()
        tid = refund.original_id
        related = view.entries(ref=tid)
        own = [e for e in related if e.customer_id == customer.id]
        if original is not None:
            original_amount = original.amount.amount
            currency = original.amount.currency
        elif own and "amount" in own[0].meta:
            original_amount = Decimal(own[0].meta["amount"])
            currency = own[0].meta.get("currency", refund.amount.currency)
        else:
            # Nothing was granted or counted for the original: nothing to deduct from.
            return self._decision(refund.id, key, pending)
        refunded_counter = f"refunded:{tid}"
        before = view.usage(refunded_counter)
        amount = refund.amount.amount
        if amount <= 0 or before + amount > original_amount:
            raise EngineError(
                f"refund exceeds what is left of {tid} ({original_amount - before})",
                path=f"{refund.id}.amount",
                value=refund.amount,
            )
        remaining = Money(original_amount - before - amount, currency)
        at = ensure_aware(refund.at, path=f"{refund.id}.at")
        pending.entries.append(
            self._entry(
                EntryKind.ADJUST,
                customer,
                "refund",
                "refund",
                _ZERO,
                currency,
                at,
                ref=tid,
                reason="refund recorded",
                charges=[Charge(refunded_counter, amount, original_amount)],
                meta={"refund": refund.id, "amount": str(amount)},
            )
        )
        by_programme: dict[str, list[LedgerEntry]] = defaultdict(list)
        for e in own:
            by_programme[e.programme_id].append(e)
        kept_units: dict[str, Decimal] = {}
        ordered = sorted(
            by_programme,
            key=lambda pid: isinstance(getattr(self._by_id.get(pid), "reward", None), BonusMultiplier),
        )
        for pid in ordered:
            p = self._by_id.get(pid)
            if p is not None:
                self._claw(
                    p, customer, tid, by_programme[pid], remaining, amount, at, view, pending, kept_units
                )
        for ladder in self._ladders:
            from cardbenefits.engine.ladders import ladder_on_refund

            ladder_on_refund(
                self,
                ladder,
                customer,
                tid,
                by_programme.get(ladder.id, []),
                remaining,
                amount,
                at,
                view,
                pending,
            )
        return self._decision(refund.id, key, pending)

    def _claw(
        self,
        p: TransactionProgramme,
        customer: CustomerLike,
        tid: str,
        entries: list[LedgerEntry],
        remaining: Money,
        refunded: Decimal,
        at: datetime,
        view: LedgerView,
        pending: _Pending,
        kept_units: dict[str, Decimal],
    ) -> None:
        grants = [e for e in entries if e.kind is EntryKind.GRANT]
        if not grants:
            return
        first = grants[0]
        granted_total = sum((e.quantity for e in grants), _ZERO)
        net = sum((e.signed_quantity for e in entries), _ZERO)
        reward = p.reward
        qualifies = (
            p.qualifier.min_amount is None or remaining >= p.qualifier.min_amount
        ) and remaining.is_positive()
        periodic = isinstance(reward, AccrualReward) and reward.flooring is Flooring.PERIOD
        attributable: dict[str, Decimal] = defaultdict(Decimal)
        for e in entries:
            for c in e.charges:
                attributable[c.counter] += c.delta
        measures = {
            k[len("measure:") :]: v for e in grants for k, v in e.meta.items() if k.startswith("measure:")
        }
        if periodic:
            assert isinstance(reward, AccrualReward)
            period = first.meta["period"]
            spend_counter = f"spend:{p.id}:{customer.id}:{period}"
            earned_counter = f"earned:{p.id}:{customer.id}:{period}"
            spend_after = (
                view.usage(spend_counter)
                + pending.deltas.get(spend_counter, _ZERO)
                - min(refunded, attributable.get(spend_counter, _ZERO))
            )
            target = reward.earn(Money(spend_after, remaining.currency))
            earned_now = view.usage(earned_counter) + pending.deltas.get(earned_counter, _ZERO)
            claw = max(earned_now - target, _ZERO)
            kept = net - claw
        else:
            if not qualifies:
                would = _ZERO
            elif isinstance(reward, FixedReward):
                would = reward.amount.amount if reward.amount is not None else reward.units
            elif isinstance(reward, PercentReward):
                would = reward.earn(remaining).amount
            elif isinstance(reward, AccrualReward):
                would = reward.earn(remaining)
            else:
                would = reward.extra(kept_units.get(reward.base, _ZERO))
            kept = min(would, granted_total)
            claw = max(net - kept, _ZERO)
        kept_units[p.id] = max(kept, _ZERO)
        unit_cost = Decimal(first.meta.get("unit_cost", "1"))
        charges: list[Charge] = []
        if periodic and claw > 0:
            # the period's earned total is shared by its transactions: release it whoever earned it
            measures.pop(earned_counter, None)
            charges.append(Charge(earned_counter, -claw, None))
        for counter, measure in measures.items():
            have = attributable.get(counter, _ZERO)
            if measure == "count":
                release = have if kept <= 0 else _ZERO
            elif measure == "spend":
                release = min(refunded, have)
            elif measure == "cost":
                release = claw * unit_cost if periodic else min(claw * unit_cost, have)
            else:
                release = claw if periodic else min(claw, have)
            if release > 0:
                charges.append(Charge(counter, -release, None))
        if claw <= 0 and not charges:
            return
        asset = first.asset
        entry = self._entry(
            EntryKind.CLAWBACK,
            customer,
            p.id,
            asset,
            claw,
            remaining.currency,
            at,
            ref=tid,
            reason="refund clawback",
            charges=charges,
            meta={"kept": str(kept), "remaining": str(remaining.amount)},
        )
        pending.entries.append(entry)
        pending.charge(charges)
        if claw > 0:
            pending.grants.append(
                Grant(p.id, asset, claw, EntryKind.CLAWBACK, (Reversed(tid, net, max(kept, _ZERO), asset),))
            )

    # -- decisions -----------------------------------------------------------------------------
    def _decision(self, event_id: str, key: str, pending: _Pending) -> Decision:
        return Decision(
            event_id=event_id,
            catalog_version=self.catalog_version,
            batch=EntryBatch.of(key, pending.entries),
            grants=tuple(pending.grants),
            refusals=tuple(pending.refusals),
        )

    def _replay(self, event_id: str, key: str, view: LedgerView) -> Decision:
        entries = []
        i = 0
        while (entry := view.entry(f"{key}#{i}")) is not None:
            entries.append(entry)
            i += 1
        return Decision(event_id, self.catalog_version, EntryBatch(key, tuple(entries)), replayed=True)


def apply_decision(ledger: Ledger, decision: Decision) -> Decision:
    """Apply ``decision.batch``; raises the ledger's errors (see :func:`decide_and_apply`)."""
    ledger.apply(decision.batch)
    return decision


def decide_and_apply(
    decide: Callable[[LedgerView], Decision], ledger: Ledger, *, attempts: int = 3
) -> Decision:
    """Decide against ``ledger`` and apply; on a lost race re-decide against the fresh state.

    When another writer used the headroom of a cap, budget or stock between the decision and
    the apply, the ledger refuses the batch atomically; re-deciding then truncates or refuses
    the grant with a :class:`~cardbenefits.engine.explain.CapHit`. If the race is still lost
    after ``attempts``, the decision's grants are dropped (an empty batch is applied) and the
    refusal says which counter stopped them (:class:`~cardbenefits.engine.explain.RaceLost`).
    """
    last: CounterLimitExceededError | None = None
    for _ in range(attempts):
        decision = decide(ledger)
        result = ledger.try_apply(decision.batch)
        if result.refusal is None:
            return decision
        last = result.refusal
    assert last is not None
    decision = decide(ledger)
    lost = RaceLost(last.counter, last.limit, last.usage)
    dropped = Decision(
        decision.event_id,
        decision.catalog_version,
        EntryBatch(decision.batch.idempotency_key, ()),
        refusals=(*decision.refusals, *(Refusal(g.programme_id, (lost,)) for g in decision.grants)),
    )
    ledger.apply(dropped.batch)
    return dropped
