"""Transaction programmes decided over columns: the simulation's fast path.

:class:`BatchEvaluator` runs an :class:`~cardbenefits.engine.Engine`'s **transaction
programmes** (not its activation ladders or group rewards) over chunks of transactions held as
parallel lists (:class:`TransactionRows`: plain ``str``/``int``/``Decimal`` cells, the local day
labels already computed), in replay order. It decides every row as :meth:`Engine.decide`
would — same qualifier checks in the same order, same rewards, the same limit fitting
(money and cost limits truncate first, count limits then see the truncated grant), the same
refund clawbacks — but builds no :class:`~cardbenefits.facts.Transaction`, ledger entry or
decision object: it keeps the ledger's counters (same names, same values) and, per
transaction that earned or counted something, what a later refund needs. What it returns is
what a report needs: per-programme :class:`ProgrammeTotals` (grants, clawbacks, customers
reached, quantities, issuer cost by local day, refusals by reason code), the refunds it
recorded, and the counters.

``tests/engine/test_batch.py`` checks it against the engine on random programmes and random
streams of purchases, refunds and reversals (every figure and every counter equal).

>>> from decimal import Decimal
>>> from cardbenefits.engine import Engine
>>> from cardbenefits.facts import CardHolding, Customer
>>> from cardbenefits.money import Money
>>> from cardbenefits.programmes import FixedReward, Limit, PeriodUnit, Qualifier, TransactionProgramme
>>> small = TransactionProgramme("cashback50", Qualifier(min_amount=Money.of(50)),
...     FixedReward(amount=Money.of(5)), limits=(Limit("monthly", 5, period=PeriodUnit.MONTH),))
>>> card = CardHolding("k1", "youth", "classic", "2026-01-05T09:00+08:00")
>>> people = {"c1": Customer("c1", "p1", cards=(card,))}
>>> batch = BatchEvaluator(Engine([small], catalog_version="v1"), people)
>>> n = 7
>>> rows = Rows(id=[f"t{i}" for i in range(n)], customer_id=["c1"] * n, card_id=["k1"] * n,
...     merchant_id=["m1"] * n, mcc=["5812"] * n, channel=["pos"] * n, kind=["purchase"] * n,
...     amount=[Decimal(60)] * n, currency=["CNY"] * n, refund_of=[None] * n,
...     at_us=[1_793_000_000_000_000 + i for i in range(n)], posted_us=[0] * n,
...     day=["2026-11-01"] * n, posted_day=["2026-11-01"] * n)
>>> batch.run(rows)
>>> row = batch.totals["cashback50"]
>>> row.grants, row.cost, dict(row.refusals), batch.usage("cap:cashback50:monthly:c1:2026-11")
(5, Decimal('25'), {'cap:monthly': 2}, Decimal('5'))
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from collections.abc import Mapping, Sequence
from decimal import ROUND_DOWN, ROUND_FLOOR, Decimal
from typing import Any, Protocol

import attrs

from cardbenefits.engine.calendar import LocalDay
from cardbenefits.engine.core import (
    _ACCRUE,
    _ACCRUE_PERIOD,
    _BONUS,
    _FIXED,
    _M_AMOUNT,
    _M_COST,
    _M_COUNT,
    _PERCENT,
    _S_CUSTOMER,
    _S_PERSON,
    _UNDOING,
    Engine,
    _LimitPlan,
    _percent,
    _Plan,
)
from cardbenefits.errors import EngineError
from cardbenefits.facts import CardHolding, Customer
from cardbenefits.money import Money
from cardbenefits.programmes import AccrualReward, FixedReward, PercentReward, PeriodUnit

__all__ = ["BatchEvaluator", "ProgrammeTotals", "Rows", "TransactionRows"]

_ZERO = Decimal(0)
_ONE = Decimal(1)
_FEN = Decimal("0.01")
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


class TransactionRows(Protocol):
    """A chunk of transactions as parallel columns, in replay order.

    ``at_us``/``posted_us`` are UTC microseconds since the epoch; ``day``/``posted_day`` the
    local calendar dates (``YYYY-MM-DD``) of those instants in the engine's time zone.
    """

    @property
    def id(self) -> Sequence[str]: ...
    @property
    def customer_id(self) -> Sequence[str]: ...
    @property
    def card_id(self) -> Sequence[str]: ...
    @property
    def merchant_id(self) -> Sequence[str]: ...
    @property
    def mcc(self) -> Sequence[str]: ...
    @property
    def channel(self) -> Sequence[str]: ...
    @property
    def kind(self) -> Sequence[str]: ...
    @property
    def amount(self) -> Sequence[Decimal]: ...
    @property
    def currency(self) -> Sequence[str]: ...
    @property
    def refund_of(self) -> Sequence[str | None]: ...
    @property
    def at_us(self) -> Sequence[int]: ...
    @property
    def posted_us(self) -> Sequence[int]: ...
    @property
    def day(self) -> Sequence[str]: ...
    @property
    def posted_day(self) -> Sequence[str]: ...


@attrs.frozen
class Rows:
    """The simplest :class:`TransactionRows`: the columns as given (tests, small batches)."""

    id: Sequence[str]
    customer_id: Sequence[str]
    card_id: Sequence[str]
    merchant_id: Sequence[str]
    mcc: Sequence[str]
    channel: Sequence[str]
    kind: Sequence[str]
    amount: Sequence[Decimal]
    currency: Sequence[str]
    refund_of: Sequence[str | None]
    at_us: Sequence[int]
    posted_us: Sequence[int]
    day: Sequence[str]
    posted_day: Sequence[str]


@attrs.define
class ProgrammeTotals:
    """What one programme did over the rows evaluated so far (the report's figures).

    ``cost`` is the net issuer cost (grants minus clawbacks; points at their unit cost),
    ``cost_by_day`` the same per local day of the grant or clawback instant, ``refusals``
    counts refused rows by reason code (``not_qualified:min_amount``, ``cap:monthly``,
    ``ineligible``…, as :func:`cardbenefits.simulate.replay.reason_code` names them).
    """

    grants: int = 0
    clawbacks: int = 0
    customers: set[str] = attrs.field(factory=set)
    quantity: dict[str, Decimal] = attrs.field(factory=dict)
    cost: Decimal = _ZERO
    clawback_cost: Decimal = _ZERO
    cost_by_day: dict[str, Decimal] = attrs.field(factory=dict)
    refusals: Counter[str] = attrs.field(factory=Counter)


class _Claim:
    """One programme's entries for one transaction, as a refund reads them."""

    __slots__ = ("attributable", "granted", "net", "period", "unit_cost")

    def __init__(self) -> None:
        self.granted = _ZERO  # sum of grant quantities
        self.net = _ZERO  # grants minus clawbacks
        self.attributable: dict[str, Decimal] = {}
        self.period: str | None = None
        self.unit_cost: Decimal | None = None  # from the first grant


class _Original:
    __slots__ = ("amount", "claims", "currency", "customer_id")

    def __init__(self, customer_id: str, amount: Decimal, currency: str) -> None:
        self.customer_id = customer_id
        self.amount = amount
        self.currency = currency
        self.claims: dict[str, _Claim] = {}


def _instant(us: int) -> _dt.datetime:
    return _EPOCH + _dt.timedelta(microseconds=us)


def _us(instant: _dt.datetime | None) -> int | None:
    if instant is None:
        return None
    delta = instant - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class BatchEvaluator:
    """Decides ``engine``'s transaction programmes for chunks of rows (see the module docstring).

    ``customers`` are the customers the rows name (a row naming another raises
    :class:`~cardbenefits.errors.EngineError`). Counters start at zero: the evaluator is the
    only writer of the programmes' counters, as in a fresh simulation.
    """

    def __init__(self, engine: Engine, customers: Mapping[str, Customer]) -> None:
        self.engine = engine
        self.customers = customers
        self.totals: dict[str, ProgrammeTotals] = {p.id: ProgrammeTotals() for p in engine.programmes}
        self.refunds: dict[str, Decimal] = {}
        """Refunds the programmes recorded (the engine's ``refund recorded`` entry): id → amount."""
        self._usage: dict[str, Decimal] = {}
        self._originals: dict[str, _Original] = {}
        self._cards: dict[tuple[str, str], CardHolding | None] = {}
        self._records: dict[tuple[str, str], Mapping[str, object]] = {}
        self._days: dict[str, LocalDay] = {}
        self._names: dict[str, str] = {}
        self._window = {c.id: (_us(c.valid_from), _us(c.valid_until)) for c in engine._plans.values()}
        self._claw_order = engine._all

    # -- state ---------------------------------------------------------------------------------
    def usage(self, counter: str) -> Decimal:
        """A counter's value, as the ledger would hold it."""
        return self._usage.get(counter, _ZERO)

    @property
    def counters(self) -> Mapping[str, Decimal]:
        """Every counter the programmes charged, by name."""
        return self._usage

    def _name(self, text: str) -> str:
        # one string object per counter name: the per-transaction records share them
        found = self._names.get(text)
        if found is None:
            self._names[text] = found = text
        return found

    def _local_day(self, label: str) -> LocalDay:
        day = self._days.get(label)
        if day is None:
            day = self._days[label] = LocalDay(_dt.date.fromisoformat(label))
        return day

    def _card(self, customer: Customer, card_id: str) -> CardHolding | None:
        key = (customer.id, card_id)
        if key in self._cards:
            return self._cards[key]
        found = next((c for c in customer.cards if c.card_id == card_id), None)
        self._cards[key] = found
        return found

    def _record(self, customer: Customer, card: CardHolding | None) -> Mapping[str, object]:
        key = (customer.id, card.card_id if card is not None else "")
        record = self._records.get(key)
        if record is None:
            record = self._records[key] = self.engine.record_of(customer, card)
        return record

    def _label(self, unit: PeriodUnit, day: str, card: CardHolding | None) -> str:
        if unit is PeriodUnit.MONTH:
            return day[:7]
        if unit is PeriodUnit.DAY:
            return day
        if unit is PeriodUnit.STATEMENT:
            return self.engine._label(unit, self._local_day(day), card)
        return "all"

    def _charge(self, counter: str, delta: Decimal, claim: _Claim | None) -> None:
        usage = self._usage
        usage[counter] = usage.get(counter, _ZERO) + delta
        if claim is not None:
            attributable = claim.attributable
            attributable[counter] = attributable.get(counter, _ZERO) + delta

    # -- rows ----------------------------------------------------------------------------------
    def run(self, rows: TransactionRows) -> None:
        """Decide every row of ``rows`` (the next chunk of the stream, in replay order)."""
        engine = self.engine
        candidates = engine._candidates
        customers = self.customers
        ids, cids, cards, kinds = rows.id, rows.customer_id, rows.card_id, rows.kind
        mccs, channels = rows.mcc, rows.channel
        for i in range(len(ids)):
            cid = cids[i]
            customer = customers.get(cid)
            if customer is None:
                raise EngineError("the transaction names an unknown customer", path=f"{ids[i]}.customer_id",
                                  value=cid)  # fmt: skip
            kind = kinds[i]
            if kind in _UNDOING:
                self._refund(rows, i, customer)
                continue
            ck = (kind, mccs[i], channels[i])
            plans = candidates.get(ck)
            if plans is None:
                plans = engine._index_candidates(ck)
            if not plans:
                continue
            card = self._card(customer, cards[i])
            base_units: dict[str, Decimal] | None = None
            original: _Original | None = None
            for c in plans:
                got = self._run(c, rows, i, customer, card, base_units, original)
                if got is not None:
                    original, granted = got
                    if base_units is None:
                        base_units = {}
                    base_units[c.id] = granted
                elif base_units is not None:
                    base_units[c.id] = _ZERO
            if original is not None:
                self._originals[ids[i]] = original

    def _run(
        self,
        c: _Plan,
        rows: TransactionRows,
        i: int,
        customer: Customer,
        card: CardHolding | None,
        base_units: dict[str, Decimal] | None,
        original: _Original | None,
    ) -> tuple[_Original, Decimal] | None:
        """:meth:`Engine._run` for row ``i``: None when refused without recording anything."""
        pid = c.id
        totals = self.totals[pid]
        kind = rows.kind[i]
        if kind not in c.kinds:
            totals.refusals["not_qualified:kind"] += 1
            return None
        if c.posting:
            at_us, day = rows.posted_us[i], rows.posted_day[i]
        else:
            at_us, day = rows.at_us[i], rows.day[i]
        start, end = self._window[pid]
        if (start is not None and at_us < start) or (end is not None and at_us >= end):
            totals.refusals["not_qualified:validity"] += 1
            return None
        mcc = rows.mcc[i]
        if mcc in c.excluded:
            totals.refusals["not_qualified:mcc_excluded"] += 1
            return None
        if c.mccs is not None and mcc not in c.mccs:
            totals.refusals["not_qualified:mcc"] += 1
            return None
        if c.merchants is not None and rows.merchant_id[i] not in c.merchants:
            totals.refusals["not_qualified:merchant"] += 1
            return None
        if c.channels is not None and rows.channel[i] not in c.channels:
            totals.refusals["not_qualified:channel"] += 1
            return None
        amount = rows.amount[i]
        currency = rows.currency[i]
        if currency != c.currency:
            totals.refusals["not_qualified:currency"] += 1
            return None
        if c.min_amount is not None and amount < c.min_amount:
            totals.refusals["not_qualified:min_amount"] += 1
            return None
        if c.eligibility is not None and not c.eligibility.evaluate(
            self._record(customer, card), _instant(at_us)
        ):
            totals.refusals["ineligible"] += 1
            return None
        code = c.reward_code
        spend_counter = ""
        period = ""
        if code == _FIXED:
            earned = c.fixed
        elif code == _ACCRUE:
            r: Any = c.reward
            earned = (amount // r.per.amount) * r.units * r.multiplier
        elif code == _PERCENT:
            earned = _percent(c, Money(amount, currency))
        elif code == _BONUS:
            base = base_units.get(c.base, _ZERO) if base_units is not None else _ZERO
            earned = c.reward.extra(base)  # type: ignore[union-attr]
        else:
            period = self._label(c.period, day, card)
            spend_counter = self._name(f"spend:{pid}:{customer.id}:{period}")
            before = self._usage.get(spend_counter, _ZERO)
            accrual: Any = c.reward
            earned = accrual.earn(Money(before + amount, currency)) - accrual.earn(Money(before, currency))
        counters: list[tuple[_LimitPlan, str]] = []
        if c.limits:
            granted, refusal = self._fit(c, earned, day, customer, card, counters)
        else:
            granted, refusal = (earned if earned > 0 else _ZERO), None
        if granted <= 0 and not spend_counter:
            totals.refusals[refusal or "not_qualified:not_reward"] += 1
            return None
        if original is None:
            original = _Original(customer.id, amount, currency)
        claim = original.claims.get(pid)
        if claim is None:
            claim = original.claims[pid] = _Claim()
        if period:
            claim.period = period
        if granted <= 0:
            # the period's qualifying spend is still counted ("spend counted" entry)
            self._charge(spend_counter, amount, claim)
            totals.refusals[refusal or "not_qualified:not_reward"] += 1
            return original, _ZERO
        unit_cost = c.unit_cost
        for lp, counter in counters:
            measure = lp.measure
            delta = (
                _ONE if measure == _M_COUNT else (granted if measure == _M_AMOUNT else granted * unit_cost)
            )
            if delta > 0:
                self._charge(counter, delta, claim)
        if code == _ACCRUE_PERIOD:
            self._charge(self._name(f"earned:{pid}:{customer.id}:{period}"), granted, claim)
        if spend_counter:
            self._charge(spend_counter, amount, claim)
        if claim.unit_cost is None:
            claim.unit_cost = unit_cost
        claim.granted += granted
        claim.net += granted
        totals.grants += 1
        totals.customers.add(customer.id)
        asset = c.asset
        totals.quantity[asset] = totals.quantity.get(asset, _ZERO) + granted
        cost = granted if c.money else granted * unit_cost
        totals.cost += cost
        totals.cost_by_day[day] = totals.cost_by_day.get(day, _ZERO) + cost
        return original, granted

    def _fit(
        self,
        c: _Plan,
        earned: Decimal,
        day: str,
        customer: Customer,
        card: CardHolding | None,
        counters: list[tuple[_LimitPlan, str]],
    ) -> tuple[Decimal, str | None]:
        """:meth:`Engine._fit`: the grant every limit allows and the first limit's refusal code."""
        usage = self._usage
        granted = earned if earned > 0 else _ZERO
        refusal: str | None = None
        unit_cost = c.unit_cost
        for lp in c.limits:
            scope = customer.id if lp.scope == _S_CUSTOMER else (
                customer.person_id if lp.scope == _S_PERSON else "all")  # fmt: skip
            unit = lp.unit
            label = day[:7] if unit is PeriodUnit.MONTH else self._label(unit, day, card)
            counter = self._name(f"{lp.prefix}{scope}:{label}")
            counters.append((lp, counter))
            room = lp.maximum - usage.get(counter, _ZERO)
            measure = lp.measure
            if measure == _M_COUNT:
                fits = granted if room >= 1 else _ZERO
            elif measure == _M_AMOUNT:
                fits = granted if granted <= room else (room if room > 0 else _ZERO)
            elif unit_cost == 0:
                fits = granted
            else:
                fits = min(granted, (room if room > 0 else _ZERO) / unit_cost)
            if fits != granted:
                fits = (
                    fits.to_integral_value(rounding=ROUND_FLOOR)
                    if c.whole
                    else fits.quantize(_FEN, rounding=ROUND_DOWN)
                )
            if fits < granted and granted > 0:
                if refusal is None:
                    refusal = f"{lp.kind}:{lp.limit.id}"
                granted = fits
        return granted, refusal

    # -- refunds -------------------------------------------------------------------------------
    def _refund(self, rows: TransactionRows, i: int, customer: Customer) -> None:
        """:meth:`Engine.on_refund` for row ``i`` (its ``refund_of`` names the original)."""
        rid = rows.id[i]
        tid = rows.refund_of[i]
        if tid is None:
            raise EngineError("a refund names the transaction it undoes", path=f"{rid}.refund_of", value=None)
        original = self._originals.get(tid)
        if original is None or original.customer_id != customer.id:
            return  # nothing was granted or counted for the original
        refunded_counter = f"refunded:{tid}"
        before = self._usage.get(refunded_counter, _ZERO)
        amount = rows.amount[i]
        if before + amount > original.amount:
            raise EngineError(
                f"refund exceeds what is left of {tid} ({original.amount - before})",
                path=f"{rid}.amount",
                value=Money(amount, rows.currency[i]),
            )
        remaining = Money(original.amount - before - amount, original.currency)
        self._usage[refunded_counter] = before + amount
        self.refunds[rid] = amount
        day = rows.day[i]
        kept_units: dict[str, Decimal] = {}
        for c in self._claw_order:
            claim = original.claims.get(c.id)
            if claim is not None:
                self._claw(c, claim, remaining, amount, day, customer, kept_units)

    def _claw(
        self,
        c: _Plan,
        claim: _Claim,
        remaining: Money,
        refunded: Decimal,
        day: str,
        customer: Customer,
        kept_units: dict[str, Decimal],
    ) -> None:
        """:meth:`Engine._claw`: claw back what ``remaining`` no longer earns, release limits."""
        periodic = c.reward_code == _ACCRUE_PERIOD
        has_grants = claim.unit_cost is not None
        if not has_grants and not periodic:
            return
        granted_total, net, attributable = claim.granted, claim.net, claim.attributable
        reward = c.reward
        earned_counter = ""
        usage = self._usage
        if periodic:
            assert isinstance(reward, AccrualReward)
            period = claim.period
            if period is None:
                return
            spend_counter = f"spend:{c.id}:{customer.id}:{period}"
            earned_counter = self._name(f"earned:{c.id}:{customer.id}:{period}")
            counted = attributable.get(spend_counter, _ZERO)
            spend_after = usage.get(spend_counter, _ZERO) - min(refunded, counted)
            target = reward.earn(Money(spend_after, remaining.currency))
            claw = max(usage.get(earned_counter, _ZERO) - target, _ZERO)
            kept = net - claw
        else:
            qualifies = (c.min_amount is None or remaining.amount >= c.min_amount) and remaining.is_positive()
            if not qualifies:
                would = _ZERO
            elif isinstance(reward, FixedReward):
                would = c.fixed
            elif isinstance(reward, PercentReward | AccrualReward):
                earned = reward.earn(remaining)
                would = earned.amount if isinstance(earned, Money) else earned
            else:
                would = reward.extra(kept_units.get(reward.base, _ZERO))
            kept = min(would, granted_total)
            claw = max(net - kept, _ZERO)
        kept_units[c.id] = max(kept, _ZERO)
        unit_cost = claim.unit_cost if claim.unit_cost is not None else c.unit_cost
        measures = {lp.limit.id: lp.measure for lp in c.limits}
        releases: list[tuple[str, Decimal]] = []
        if periodic and claw > 0:
            releases.append((earned_counter, -claw))
        for counter, have in attributable.items():
            if counter.startswith("earned:"):
                continue
            if counter.startswith("spend:"):
                release = min(refunded, have)
            else:
                measure = measures.get(counter.split(":", 3)[2])
                if measure is None:
                    continue
                if measure == _M_COUNT:
                    release = have if kept <= 0 else _ZERO
                else:
                    release = claw * unit_cost if measure == _M_COST else claw
                    release = min(release, usage.get(counter, _ZERO)) if periodic else min(release, have)
            if release > 0:
                releases.append((counter, -release))
        if claw <= 0 and not releases:
            return
        for counter, delta in releases:
            self._charge(counter, delta, claim)
        claim.net -= claw
        if claw > 0:
            totals = self.totals[c.id]
            totals.clawbacks += 1
            asset = c.asset
            totals.quantity[asset] = totals.quantity.get(asset, _ZERO) - claw
            cost = claw if c.money else claw * unit_cost
            totals.cost -= cost
            totals.clawback_cost += cost
            totals.cost_by_day[day] = totals.cost_by_day.get(day, _ZERO) - cost
