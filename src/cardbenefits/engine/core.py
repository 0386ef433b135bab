"""The rewards engine: transaction rewards, refunds and clawbacks, limits, activation ladders.

Pure: it decides from (programmes, customer, event, ledger view) and returns a
:class:`~cardbenefits.engine.decision.Decision` whose batch the caller applies. All state it
needs across events lives in the ledger: counters (caps, budgets, stock, qualifying spend per
period) and entries whose ``ref`` is the source transaction id and whose ``meta`` records what
a refund needs. Customers and events are the facts layer's :class:`~cardbenefits.facts.Customer`
and :class:`~cardbenefits.facts.Transaction`; card-level facts (approval, activation, billing
day) come from the customer's :class:`~cardbenefits.facts.CardHolding` for ``txn.card_id``.

>>> from cardbenefits.facts import CardHolding, Customer, Transaction
>>> from cardbenefits.ledger import MemoryLedger
>>> from cardbenefits.money import Money
>>> from cardbenefits.programmes import FixedReward, Limit, PeriodUnit, Qualifier, TransactionProgramme
>>> small = TransactionProgramme("cashback50", Qualifier(min_amount=Money.of(50)),
...     FixedReward(amount=Money.of(5)), limits=(Limit("monthly", 5, period=PeriodUnit.MONTH),))
>>> engine = Engine([small], catalog_version="v1")
>>> alice = Customer("c1", "p1", cards=(CardHolding("k1", "std", "gold", "2026-10-01T10:00+08:00"),))
>>> def buy(i, amount, kind="purchase", refund_of=None):
...     return Transaction(f"t{i}", "c1", "k1", Money.of(amount), "m1", "5411", "pos", kind,
...                        "2026-11-03T12:00+08:00", refund_of=refund_of)
>>> ledger = MemoryLedger()
>>> for i in range(7):
...     d = engine.decide(alice, buy(i, 60), ledger)
...     _ = ledger.apply(d.batch)
>>> ledger.balance("c1", "cashback")
Decimal('25')
>>> print(d.refusal("cashback50").render("en"))
cashback50: cap monthly reached: 5 of 5 used in 2026-11
>>> d = engine.decide(alice, buy("r", 20, "refund", refund_of="t0"), ledger)
>>> _ = ledger.apply(d.batch); ledger.balance("c1", "cashback")      # ¥40 left: below ¥50
Decimal('20')
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from decimal import ROUND_DOWN, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Any

from cardbenefits.clock import DEFAULT_TIMEZONE, check_timezone
from cardbenefits.engine import build
from cardbenefits.engine.calendar import LocalCalendar, LocalDay
from cardbenefits.engine.decision import Decision, Grant, Refusal
from cardbenefits.engine.explain import (
    CapHit,
    Ineligible,
    NotQualified,
    RaceLost,
    Reason,
    Reversed,
)
from cardbenefits.engine.index import ProgrammeIndex
from cardbenefits.errors import EngineError
from cardbenefits.facts import CardHolding, Customer, Transaction, TransactionKind, customer_record
from cardbenefits.ledger.entries import Charge, EntryBatch, EntryKind, FrozenMap, LedgerEntry, is_money_asset
from cardbenefits.ledger.errors import CounterLimitExceededError
from cardbenefits.ledger.memory import MemoryLedger
from cardbenefits.ledger.protocol import Ledger, LedgerView
from cardbenefits.money import _CONTEXT as _MONEY_CONTEXT
from cardbenefits.money import Money
from cardbenefits.money import _exponent as _minor_unit
from cardbenefits.periods import CalendarDay, CalendarMonth, StatementCycle
from cardbenefits.periods import PeriodBasis as _Basis
from cardbenefits.programmes import (
    AccrualReward,
    ActivationLadder,
    BonusMultiplier,
    FixedReward,
    Flooring,
    GroupReward,
    Limit,
    LimitMeasure,
    LimitScope,
    PercentReward,
    PeriodUnit,
    TimeBasis,
    TransactionProgramme,
)

if TYPE_CHECKING:
    from cardbenefits.catalog import Catalog

__all__ = ["Engine", "RecordOf", "apply_decision", "counter_name", "decide_and_apply"]

_ZERO = Decimal(0)
_ONE = Decimal(1)
_FEN = Decimal("0.01")
_GRANT = EntryKind.GRANT
_CLAWBACK = EntryKind.CLAWBACK
_ADJUST = EntryKind.ADJUST
_UNDOING = frozenset({TransactionKind.REFUND, TransactionKind.REVERSAL})

#: Builds the eligibility record of a customer for the card a decision is about.
RecordOf = Callable[[Customer, CardHolding | None], Mapping[str, object]]


def counter_name(programme_id: str, limit: Limit, scope_key: str, period_key: str) -> str:
    """The ledger counter of ``limit`` for one scope and period.

    >>> from cardbenefits.programmes import Limit
    >>> counter_name("cashback50", Limit("monthly", 5), "c1", "2026-11")
    'cap:cashback50:monthly:c1:2026-11'
    """
    return f"{limit.kind.value}:{programme_id}:{limit.id}:{scope_key}:{period_key}"


def _default_record(customer: Customer, card: CardHolding | None) -> Mapping[str, object]:
    return customer_record(customer, card)


# reward codes of a compiled programme
_FIXED, _PERCENT, _ACCRUE, _ACCRUE_PERIOD, _BONUS = range(5)
# limit scope and measure codes
_S_CUSTOMER, _S_PERSON, _S_GLOBAL = range(3)
_M_COUNT, _M_AMOUNT, _M_COST = range(3)
_SCOPES = {LimitScope.CUSTOMER: _S_CUSTOMER, LimitScope.PERSON: _S_PERSON, LimitScope.GLOBAL: _S_GLOBAL}
_MEASURES = {LimitMeasure.COUNT: _M_COUNT, LimitMeasure.AMOUNT: _M_AMOUNT, LimitMeasure.COST: _M_COST}


class _LimitPlan:
    """A limit with its counter prefix and codes precomputed."""

    __slots__ = ("kind", "limit", "maximum", "measure", "prefix", "scope", "unit")

    def __init__(self, programme_id: str, limit: Limit) -> None:
        self.limit = limit
        self.kind = limit.kind.value
        self.prefix = f"{self.kind}:{programme_id}:{limit.id}:"
        self.scope = _SCOPES[limit.scope]
        self.measure = _MEASURES[limit.measure]
        self.unit = limit.period
        self.maximum = limit.maximum


def fit_limit(measure: int, room: Decimal, granted: Decimal, unit_cost: Decimal, whole: bool) -> Decimal:
    """What of ``granted`` one limit with ``room`` left lets through (engine and batch evaluator).

    Counts let a grant through whole while one use is left; amounts and costs truncate to the
    room (a cost limit through ``unit_cost``), down to whole units or to the fen.
    """
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
            if whole
            else fits.quantize(_FEN, rounding=ROUND_DOWN)
        )
    return fits


def _limit_plans(programme_id: str, limits: Sequence[Limit]) -> tuple[_LimitPlan, ...]:
    # money and cost limits truncate first; count limits then see the truncated grant
    ordered = sorted(limits, key=lambda lim: lim.measure is LimitMeasure.COUNT)
    return tuple(_LimitPlan(programme_id, lim) for lim in ordered)


class _Plan:
    """A transaction programme compiled for the hot path (codes instead of isinstance chains)."""

    __slots__ = (
        "asset",
        "base",
        "benefit_id",
        "cap",
        "channels",
        "currency",
        "eligibility",
        "excluded",
        "fixed",
        "id",
        "kinds",
        "limits",
        "mccs",
        "merchants",
        "min_amount",
        "money",
        "period",
        "posting",
        "programme",
        "rate",
        "reward",
        "reward_code",
        "rounding",
        "unit_cost",
        "unit_cost_text",
        "valid_from",
        "valid_until",
        "whole",
    )

    def __init__(self, p: TransactionProgramme, default_currency: str) -> None:
        q = p.qualifier
        self.programme = p
        self.id = p.id
        self.kinds = q.kinds
        self.mccs = q.mccs
        self.excluded = q.excluded_mccs
        self.merchants = q.merchants
        self.channels = q.channels
        self.min_amount = None if q.min_amount is None else q.min_amount.amount
        self.currency = q.min_amount.currency if q.min_amount is not None else default_currency
        self.posting = q.time_basis is TimeBasis.POSTING
        self.valid_from = p.valid_from
        self.valid_until = p.valid_until
        self.eligibility = p.eligibility
        self.period = p.period
        reward = p.reward
        self.reward = reward
        self.fixed = _ZERO
        self.base = ""
        self.rate = _ZERO
        self.cap: Money | None = None
        self.rounding = ""
        if isinstance(reward, FixedReward):
            self.reward_code = _FIXED
            self.fixed = reward.amount.amount if reward.amount is not None else reward.units
            if reward.amount is not None:
                self.currency = reward.amount.currency
        elif isinstance(reward, PercentReward):
            self.reward_code = _PERCENT
            self.rate = reward.rate
            self.cap = reward.per_transaction_cap
            self.rounding = reward.rounding.decimal_mode
        elif isinstance(reward, AccrualReward):
            self.reward_code = _ACCRUE_PERIOD if reward.flooring is Flooring.PERIOD else _ACCRUE
        else:
            self.reward_code = _BONUS
            self.base = reward.base
        self.asset = p.asset
        self.money = is_money_asset(self.asset) if self.asset else False
        self.whole = not self.money
        self.unit_cost = _ONE if self.money else p.cost_per_unit.amount
        self.unit_cost_text = str(self.unit_cost)
        self.benefit_id = p.benefit_id
        self.limits = _limit_plans(p.id, p.limits)


def _percent(c: _Plan, money: Money) -> Decimal:
    """``PercentReward.earn(money).amount`` without the intermediate Money values.

    The same arithmetic (the money context, the currency's minor unit, the reward's rounding,
    then the per-transaction cap); anything unusual (a cap in another currency, a non-finite
    product) goes through :meth:`PercentReward.earn`, which raises as before.
    """
    cap = c.cap
    if cap is None or cap.currency == money.currency:
        value = _MONEY_CONTEXT.multiply(money.amount, c.rate / 100)
        if value.is_finite():
            value = value.quantize(_minor_unit(money.currency), rounding=c.rounding, context=_MONEY_CONTEXT)
            return value if cap is None or value <= cap.amount else cap.amount
    return c.reward.earn(money).amount  # type: ignore[union-attr]


def would_earn(c: _Plan, remaining: Money, kept_units: Mapping[str, Decimal]) -> Decimal:
    """What the remaining amount of a refunded purchase still earns under ``c`` (per transaction).

    ``kept_units`` holds what the programme's multiplier base keeps of the same purchase.
    """
    if not ((c.min_amount is None or remaining.amount >= c.min_amount) and remaining.is_positive()):
        return _ZERO
    reward = c.reward
    if isinstance(reward, FixedReward):
        return c.fixed
    if isinstance(reward, PercentReward | AccrualReward):
        earned = reward.earn(remaining)
        return earned.amount if isinstance(earned, Money) else earned
    assert isinstance(reward, BonusMultiplier)
    return reward.extra(kept_units.get(reward.base, _ZERO))


def claw_releases(
    c: _Plan,
    attributable: Mapping[str, Decimal],
    refunded: Decimal,
    kept: Decimal,
    claw: Decimal,
    unit_cost: Decimal,
    earned_counter: str,
    used: Callable[[str], Decimal],
) -> list[tuple[str, Decimal]]:
    """The counter releases (negative deltas) of clawing ``claw`` back from one purchase.

    ``attributable`` sums what the purchase's entries charged per counter; spend counters give
    back the refunded amount, count limits their use once nothing is kept, amount and cost
    limits the claw. ``used`` reads a counter (the engine's view plus its pending deltas).
    """
    periodic = c.reward_code == _ACCRUE_PERIOD
    measures = {lp.limit.id: lp.measure for lp in c.limits}
    releases: list[tuple[str, Decimal]] = []
    if periodic and claw > 0:
        # the period's earned total is shared by its transactions: release it whoever earned it
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
                # a period's claw may undo other transactions' grants, charged to other
                # periods of the limit: release at most what this counter holds
                release = min(release, used(counter)) if periodic else min(release, have)
        if release > 0:
            releases.append((counter, -release))
    return releases


class _Event:
    """What one decision accumulates: entries, grants, refusals and counter deltas so far."""

    __slots__ = (
        "at",
        "at_utc",
        "base_units",
        "card",
        "customer",
        "day",
        "deltas",
        "engine",
        "entries",
        "grants",
        "key",
        "posted_day",
        "record",
        "refusals",
        "view",
    )

    def __init__(
        self, engine: Engine, customer: Customer, card: CardHolding | None, view: LedgerView, key: str
    ) -> None:
        self.engine = engine
        self.customer = customer
        self.card = card
        self.view = view
        self.key = key
        self.entries: list[LedgerEntry] = []
        self.grants: list[Grant] = []
        self.refusals: list[Refusal] = []
        self.deltas: dict[str, Decimal] = {}
        self.base_units: dict[str, Decimal] = {}
        self.record: Mapping[str, object] | None = None
        self.day: LocalDay | None = None
        self.posted_day: LocalDay | None = None
        self.at: datetime | None = None
        self.at_utc: datetime | None = None

    def local_day(self, posted: bool, instant: datetime) -> LocalDay:
        """The local day of the event's transaction instant (``posted``: its posting instant).

        Computed once per event; ``instant`` must be that instant.
        """
        if posted:
            if self.posted_day is None:
                self.posted_day = self.engine.calendar.day(instant)
            return self.posted_day
        if self.day is None:
            self.day = self.engine.calendar.day(instant)
        return self.day

    def charge(self, charges: Iterable[Charge]) -> None:
        deltas = self.deltas
        for c in charges:
            deltas[c.counter] = deltas.get(c.counter, _ZERO) + c.delta

    def used(self, counter: str) -> Decimal:
        return self.view.usage(counter) + self.deltas.get(counter, _ZERO)

    def get_record(self) -> Mapping[str, object]:
        if self.record is None:
            self.record = self.engine.record_of(self.customer, self.card)
        return self.record

    def add(
        self,
        kind: EntryKind,
        programme_id: str,
        asset: str,
        quantity: Decimal,
        currency: str,
        at: datetime,
        ref: str | None,
        reason: str,
        charges: tuple[Charge, ...],
        meta: FrozenMap | None,
        benefit_id: str | None = None,
        customer_id: str | None = None,
        money: bool | None = None,
    ) -> None:
        if money is None:
            money = is_money_asset(asset)
        at_utc = self.at_utc
        if at is not self.at or at_utc is None:
            # the entries of one event share an instant: convert it to UTC once
            self.at, self.at_utc = at, (at_utc := build.utc(at))
        self.entries.append(
            build.entry(
                kind,
                self.customer.id if customer_id is None else customer_id,
                programme_id,
                asset,
                at_utc,
                self.engine.catalog_version,
                reason,
                build.money(quantity, currency) if money else None,
                _ZERO if money else quantity,
                self.customer.person_id if customer_id is None else None,
                benefit_id,
                ref,
                charges,
                meta,
                f"{self.key}#{len(self.entries)}",
            )
        )


class Engine:
    """Evaluates transactions and refunds against transaction programmes and activation ladders.

    ``catalog_id`` goes into idempotency keys (stable across catalog versions, so re-deciding
    an event under a new version is still recognised); ``catalog_version`` is recorded on every
    entry and decision. ``timezone`` is the catalog time zone for natural days and months.
    ``record_of(customer, card)`` builds the eligibility record (default
    :func:`cardbenefits.facts.customer_record`).
    """

    def __init__(
        self,
        programmes: Iterable[TransactionProgramme] = (),
        *,
        catalog_version: str,
        catalog_id: str = "catalog",
        timezone: str = DEFAULT_TIMEZONE,
        currency: str = "CNY",
        record_of: RecordOf | None = None,
        ladders: Iterable[ActivationLadder] = (),
        group_rewards: Iterable[GroupReward] = (),
    ) -> None:
        self.programmes: tuple[TransactionProgramme, ...] = tuple(programmes)
        self.catalog_version = catalog_version
        self.catalog_id = catalog_id
        self.timezone = check_timezone(timezone)
        self.currency = currency
        self.record_of: RecordOf = record_of if record_of is not None else _default_record
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
        self._plans = {p.id: _Plan(p, currency) for p in self.programmes}
        for plan in self._plans.values():
            if plan.reward_code == _BONUS:
                # a multiplier pays in its base's asset (points double as points)
                base = self._plans[plan.base]
                plan.asset, plan.money, plan.whole = base.asset, base.money, base.whole
                plan.unit_cost = _ONE if base.money else plan.programme.cost_per_unit.amount
                plan.unit_cost_text = str(plan.unit_cost)
        # bases before the multipliers that read them, otherwise catalog order
        self._all = tuple(sorted(self._plans.values(), key=lambda c: c.reward_code == _BONUS))
        self._candidates: dict[tuple[str, str | None, str | None], tuple[_Plan, ...]] = {}
        self._suffix = f":{catalog_id}"
        self.calendar = LocalCalendar(self.timezone)
        self._day_basis = CalendarDay(self.timezone)
        self._month_basis = CalendarMonth(self.timezone)
        self.ladders: tuple[ActivationLadder, ...] = tuple(ladders)
        self.group_rewards: tuple[GroupReward, ...] = tuple(group_rewards)
        ids = (
            [p.id for p in self.programmes]
            + [x.id for x in self.ladders]
            + [g.id for g in self.group_rewards]
        )
        if len(set(ids)) != len(ids):
            raise EngineError(
                "programme, ladder and group reward ids must be distinct", path="ids", value=ids
            )
        from cardbenefits.engine.ladders import LadderPlan

        self._ladder_plans = tuple(LadderPlan(self, ladder) for ladder in self.ladders)

    @classmethod
    def from_catalog(cls, catalog: Catalog, *, record_of: RecordOf | None = None) -> Engine:
        """An engine running the ``programmes``, ``ladders`` and ``group_rewards`` of ``catalog``.

        Decisions record ``catalog.ref`` (``id@version``) as their version; idempotency keys
        use ``catalog.id``.
        """
        return cls(
            catalog.section("programmes").values(),
            ladders=catalog.section("ladders").values(),
            group_rewards=catalog.section("group_rewards").values(),
            catalog_version=catalog.ref,
            catalog_id=catalog.id,
            timezone=catalog.timezone,
            currency=catalog.currency,
            record_of=record_of,
        )

    def programme(self, programme_id: str) -> TransactionProgramme | ActivationLadder | GroupReward:
        """The transaction programme, ladder or group reward with ``programme_id``."""
        item: TransactionProgramme | ActivationLadder | GroupReward
        for item in self.programmes:
            if item.id == programme_id:
                return item
        for item in self.ladders:
            if item.id == programme_id:
                return item
        for item in self.group_rewards:
            if item.id == programme_id:
                return item
        raise EngineError("unknown programme", path="programme_id", value=programme_id)

    # -- periods -------------------------------------------------------------------------------
    def basis(self, unit: PeriodUnit, card: CardHolding | None) -> _Basis | None:
        """The :mod:`cardbenefits.periods` basis of ``unit`` for ``card`` (None: campaign)."""
        if unit is PeriodUnit.DAY:
            return self._day_basis
        if unit is PeriodUnit.MONTH:
            return self._month_basis
        if unit is PeriodUnit.STATEMENT:
            return StatementCycle(billing_day=self._billing_day(card), tz=self.timezone)
        return None

    def _billing_day(self, card: CardHolding | None) -> int:
        day = None if card is None else card.billing_day
        if day is None:
            raise EngineError(
                "statement-cycle periods need the card's billing day",
                path="card.billing_day" if card is None else f"cards.{card.card_id}.billing_day",
                value=None,
            )
        return day

    def _label(self, unit: PeriodUnit, day: LocalDay, card: CardHolding | None) -> str:
        if unit is PeriodUnit.MONTH:
            return day.month
        if unit is PeriodUnit.DAY:
            return day.label
        if unit is PeriodUnit.STATEMENT:
            return day.cycle(self._billing_day(card))[1]
        return "all"

    def period_key(self, unit: PeriodUnit, instant: datetime, card: CardHolding | None = None) -> str:
        """The label of the period containing ``instant`` (``all`` for the campaign).

        >>> import pendulum
        >>> Engine(catalog_version="v1").period_key(PeriodUnit.MONTH, pendulum.datetime(2026, 11, 30, 16))
        '2026-12'
        """
        return self._label(unit, self.calendar.day(instant), card)

    def key(self, event_id: str) -> str:
        """The idempotency key of the decision on ``event_id``."""
        return event_id + self._suffix

    # -- entry point ---------------------------------------------------------------------------
    def decide(self, customer: Customer, event: Transaction, view: LedgerView) -> Decision:
        """Decide one transaction: refunds and reversals claw back, everything else may earn."""
        if event.kind in _UNDOING:
            return self.on_refund(customer, event, view)
        return self.on_transaction(customer, event, view)

    def _card(self, customer: Customer, txn: Transaction) -> CardHolding | None:
        if txn.customer_id != customer.id:
            raise EngineError(
                "the transaction belongs to another customer",
                path=f"{txn.id}.customer_id",
                value=txn.customer_id,
            )
        for card in customer.cards:
            if card.card_id == txn.card_id:
                return card
        return None

    # -- transactions --------------------------------------------------------------------------
    def on_transaction(
        self, customer: Customer, txn: Transaction, view: LedgerView, *, naive: bool = False
    ) -> Decision:
        """Decide every transaction programme (and ladder) for ``txn``.

        ``naive=True`` checks every programme instead of the trigger index (the benchmark's
        baseline; the decision is the same).
        """
        key = txn.id + self._suffix
        if view.has_applied(key):
            return self._replay(txn.id, key, view)
        ev = _Event(self, customer, self._card(customer, txn), view, key)
        if naive:
            plans = self._all
        else:
            ck = (txn.kind, txn.mcc, txn.channel)
            plans = self._candidates.get(ck)  # type: ignore[assignment]
            if plans is None:
                plans = self._index_candidates(ck)
        run = self._run
        for plan in plans:
            run(plan, txn, ev)
        for ladder in self._ladder_plans:
            ladder.on_transaction(txn, ev)
        return Decision(
            txn.id,
            self.catalog_version,
            build.batch(key, tuple(ev.entries)),
            tuple(ev.grants),
            tuple(ev.refusals),
        )

    def _index_candidates(self, ck: tuple[str, str | None, str | None]) -> tuple[_Plan, ...]:
        found = tuple(
            sorted(
                (self._plans[p.id] for p in self.index.candidates(*ck)),
                key=lambda c: c.reward_code == _BONUS,
            )
        )
        if len(self._candidates) < 100_000:
            self._candidates[ck] = found
        return found

    def _run(self, c: _Plan, txn: Transaction, ev: _Event) -> None:
        pid = c.id
        refusals = ev.refusals
        if txn.kind not in c.kinds:
            refusals.append(Refusal(pid, (NotQualified("kind", txn.kind.value),)))
            return
        if c.posting:
            instant = txn.posted_at
            day = ev.posted_day
            if day is None:
                day = ev.posted_day = self.calendar.day(instant)
        else:
            instant = txn.transacted_at
            day = ev.day
            if day is None:
                day = ev.day = self.calendar.day(instant)
        if (c.valid_from is not None and instant < c.valid_from) or (
            c.valid_until is not None and instant >= c.valid_until
        ):
            refusals.append(Refusal(pid, (NotQualified("validity", instant.isoformat()),)))
            return
        mcc = txn.mcc
        if mcc in c.excluded:
            refusals.append(Refusal(pid, (NotQualified("mcc_excluded", mcc),)))
            return
        if c.mccs is not None and mcc not in c.mccs:
            refusals.append(Refusal(pid, (NotQualified("mcc", mcc),)))
            return
        if c.merchants is not None and txn.merchant_id not in c.merchants:
            refusals.append(Refusal(pid, (NotQualified("merchant", txn.merchant_id),)))
            return
        if c.channels is not None and txn.channel not in c.channels:
            refusals.append(Refusal(pid, (NotQualified("channel", txn.channel.value),)))
            return
        money = txn.amount
        amount = money.amount
        if money.currency != c.currency:
            refusals.append(Refusal(pid, (NotQualified("currency", money.currency),)))
            return
        if c.min_amount is not None and amount < c.min_amount:
            refusals.append(Refusal(pid, (NotQualified("min_amount", f"{money} < {c.min_amount}"),)))
            return
        if c.eligibility is not None:
            record = ev.get_record()
            if not c.eligibility.evaluate(record, instant):
                refusals.append(Refusal(pid, (Ineligible.of(c.eligibility, record, instant),)))
                return
        code = c.reward_code
        extra: tuple[Charge, ...] = ()
        period = ""
        if code == _FIXED:
            earned = c.fixed
        elif code == _ACCRUE:
            r: Any = c.reward
            earned = (amount // r.per.amount) * r.units * r.multiplier
        elif code == _PERCENT:
            earned = _percent(c, money)
        elif code == _BONUS:
            earned = c.reward.extra(ev.base_units.get(c.base, _ZERO))  # type: ignore[union-attr]
        else:
            period = self._label(c.period, day, ev.card)
            spend_counter = f"spend:{pid}:{ev.customer.id}:{period}"
            before = ev.used(spend_counter)
            accrual: Any = c.reward
            earned = accrual.earn(Money(before + amount, money.currency)) - accrual.earn(
                Money(before, money.currency)
            )
            extra = (build.charge(spend_counter, amount, None),)
        if c.limits:
            granted, reasons, charges = self._fit(pid, c.limits, c.unit_cost, c.whole, earned, day, ev)
        else:
            granted, reasons, charges = (earned if earned > 0 else _ZERO), [], []
        ev.base_units[pid] = granted
        if granted <= 0:
            if extra:
                ev.add(
                    _ADJUST,
                    pid,
                    f"spend:{pid}",
                    _ZERO,
                    money.currency,
                    instant,
                    txn.id,
                    "spend counted",
                    extra,
                    build.frozen_map({"amount": str(amount), "currency": money.currency, "period": period}),
                )
                ev.charge(extra)
            refusals.append(Refusal(pid, tuple(reasons) or (NotQualified("not_reward", str(earned)),)))
            return
        if code == _ACCRUE_PERIOD:
            earned_counter = f"earned:{pid}:{ev.customer.id}:{period}"
            charges.append(build.charge(earned_counter, granted, None))
        all_charges = (*charges, *extra) if extra else tuple(charges)
        currency = money.currency
        meta = (
            (
                ("amount", str(amount)),
                ("currency", currency),
                ("period", period),
                ("unit_cost", c.unit_cost_text),
            )
            if period
            else (("amount", str(amount)), ("currency", currency), ("unit_cost", c.unit_cost_text))
        )
        ev.add(
            _GRANT,
            pid,
            c.asset,
            granted,
            currency,
            instant,
            txn.id,
            "earned",
            all_charges,
            build.frozen_map_sorted(meta),
            c.benefit_id,
            None,
            c.money,
        )
        if all_charges:
            ev.charge(all_charges)
        ev.grants.append(build.grant(pid, c.asset, granted, earned, tuple(reasons)))

    # -- limits --------------------------------------------------------------------------------
    def _fit(
        self,
        programme_id: str,
        limits: Sequence[_LimitPlan],
        unit_cost: Decimal,
        whole: bool,
        earned: Decimal,
        day: LocalDay,
        ev: _Event,
    ) -> tuple[Decimal, list[Reason], list[Charge]]:
        """Truncate ``earned`` to what every limit still allows; the charges the grant makes."""
        customer = ev.customer
        counters = []
        for lp in limits:
            scope = (
                customer.id
                if lp.scope == _S_CUSTOMER
                else (customer.person_id if lp.scope == _S_PERSON else "all")
            )
            unit = lp.unit
            if unit is PeriodUnit.CAMPAIGN:
                label = "all"
            elif unit is PeriodUnit.MONTH:
                label = day.month
            else:
                label = self._label(unit, day, ev.card)
            counters.append((lp, f"{lp.prefix}{scope}:{label}", label))
        view = ev.view
        if type(view) is MemoryLedger:
            # an in-memory read is a dict lookup: skip the locked bulk read
            read = view.usage
            usages = {c: read(c) for _lp, c, _l in counters}
        else:
            usages = view.usages([c for _lp, c, _l in counters])
        deltas = ev.deltas
        granted = earned if earned > 0 else _ZERO
        reasons: list[Reason] = []
        for lp, counter, label in counters:
            used = usages.get(counter, _ZERO) + deltas.get(counter, _ZERO)
            room = lp.maximum - used
            fits = fit_limit(lp.measure, room, granted, unit_cost, whole)
            if fits < granted and granted > 0:
                reasons.append(
                    CapHit(lp.limit.id, lp.kind, counter, used, lp.maximum, label, truncated=fits > 0)
                )
                granted = fits
        charges: list[Charge] = []
        if granted > 0:
            for lp, counter, _label in counters:
                measure = lp.measure
                delta = (
                    _ONE
                    if measure == _M_COUNT
                    else (granted if measure == _M_AMOUNT else granted * unit_cost)
                )
                if delta > 0:
                    charges.append(build.charge(counter, delta, lp.maximum))
        return granted, reasons, charges

    def fit_limits(
        self,
        programme_id: str,
        limits: Sequence[Limit],
        customer: Customer,
        card: CardHolding | None,
        instant: datetime,
        earned: Decimal,
        unit_cost: Decimal,
        ev: _Event,
        *,
        whole: bool,
    ) -> tuple[Decimal, list[Reason], list[Charge]]:
        """Truncate ``earned`` to what ``limits`` still allow at ``instant`` (ladders, groups)."""
        return self._fit(
            programme_id,
            _limit_plans(programme_id, limits),
            unit_cost,
            whole,
            earned,
            self.calendar.day(instant),
            ev,
        )

    # -- refunds -------------------------------------------------------------------------------
    def on_refund(
        self, customer: Customer, refund: Transaction, view: LedgerView, original: Transaction | None = None
    ) -> Decision:
        """Deduct a (partial) refund or reversal: claw back what the remaining amount no longer earns.

        The original's amount comes from ``original`` or from the entries the engine recorded
        for it; refunds already applied are read from the ``refunded:<txn>`` counter.
        """
        key = refund.id + self._suffix
        if view.has_applied(key):
            return self._replay(refund.id, key, view)
        tid = refund.refund_of
        if tid is None:
            raise EngineError(
                "a refund names the transaction it undoes", path=f"{refund.id}.refund_of", value=None
            )
        ev = _Event(self, customer, self._card(customer, refund), view, key)
        own = [e for e in view.entries(ref=tid) if e.customer_id == customer.id]
        if original is not None:
            original_amount = original.amount.amount
            currency = original.amount.currency
        else:
            recorded = next((e for e in own if "amount" in e.meta), None)
            if recorded is None:
                # Nothing was granted or counted for the original: nothing to deduct from.
                return Decision(refund.id, self.catalog_version, build.batch(key, ()))
            original_amount = Decimal(recorded.meta["amount"])
            currency = recorded.meta.get("currency", refund.amount.currency)
        refunded_counter = f"refunded:{tid}"
        before = view.usage(refunded_counter)
        amount = refund.amount.amount
        if before + amount > original_amount:
            raise EngineError(
                f"refund exceeds what is left of {tid} ({original_amount - before})",
                path=f"{refund.id}.amount",
                value=refund.amount,
            )
        remaining = Money(original_amount - before - amount, currency)
        at = refund.transacted_at
        recorded_charges = (build.charge(refunded_counter, amount, original_amount),)
        ev.add(
            _ADJUST,
            "refund",
            "refund",
            _ZERO,
            currency,
            at,
            tid,
            "refund recorded",
            recorded_charges,
            build.frozen_map({"refund": refund.id, "refunded": str(amount)}),
        )
        ev.charge(recorded_charges)
        by_programme: dict[str, list[LedgerEntry]] = {}
        for e in own:
            by_programme.setdefault(e.programme_id, []).append(e)
        kept_units: dict[str, Decimal] = {}
        for plan in self._all:
            entries = by_programme.get(plan.id)
            if entries:
                self._claw(plan, tid, entries, remaining, amount, at, ev, kept_units)
        for ladder in self._ladder_plans:
            ladder.on_refund(tid, by_programme.get(ladder.ladder.id, []), remaining, amount, at, ev)
        return Decision(
            refund.id,
            self.catalog_version,
            build.batch(key, tuple(ev.entries)),
            tuple(ev.grants),
            tuple(ev.refusals),
        )

    def _claw(
        self,
        c: _Plan,
        tid: str,
        entries: list[LedgerEntry],
        remaining: Money,
        refunded: Decimal,
        at: datetime,
        ev: _Event,
        kept_units: dict[str, Decimal],
    ) -> None:
        grants = [e for e in entries if e.kind is _GRANT]
        periodic = c.reward_code == _ACCRUE_PERIOD
        if not grants and not periodic:
            return
        granted_total = sum((e.quantity for e in grants), _ZERO)
        net = sum((e.signed_quantity for e in entries if e.kind is not _ADJUST), _ZERO)
        attributable: dict[str, Decimal] = {}
        for e in entries:
            for ch in e.charges:
                attributable[ch.counter] = attributable.get(ch.counter, _ZERO) + ch.delta
        reward = c.reward
        customer_id = ev.customer.id
        earned_counter = ""
        if periodic:
            assert isinstance(reward, AccrualReward)
            period = next((e.meta["period"] for e in entries if "period" in e.meta), None)
            if period is None:
                return
            spend_counter = f"spend:{c.id}:{customer_id}:{period}"
            earned_counter = f"earned:{c.id}:{customer_id}:{period}"
            spend_after = ev.used(spend_counter) - min(refunded, attributable.get(spend_counter, _ZERO))
            target = reward.earn(Money(spend_after, remaining.currency))
            claw = max(ev.used(earned_counter) - target, _ZERO)
            kept = net - claw
        else:
            kept = min(would_earn(c, remaining, kept_units), granted_total)
            claw = max(net - kept, _ZERO)
        kept_units[c.id] = max(kept, _ZERO)
        unit_cost = Decimal(grants[0].meta.get("unit_cost", "1")) if grants else c.unit_cost
        releases = claw_releases(c, attributable, refunded, kept, claw, unit_cost, earned_counter, ev.used)
        charges = [build.charge(counter, delta, None) for counter, delta in releases]
        if claw <= 0 and not charges:
            return
        asset = c.asset
        ev.add(
            _CLAWBACK,
            c.id,
            asset,
            claw,
            remaining.currency,
            at,
            tid,
            "refund clawback",
            tuple(charges),
            # the grant's unit cost: a report prices the clawback as the grant was priced
            build.frozen_map(
                {"kept": str(kept), "remaining": str(remaining.amount), "unit_cost": str(unit_cost)}
            ),
        )
        ev.charge(charges)
        if claw > 0:
            ev.grants.append(
                Grant(c.id, asset, claw, _CLAWBACK, (Reversed(tid, net, max(kept, _ZERO), asset),))
            )

    # -- decisions -----------------------------------------------------------------------------
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
        refusals=(
            *decision.refusals,
            *(Refusal(g.programme_id, (lost,), g.tier_id) for g in decision.grants),
        ),
    )
    ledger.apply(dropped.batch)
    return dropped
