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
>>> from cardbenefits.facts import CardHolding, Customer, Transaction
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

import bisect
import datetime as _dt
import heapq
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from operator import itemgetter
from typing import Any, Protocol

import attrs
import pendulum

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
    _S_GLOBAL,
    _S_PERSON,
    _UNDOING,
    Engine,
    _limit_plans,
    _LimitPlan,
    _percent,
    _Plan,
    claw_releases,
    fit_limit,
    would_earn,
)
from cardbenefits.engine.frames import CellRows, FrameRows, polars
from cardbenefits.engine.ladders import LadderPlan, _anchor, _quantity, clawback_of, tier_unit_cost
from cardbenefits.errors import EngineError
from cardbenefits.facts import CardHolding, Customer, Transaction
from cardbenefits.ledger.entries import is_money_asset
from cardbenefits.money import Money
from cardbenefits.programmes import (
    AccrualReward,
    ActivationLadder,
    Anchor,
    ClawbackPolicy,
    PeriodUnit,
    Qualifier,
    Tier,
)

__all__ = ["BatchEvaluator", "FrameRows", "ProgrammeTotals", "Rows", "TransactionRows"]

_ZERO = Decimal(0)
_ONE = Decimal(1)
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_UNDO_VALUES = sorted(str(kind) for kind in _UNDOING)
_HASH_SEED = 20261124  # any fixed seed: ids and the ids looked up are hashed alike
# the decimal type amounts are compared and divided in, in polars: 15 integer and 8 fraction digits
# hold every amount the readers accept (simulate.columnar._AMOUNT) exactly
_SCALE = 8
_LADDER_CELLS = ("id", "customer_id", "card_id", "merchant_id", "mcc", "channel", "kind", "amount",
                 "currency", "at_us", "posted_us", "day", "posted_day")  # fmt: skip


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

    @classmethod
    def part(cls, rows: TransactionRows, start: int, stop: int) -> Rows:
        """Rows ``start`` to ``stop`` of ``rows`` (every column sliced)."""
        return cls(*(getattr(rows, f.name)[start:stop] for f in attrs.fields(cls)))

    @classmethod
    def of(cls, transactions: Sequence[Transaction], engine: Engine) -> Rows:
        """The columns of built transactions, local days in ``engine``'s calendar (tests, benchmarks)."""
        day = engine.calendar.day
        ts = transactions
        return cls(
            id=[t.id for t in ts],
            customer_id=[t.customer_id for t in ts],
            card_id=[t.card_id for t in ts],
            merchant_id=[t.merchant_id for t in ts],
            mcc=[t.mcc for t in ts],
            channel=[t.channel.value for t in ts],
            kind=[t.kind.value for t in ts],
            amount=[t.amount.amount for t in ts],
            currency=[t.amount.currency for t in ts],
            refund_of=[t.refund_of for t in ts],
            at_us=[utc_us(t.transacted_at) for t in ts],
            posted_us=[utc_us(t.posted_at) for t in ts],
            day=[day(t.transacted_at).label for t in ts],
            posted_day=[day(t.posted_at).label for t in ts],
        )


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
    tiers: Counter[str] = attrs.field(factory=Counter)
    """Ladder tiers granted, net of clawbacks."""


class _Claim:
    """One programme's entries for one transaction, as a refund reads them."""

    __slots__ = ("attributable", "granted", "net", "period", "unit_cost")

    def __init__(self) -> None:
        self.granted = _ZERO  # sum of grant quantities
        self.net = _ZERO  # grants minus clawbacks
        self.attributable: dict[str, Decimal] = {}
        self.period: str | None = None
        self.unit_cost: Decimal | None = None  # from the first grant


class _Refund:
    """A refund row of a chunk, as every programme's clawback reads it."""

    __slots__ = ("amount", "customer", "remaining", "row", "tid")

    def __init__(self, row: int, tid: str, customer: Customer, amount: Decimal, remaining: Money) -> None:
        self.row, self.tid, self.customer, self.amount, self.remaining = row, tid, customer, amount, remaining


def _qualifies(q: Qualifier, rows: TransactionRows, i: int) -> bool:
    """``q.check(...) is None`` for row ``i``, without building its Money (same checks, same order)."""
    mcc = rows.mcc[i]
    if rows.kind[i] not in q.kinds or mcc in q.excluded_mccs:
        return False
    if q.mccs is not None and mcc not in q.mccs:
        return False
    if q.merchants is not None and rows.merchant_id[i] not in q.merchants:
        return False
    if q.channels is not None and rows.channel[i] not in q.channels:
        return False
    least = q.min_amount
    if least is None:
        return True
    if least.currency == rows.currency[i]:
        return rows.amount[i] >= least.amount
    return not Money(rows.amount[i], rows.currency[i]) < least  # raises as check() does


def _last_row(days: Sequence[str], day: str, first: int) -> int:
    """The last row of ``day`` in ``days`` (sorted) from row ``first`` on."""
    lo, hi = first, len(days)
    while lo < hi:  # bisect_right on a Sequence
        mid = (lo + hi) // 2
        if day < days[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo - 1


def _exponent(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return exponent if isinstance(exponent, int) else 0


def _instant(us: int) -> _dt.datetime:
    return _EPOCH + _dt.timedelta(microseconds=us)


_EPOCH_ORDINAL = _EPOCH.toordinal()


def utc_us(instant: _dt.datetime) -> int:
    """UTC microseconds since the epoch of an aware instant, from its fields (no pendulum arithmetic).

    >>> utc_us(_dt.datetime(1970, 1, 2, 8, tzinfo=_dt.timezone(_dt.timedelta(hours=8))))
    86400000000
    """
    offset = instant.utcoffset() or _dt.timedelta()
    seconds = (instant.toordinal() - _EPOCH_ORDINAL) * 86_400 + instant.hour * 3600 + instant.minute * 60
    seconds += instant.second - offset.days * 86_400 - offset.seconds
    return seconds * 1_000_000 + instant.microsecond - offset.microseconds


def _us(instant: _dt.datetime | None) -> int | None:
    return None if instant is None else utc_us(instant)


def _month_starts(tz: str) -> Callable[[int], int]:
    """The UTC µs at which month ``index`` (``year * 12 + month - 1``) starts in zone ``tz``."""
    starts: dict[int, int] = {}

    def month_start(index: int) -> int:
        found = starts.get(index)
        if found is None:
            found = starts[index] = utc_us(pendulum.datetime(index // 12, index % 12 + 1, 1, tz=tz))
        return found

    return month_start


def _window_shape(ladder: ActivationLadder) -> tuple[bool, int, int, int | None, int]:
    """What :func:`ladder_windows` spans past an anchor: ``(covered, first, last, days, span_us)``,
    the months ``first`` (inclusive) to ``last`` (exclusive) after the anchor's if ``covered``,
    and ``span_us`` from the anchor if a tier counts ``days`` after it."""
    covered = [
        n
        for t in ladder.tiers
        if t.within_days is None
        for n in range(t.first_period, t.first_period + t.periods)
    ]
    days = max((t.within_days for t in ladder.tiers if t.within_days is not None), default=None)
    margin = 1 if ladder.basis is PeriodUnit.STATEMENT else 0
    first, last = (min(covered) - margin, max(covered) + 1 + margin) if covered else (0, 0)
    span_us = (days + 1) * 86_400_000_000 if days is not None else 0
    return bool(covered), first, last, days, span_us


def window_frame(
    engine: Engine, ladder: ActivationLadder, customers: Mapping[str, Customer], since_us: int | None = None
) -> Any:
    """:func:`ladder_windows` as a polars frame (``card_id``, ``__lo``, ``__hi``), computed column-wise."""
    pl = polars()
    col = pl.col
    covered, first, last, days, span_us = _window_shape(ladder)
    by_approval = ladder.anchor is Anchor.APPROVAL
    ids: list[str] = []
    anchors: list[int] = []
    for customer in getattr(customers, "unsegmented", customers).values():
        for card in customer.cards:
            anchor = card.approved_at if by_approval else card.activated_at
            if anchor is not None:
                ids.append(card.card_id)
                anchors.append(utc_us(anchor))
    frame = pl.DataFrame({"card_id": ids, "__a": anchors}, schema={"card_id": pl.String, "__a": pl.Int64})
    far = 1 << 62
    lo: Any = pl.lit(far)
    hi: Any = pl.lit(-far)
    if covered:
        local = col("__a").cast(pl.Datetime("us", "UTC")).dt.convert_time_zone(engine.timezone)
        frame = frame.with_columns((local.dt.year().cast(pl.Int64) * 12 + local.dt.month() - 1).alias("__m"))
        month_start = _month_starts(engine.timezone)
        indices = frame.get_column("__m").unique().to_list()
        starts = {i + k: month_start(i + k) for i in indices for k in (first, last)}
        lo = (col("__m") + first).replace_strict(starts, return_dtype=pl.Int64)
        hi = (col("__m") + last).replace_strict(starts, return_dtype=pl.Int64)
    if days is not None:
        lo = pl.min_horizontal(lo, col("__a"))
        hi = pl.max_horizontal(hi, col("__a") + span_us)
    since = since_us if since_us is not None else -far
    return (
        frame.select("card_id", lo.alias("__lo"), hi.alias("__hi"))
        .group_by("card_id")
        .agg(col("__lo").min(), col("__hi").max())
        .filter(col("__hi") > since)
    )


def ladder_windows(
    engine: Engine, ladder: ActivationLadder, customers: Mapping[str, Customer], since_us: int | None = None
) -> dict[str, tuple[int, int]]:
    """Per card id: an instant range (UTC µs) holding every instant ``ladder`` may count on it.

    A ladder counts a transaction only in the periods its tiers cover (months, or statement
    cycles, after the anchor's) or within a tier's ``within_days`` of the anchor; the range
    spans them all, with a month of margin for statement cycles and a day for ``within_days``.
    Cards whose range ends before ``since_us`` (the first instant to decide) are left out.
    """
    month_start = _month_starts(engine.timezone)
    covered, first, last, days, span_us = _window_shape(ladder)
    windows: dict[str, tuple[int, int]] = {}
    since = since_us if since_us is not None else -(1 << 62)
    day, by_approval = engine.calendar.day, ladder.anchor is Anchor.APPROVAL
    none = (1 << 62, -(1 << 62))
    # cards only: segmented customers (segments.SegmentedCustomers) need not be built for them
    for customer in getattr(customers, "unsegmented", customers).values():
        for card in customer.cards:
            anchor = card.approved_at if by_approval else card.activated_at
            if anchor is None:
                continue
            lo, hi = windows.get(card.card_id, none)
            if covered:
                index = day(anchor).month_index
                start, end = month_start(index + first), month_start(index + last)
                lo, hi = (start if start < lo else lo), (end if end > hi else hi)
            if days is not None:
                start = utc_us(anchor)
                lo, hi = (start if start < lo else lo), (start + span_us if start + span_us > hi else hi)
            if hi > since:  # a range ending before the first instant to decide holds none of them
                windows[card.card_id] = (lo, hi)
    return windows


class _Kept:
    """One chunk's purchases kept for refunds (id, customer, amount, instant, a flag per programme
    granting column-wise), with the smallest and largest id (a look-up skips chunks outside).

    Ids are found by binary search: on the ids themselves when they are sorted (ids that grow
    with time), else on their hashes, sorted the first time the chunk is searched.
    """

    __slots__ = ("first", "frame", "hashes", "last", "order", "sorted")

    def __init__(self, frame: Any) -> None:
        self.frame = frame
        ids = frame.get_column("id")
        self.first: str = ids.min()
        self.last: str = ids.max()
        self.sorted: bool = ids.is_sorted()
        self.hashes: Any = None
        self.order: Any = None

    def find(self, tids: list[str]) -> Any:
        """The last row of each of ``tids`` (sorted) found, in row order."""
        pl = polars()
        frame = self.frame
        ids = frame.get_column("id")
        wanted = pl.Series(tids, dtype=pl.String)
        if self.sorted:
            at = (ids.search_sorted(wanted, side="right").cast(pl.Int64) - 1).clip(0)  # an id's last row
            return frame.gather(at.filter(ids.gather(at) == wanted).unique().sort())
        if self.hashes is None:
            hashes = ids.hash(seed=_HASH_SEED)
            self.order = hashes.arg_sort()
            self.hashes = hashes.gather(self.order)
        keys = wanted.hash(seed=_HASH_SEED)
        spans = pl.DataFrame(
            {
                "lo": self.hashes.search_sorted(keys, side="left").cast(pl.Int64),
                "hi": self.hashes.search_sorted(keys, side="right").cast(pl.Int64),
            }
        )
        slots = spans.select(pl.int_ranges("lo", "hi").explode().drop_nulls()).to_series()
        rows = self.order.gather(slots).sort()
        found = frame.gather(rows)
        return found.filter(pl.col("id").is_in(tids)).unique("id", keep="last", maintain_order=True)


class _LadderClaim:
    """A ladder's spend counted for one transaction: the card and the counters it charged."""

    __slots__ = ("card_id", "have")

    def __init__(self, card_id: str) -> None:
        self.card_id = card_id
        self.have: dict[str, Decimal] = {}


class BatchEvaluator:
    """Decides ``engine``'s transaction programmes for chunks of rows (see the module docstring).

    ``customers`` are the customers the rows name (a row naming another raises
    :class:`~cardbenefits.errors.EngineError`). Counters start at zero: the evaluator is the
    only writer of the programmes' counters, as in a fresh simulation.
    """

    def __init__(
        self, engine: Engine, customers: Mapping[str, Customer], *, horizon: _dt.timedelta | None = None
    ) -> None:
        self.engine = engine
        self.horizon = horizon
        """Forget what refunds read of transactions older than this before the newest row (None: keep)."""
        self._watermark = -(1 << 62)
        self._horizon_us = horizon // _dt.timedelta(microseconds=1) if horizon is not None else 1 << 62
        self._prune_floor = self._prune_at = 1 << 16  # prune when this many are recorded
        self.customers = customers
        self._totals: dict[str, ProgrammeTotals] = {p.id: ProgrammeTotals() for p in engine.programmes}
        # customers reached column-wise, per programme: unique ids per chunk, merged when read
        self._reached: dict[str, list[Any]] = {}
        self.forgotten = 0
        """Transactions forgotten past the horizon."""
        self.refunds: dict[str, Decimal] = {}
        """Refunds the programmes recorded (the engine's ``refund recorded`` entry): id → amount."""
        self._usage: dict[str, Decimal] = {}
        # transactions something was recorded for (grant or counted spend): customer, amount, currency
        self._recorded: dict[str, tuple[str, Decimal, str, int]] = {}
        # per programme, per transaction: the entries a refund reads (limits or period flooring)
        self._claims: dict[str, dict[str, _Claim]] = {pid: {} for pid in self._totals}
        # per programme without counters: granted, and clawed back so far, per transaction
        # (granted, customer, amount, currency, at): the original's record travels with the grant
        self._granted: dict[str, dict[str, tuple[Decimal, str, Decimal, str, int]]] = {
            pid: {} for pid in self._totals
        }
        self._clawed: dict[str, dict[str, Decimal]] = {pid: {} for pid in self._totals}
        self._bases = {c.base for c in engine._plans.values() if c.reward_code == _BONUS}
        self._canon: dict[str, dict[Decimal, Decimal]] = {}
        free = [c.id for c in engine._all if not c.limits and c.reward_code != _ACCRUE_PERIOD]
        self._free_stores = [self._granted[pid] for pid in free]
        for plan in engine._ladder_plans:
            self._totals[plan.id] = ProgrammeTotals()
        self._ladder_claims: dict[str, dict[str, _LadderClaim]] = {p.id: {} for p in engine._ladder_plans}
        # (ladder, tier, customer, card) -> the positive charges of the tier's latest grant
        self._tier_grants: dict[tuple[str, str, str, str], list[tuple[str, Decimal]]] = {}
        self._ladder_windows: dict[str, dict[str, tuple[int, int]]] = {}
        self._ladder_limits = {p.id: _limit_plans(p.id, p.ladder.limits) for p in engine._ladder_plans}
        self._cards: dict[tuple[str, str], CardHolding | None] = {}
        self._records: dict[tuple[str, str], Mapping[str, object]] = {}
        self._days: dict[str, LocalDay] = {}
        self._names: dict[str, str] = {}
        self._window = {c.id: (_us(c.valid_from), _us(c.valid_until)) for c in engine._plans.values()}
        self._claw_order = engine._all
        # the vectorized path (FrameRows): ladder windows as frames, and per
        # chunk the rows programmes granted column-wise (a refund faults its original's record in)
        self._window_frames: dict[str, Any] = {}
        self._known: Any = None  # the customers' ids, a polars frame
        # (ladder, tier, customer, card) -> a period label short of the tier when last looked at
        self._short: dict[tuple[str, str, str, str], str] = {}
        self._kept: list[_Kept] = []

    # -- state ---------------------------------------------------------------------------------
    @property
    def totals(self) -> dict[str, ProgrammeTotals]:
        """What each programme and ladder did so far, by id (:class:`ProgrammeTotals`)."""
        if self._reached:
            pl = polars()
            for pid, parts in self._reached.items():
                self._totals[pid].customers.update(pl.concat(parts).unique().to_list())
            self._reached.clear()
        return self._totals

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
    def run(self, rows: TransactionRows, *, customers_known: bool = False) -> None:
        """Decide every row of ``rows`` (the next chunk of the stream, in replay order).

        Programme by programme, in the engine's order (bases before their multipliers): the
        qualifier checks filter the chunk's purchases column-wise; a programme without limits or
        period flooring then earns column-wise too, others walk their qualifying rows and the
        refunds in row order, fitting limits as :meth:`Engine._fit` does. The figures equal the
        engine's row-by-row decisions because no programme reads another's counters.

        A row naming a customer not in :attr:`customers` raises :class:`EngineError` after the
        rows before it; ``customers_known=True`` skips that check on frames (the caller made
        it, as the simulation does to report it in its own order).
        """
        if isinstance(rows, FrameRows):
            self._run_frame(rows, customers_known)
            return
        ids, cids, kinds = rows.id, rows.customer_id, rows.kind
        n = len(ids)
        customers = self.customers
        unknown = {cid for cid in cids if cid not in customers}
        if unknown:
            first = next(i for i in range(n) if cids[i] in unknown)
            if first:
                self.run(Rows.part(rows, 0, first))
            raise EngineError("the transaction names an unknown customer", path=f"{ids[first]}.customer_id",
                              value=cids[first])  # fmt: skip
        undo = [i for i in range(n) if kinds[i] in _UNDOING]
        buys = [i for i in range(n) if kinds[i] not in _UNDOING] if undo else list(range(n))
        refunds, failure = self._refunds(rows, undo)
        base_rows: dict[str, dict[int, Decimal]] = {}
        kept: dict[int, dict[str, Decimal]] = {r.row: {} for r in refunds}
        by_mcc: dict[str, list[int]] | None = None
        if sum(1 for c in self._claw_order if c.mccs is not None) > 1:
            by_mcc = {}
            mccs = rows.mcc
            for i in buys:
                by_mcc.setdefault(mccs[i], []).append(i)
        for c in self._claw_order:
            rows_ok = self._qualify(c, rows, buys, by_mcc)
            if c.limits or c.reward_code == _ACCRUE_PERIOD:
                self._walk(c, rows, rows_ok, refunds, base_rows, kept)
            else:
                self._earn(c, rows, rows_ok, refunds, base_rows, kept)
        for plan in self.engine._ladder_plans:
            self._ladder(plan, rows, buys, refunds)
        self._close(rows, refunds, failure, n)

    def _close(
        self,
        rows: TransactionRows,
        refunds: list[_Refund],
        failure: tuple[int, str, EngineError] | None,
        n: int,
    ) -> None:
        """After every programme and ladder: the refunds recorded, the first refund error, pruning."""
        ids = rows.id
        for r in refunds:
            if self._original(r.tid) is not None:
                counter = f"refunded:{r.tid}"
                self._usage[counter] = self._usage.get(counter, _ZERO) + r.amount
                self.refunds[ids[r.row]] = r.amount
        if failure is not None and self._original(failure[1]) is not None:
            raise failure[2]
        if n:
            self._watermark = max(self._watermark, rows.at_us[n - 1])
        if self.horizon is not None and self._size() >= self._prune_at:
            self._prune()

    # -- the vectorized path ------------------------------------------------------------------
    def _run_frame(self, rows: FrameRows, customers_known: bool = False) -> None:
        """:meth:`run` for rows held as a polars frame: the same decisions, most of them column-wise.

        Qualifier checks are polars expressions. A programme without limits, period flooring,
        eligibility rule or multiplier on it, paying a fixed amount or points per transaction,
        earns column-wise too: totals by group, no Python value per row. What a later refund
        needs of those grants stays in the frame (``_kept``) until a refund names the
        transaction. Everything else (limited programmes, ladders, refunds) reads cells of
        the rows it visits (:class:`~cardbenefits.engine.frames.CellRows`) with the list
        path's own code.
        """
        pl = polars()
        col = pl.col
        frame = rows.frame
        n = int(frame.height)
        if not n:
            return
        if not customers_known:
            first = self.unknown_row(rows)
            if first is not None:
                if first:
                    self._run_frame(rows.slice(0, first))
                tid, cid = frame["id"][first], frame["customer_id"][first]
                message = "the transaction names an unknown customer"
                raise EngineError(message, path=f"{tid}.customer_id", value=cid)
        cells = CellRows(rows)
        exact = not frame.select(col("amount").str.contains(r"[eE]|\.[0-9]{9}").any()).item()
        work = frame.with_columns(
            pl.int_range(0, pl.len(), dtype=pl.Int64).alias("__row"),
            *([col("amount").cast(pl.Decimal(38, _SCALE)).alias("__amount")] if exact else []),
        )
        undoing = frame.get_column("kind").is_in(_UNDO_VALUES)
        undo = undoing.arg_true().to_list() if undoing.any() else []
        position: dict[str, int] = {}
        if undo:
            cells.load(undo, ("id", "customer_id", "refund_of", "amount", "currency", "at_us", "day"))
            tids = {cells.refund_of[r] for r in undo}
            tids.discard(None)
            hits = work.select("id", "__row").filter(col("id").is_in(list(tids)))
            position = dict(zip(hits["id"].to_list(), hits["__row"].to_list(), strict=True))
            self._fault_in(tids - position.keys())  # originals of earlier chunks
            cells.load(sorted(position.values()), ("kind", "customer_id", "amount", "currency", "at_us"))
        refunds, failure = self._refunds(cells, undo, position)
        buys = ~undoing
        base_rows: dict[str, dict[int, Decimal]] = {}
        kept: dict[int, dict[str, Decimal]] = {r.row: {} for r in refunds}
        granted: dict[str, Any] = {}
        for c in self._claw_order:
            if exact and self._columnwise(c):
                granted[c.id] = self._earn_frame(c, work, cells, buys, refunds, kept, position)
                continue
            found = self._qualify_frame(c, work, cells, buys, exact).arg_true().to_list()
            if c.limits or c.reward_code == _ACCRUE_PERIOD:
                self._walk(c, cells, found, refunds, base_rows, kept)
            else:
                self._earn(c, rows, found, refunds, base_rows, kept)
        if granted:
            # every purchase, granted or not: a refund's original is then found in the chunks
            # just before it (the search stops there), not after a search through all of them
            keep = work.select(
                "id", "customer_id", "amount", "at_us", *[g.alias(f"g:{pid}") for pid, g in granted.items()]
            ).filter(buys)
            if keep.height:
                self._kept.append(_Kept(keep))
        for plan in self.engine._ladder_plans:
            found = self._ladder_rows(plan, work, buys)
            cells.load(found, _LADDER_CELLS)
            self._ladder(plan, cells, [], refunds, found)
        self._close(cells, refunds, failure, n)

    def unknown_row(self, rows: FrameRows) -> int | None:
        """The first row of ``rows`` naming a customer not in :attr:`customers` (None: there is none)."""
        pl = polars()
        if self._known is None:
            ids = list(self.customers)
            self._known = pl.DataFrame({"customer_id": ids}, schema={"customer_id": pl.String})
        frame = rows.frame.select("customer_id", pl.int_range(0, pl.len(), dtype=pl.Int64).alias("row"))
        strangers = frame.join(self._known, on="customer_id", how="anti")
        return int(strangers.get_column("row").min()) if strangers.height else None  # type: ignore[arg-type]

    def _columnwise(self, c: _Plan) -> bool:
        """Whether ``c`` earns column-wise (see :meth:`_run_frame`)."""
        if c.limits or c.eligibility is not None or c.id in self._bases:
            return False
        if c.min_amount is not None and _exponent(c.min_amount) < -_SCALE:
            return False
        if c.reward_code == _FIXED:
            return True
        if c.reward_code == _ACCRUE:
            return _exponent(c.reward.per.amount) >= -_SCALE  # type: ignore[union-attr]
        return False

    def _qualify_frame(self, c: _Plan, work: Any, cells: CellRows, buys: Any, exact: bool) -> Any:
        """:meth:`_qualify` as polars expressions: the mask of qualifying rows, refusals counted."""
        pl = polars()
        col = pl.col
        refusals = self._totals[c.id].refusals
        silent = col("kind").is_in([str(k) for k in c.kinds])
        if c.mccs is not None:
            silent = silent & col("mcc").is_in(sorted(c.mccs))
        if c.channels is not None:
            silent = silent & col("channel").is_in(sorted(str(ch) for ch in c.channels))
        checks: list[tuple[str, Any]] = []
        start, end = self._window[c.id]
        if start is not None or end is not None:
            at = col("posted_us" if c.posting else "at_us")
            outside = pl.lit(False)
            if start is not None:
                outside = outside | (at < start)
            if end is not None:
                outside = outside | (at >= end)
            checks.append(("validity", outside))
        if c.excluded:
            checks.append(("mcc_excluded", col("mcc").is_in(sorted(c.excluded))))
        if c.merchants is not None:
            checks.append(("merchant", ~col("merchant_id").is_in(sorted(c.merchants))))
        checks.append(("currency", col("currency") != c.currency))
        least = c.min_amount
        in_python = least is not None and (not exact or _exponent(least) < -_SCALE)
        if least is not None and not in_python:
            checks.append(("min_amount", col("__amount") < pl.lit(least, pl.Decimal(38, _SCALE))))
        code: Any = pl.lit(None, pl.String)
        for name, failed in reversed(checks):
            code = pl.when(failed).then(pl.lit(name)).otherwise(code)
        judged = work.select(silent.alias("s"), code.alias("code")).with_columns(col("s") & buys)
        if checks:
            counts = judged.filter(col("s") & col("code").is_not_null()).group_by("code").len()
            for name, count in counts.iter_rows():
                refusals["not_qualified:" + name] += count
        mask = judged.get_column("s") & judged.get_column("code").is_null()
        if not in_python and c.eligibility is None:
            return mask
        found = mask.arg_true().to_list()
        if in_python:
            assert least is not None
            cells.load(found, ("amount",))
            amounts = cells.amount
            found = self._keep(found, [i for i in found if amounts[i] >= least], refusals, "min_amount")
        if c.eligibility is not None:
            cells.load(found, ("customer_id", "card_id", "posted_us" if c.posting else "at_us"))
            rule, cids, cards, customers = c.eligibility, cells.customer_id, cells.card_id, self.customers
            at_cells = cells.posted_us if c.posting else cells.at_us
            passed = []
            for i in found:
                customer = customers[cids[i]]
                record = self._record(customer, self._card(customer, cards[i]))
                if rule.evaluate(record, _instant(at_cells[i])):
                    passed.append(i)
            if len(passed) != len(found):
                refusals["ineligible"] += len(found) - len(passed)
            found = passed
        out = pl.Series([False] * int(work.height), dtype=pl.Boolean)
        if found:
            out = out.scatter(found, True)
        return out

    def _earn_frame(
        self,
        c: _Plan,
        work: Any,
        cells: CellRows,
        buys: Any,
        refunds: list[_Refund],
        kept: dict[int, dict[str, Decimal]],
        position: Mapping[str, int],
    ) -> Any:
        """:meth:`_earn` column-wise (fixed amounts, points per transaction): the mask of grants."""
        pl = polars()
        col = pl.col
        pid = c.id
        totals = self._totals[pid]
        mask = self._qualify_frame(c, work, cells, buys, True)
        accrual: Any = c.reward if c.reward_code == _ACCRUE else None
        if accrual is not None:
            whole = col("__amount") // pl.lit(accrual.per.amount, pl.Decimal(38, _SCALE))
            judged = work.select(mask.alias("m"), whole.alias("q")).with_columns(
                (col("m") & (col("q") >= 1)).alias("g")
            )
            granted = judged.get_column("g")
        else:
            granted = mask if c.fixed > 0 else mask & False
        found, earned = int(mask.sum()), int(granted.sum())
        if found != earned:
            totals.refusals["not_qualified:not_reward"] += found - earned
        if earned:
            day = "posted_day" if c.posting else "day"
            rows = work.filter(granted)
            totals.grants += earned
            self._reached.setdefault(pid, []).append(rows.get_column("customer_id").unique())
            if accrual is not None:
                per_day = rows.select(day, judged.filter(granted).get_column("q").alias("q"))
                sums = per_day.group_by(day, maintain_order=True).agg(col("q").sum())
                factor = accrual.units * accrual.multiplier
                by_day = [(d, Decimal(int(q)) * factor) for d, q in sums.iter_rows()]
            else:
                counts = rows.group_by(day, maintain_order=True).len()
                by_day = [(d, c.fixed * k) for d, k in counts.iter_rows()]
            asset = c.asset
            totals.quantity[asset] = totals.quantity.get(asset, _ZERO) + sum((q for _d, q in by_day), _ZERO)
            cost_by_day = totals.cost_by_day
            cost = _ZERO
            for d, q in by_day:
                value = q if c.money else q * c.unit_cost
                cost_by_day[d] = cost_by_day.get(d, _ZERO) + value
                cost += value
            totals.cost += cost
        if refunds and earned:
            # an original granted in this chunk: its record, for the clawback below
            here = [(r.tid, p) for r in refunds if (p := position.get(r.tid)) is not None and p < r.row]
            flags = granted.gather([p for _tid, p in here]).to_list() if here else []
            here = [item for item, flag in zip(here, flags, strict=True) if flag]
            cells.load(sorted({p for _tid, p in here}), ("customer_id", "amount", "at_us"))
            store = self._granted[pid]
            for tid, p in here:
                store[tid] = self._record_of(c, cells.customer_id[p], cells.amount[p], cells.at_us[p])
        self._earn_refunds(c, cells, refunds, kept)
        return granted

    def _record_of(
        self, c: _Plan, customer_id: str, amount: Decimal, at: int
    ) -> tuple[Decimal, str, Decimal, str, int]:
        """What :meth:`_earn` stores of a transaction ``c`` granted column-wise."""
        if c.reward_code == _ACCRUE:
            r: Any = c.reward
            quantity = (amount // r.per.amount) * r.units * r.multiplier
        else:
            quantity = c.fixed
        return (quantity, self.customers[customer_id].id, amount, c.currency, at)

    def _fault_in(self, tids: set[str]) -> None:
        """Records of earlier chunks' column-wise grants of ``tids`` (refunded now), newest first."""
        if not self._kept:
            return
        plans = self.engine._plans
        pending = sorted(tids)
        for kept in reversed(self._kept):
            if not pending:
                return
            # only ids within the chunk's range can be there (ids that grow with time: one chunk)
            lo, hi = bisect.bisect_left(pending, kept.first), bisect.bisect_right(pending, kept.last)
            if lo == hi:
                continue
            hits = kept.find(pending[lo:hi])
            if not hits.height:
                continue
            flags = [name for name in hits.columns if name.startswith("g:")]
            found: set[str] = set()
            for row in hits.iter_rows(named=True):
                tid = row["id"]
                found.add(tid)
                for flag in flags:
                    if row[flag]:
                        c = plans[flag[2:]]
                        record = self._record_of(c, row["customer_id"], Decimal(row["amount"]), row["at_us"])
                        self._granted[c.id][tid] = record
            pending = [t for t in pending if t not in found]

    def _ladder_rows(self, plan: LadderPlan, work: Any, buys: Any) -> list[int]:
        """The purchases on a card inside ``plan``'s window (:func:`ladder_windows`), by a join."""
        pl = polars()
        col = pl.col
        frames = self._window_frames.get(plan.id)
        if frames is None:
            first = work.select(pl.min_horizontal(col("at_us").first(), col("posted_us").first())).item()
            frames = window_frame(self.engine, plan.ladder, self.customers, first)
            self._window_frames[plan.id] = frames
        at = col("posted_us" if plan.posting else "at_us")
        # rows the ladder's qualifier surely refuses never count (a row in another currency than
        # min_amount's stays: _qualifies raises for it, as the engine does)
        q = plan.ladder.qualifier
        fails = ~col("kind").is_in(sorted(q.kinds)) | col("mcc").is_in(sorted(q.excluded_mccs))
        if q.mccs is not None:
            fails = fails | ~col("mcc").is_in(sorted(q.mccs))
        if q.merchants is not None:
            fails = fails | ~col("merchant_id").is_in(sorted(q.merchants))
        if q.channels is not None:
            fails = fails | ~col("channel").is_in(sorted(q.channels))
        least = q.min_amount
        if least is not None and "__amount" in work.columns and _exponent(least.amount) >= -_SCALE:
            below = col("__amount") < pl.lit(least.amount, pl.Decimal(38, _SCALE))
            fails = fails | ((col("currency") == least.currency) & below)
        inside = (
            work.filter(buys & ~work.select(fails).to_series())
            .select("__row", "card_id", at.alias("__at"))
            .join(frames, on="card_id", how="inner")
            .filter((col("__at") >= col("__lo")) & (col("__at") < col("__hi")))
        )
        return sorted(inside.get_column("__row").to_list())

    def _original(self, tid: str) -> tuple[str, Decimal, str, int] | None:
        """``(customer, amount, currency, at)`` of a transaction something was recorded for."""
        found = self._recorded.get(tid)
        if found is not None:
            return found
        for store in self._free_stores:
            granted = store.get(tid)
            if granted is not None:
                return granted[1:]
        return None

    def _size(self) -> int:
        kept = sum(int(kept.frame.height) for kept in self._kept)
        return len(self._recorded) + sum(len(store) for store in self._free_stores) + kept

    def _prune(self) -> None:
        """Drop what refunds read of transactions older than the horizon before the newest row.

        A refund more than ``horizon`` after its original claws nothing back (as with
        :class:`~cardbenefits.ledger.windowed.WindowedLedger`, whose horizon counts from the
        newest entry instead of the refund), whether or not the original was dropped yet, so
        the figures do not depend on chunk sizes. Counters are kept.
        """
        cutoff = self._watermark - self._horizon_us
        old = [tid for tid, record in self._recorded.items() if record[3] < cutoff]
        for free in self._free_stores:
            old += [tid for tid, record in free.items() if record[4] < cutoff]
        stores: list[dict[str, Any]] = [self._recorded]
        stores += self._granted.values()
        stores += self._clawed.values()
        stores += self._claims.values()
        stores += self._ladder_claims.values()
        for store in stores:
            if store:
                for tid in old:
                    store.pop(tid, None)
        if self._kept:
            pl = polars()
            old_kept: set[str] = set()
            fresh: list[_Kept] = []
            for kept in self._kept:
                before = kept.frame
                after = before.filter(pl.col("at_us") >= cutoff)
                if after.height != before.height:
                    old_kept.update(before.filter(pl.col("at_us") < cutoff).get_column("id").to_list())
                    if after.height:
                        fresh.append(_Kept(after))
                else:
                    fresh.append(kept)
            self._kept = fresh
            old.extend(old_kept)
        self.forgotten += len(set(old))
        self._prune_at = max(self._prune_floor, 2 * self._size())

    def _refunds(
        self, rows: TransactionRows, undo: list[int], position: Mapping[str, int] | None = None
    ) -> tuple[list[_Refund], tuple[int, str, EngineError] | None]:
        """The chunk's refunds of known originals, with what remains of each original after it.

        ``remaining`` assumes the original was recorded (else no programme holds anything to
        claw back, and the refund changes nothing). The first refund exceeding what is left is
        returned as an error, raised after the chunk if its original was recorded.
        """
        if not undo:
            return [], None
        ids, cids, amounts, refund_of = rows.id, rows.customer_id, rows.amount, rows.refund_of
        kinds = rows.kind
        if position is None:  # row of each id in the chunk (the last, as for duplicates)
            position = dict(zip(ids, range(len(ids)), strict=True))
        horizon = self._horizon_us
        pending: dict[str, Decimal] = {}
        out: list[_Refund] = []
        for r in undo:
            tid = refund_of[r]
            if tid is None:
                raise EngineError("a refund names the transaction it undoes", path=f"{ids[r]}.refund_of",
                                  value=None)  # fmt: skip
            original = self._original(tid)
            if original is None:
                p = position.get(tid)
                if p is None or p > r or kinds[p] in _UNDOING:
                    continue  # nothing was granted or counted for the original
                original = (cids[p], amounts[p], rows.currency[p], rows.at_us[p])
            customer_id, original_amount, currency, original_at = original
            if customer_id != cids[r] or original_at < rows.at_us[r] - horizon:
                continue  # another customer's, or forgotten past the horizon
            before = pending.get(tid)
            if before is None:
                before = self._usage.get(f"refunded:{tid}", _ZERO)
            amount = amounts[r]
            if before + amount > original_amount:
                error = EngineError(
                    f"refund exceeds what is left of {tid} ({original_amount - before})",
                    path=f"{ids[r]}.amount",
                    value=Money(amount, rows.currency[r]),
                )
                return out, (r, tid, error)
            pending[tid] = before + amount
            remaining = Money(original_amount - before - amount, currency)
            out.append(_Refund(r, tid, self.customers[cids[r]], amount, remaining))
        return out, None

    def _qualify(
        self, c: _Plan, rows: TransactionRows, buys: list[int], by_mcc: dict[str, list[int]] | None = None
    ) -> list[int]:
        """The purchases ``c``'s qualifier accepts, refusals counted (the engine's order of checks).

        ``by_mcc`` (purchase rows per MCC, in row order) lets a programme of designated MCCs
        visit only their rows.
        """
        refusals = self._totals[c.id].refusals
        kinds, mccs, channels = rows.kind, rows.mcc, rows.channel
        kinds_ok = c.kinds
        # the trigger index: rows whose kind, MCC and channel cannot match never meet c
        if c.mccs is not None and by_mcc is not None:
            parts = [by_mcc[m] for m in c.mccs if m in by_mcc]
            found = (
                sorted(i for part in parts for i in part)
                if len(parts) > 1
                else list(parts[0] if parts else ())
            )
            found = [i for i in found if kinds[i] in kinds_ok]
        else:
            found = [i for i in buys if kinds[i] in kinds_ok]
            if c.mccs is not None:
                wanted = c.mccs
                found = [i for i in found if mccs[i] in wanted]
        if c.channels is not None:
            allowed = c.channels
            found = [i for i in found if channels[i] in allowed]
        start, end = self._window[c.id]
        if start is not None or end is not None:
            at = rows.posted_us if c.posting else rows.at_us
            lo = start if start is not None else -(1 << 62)
            hi = end if end is not None else 1 << 62
            found = self._keep(found, [i for i in found if lo <= at[i] < hi], refusals, "validity")
        if c.excluded:
            excluded = c.excluded
            found = self._keep(found, [i for i in found if mccs[i] not in excluded], refusals, "mcc_excluded")
        if c.merchants is not None:
            merchants, merchant_ids = c.merchants, rows.merchant_id
            found = self._keep(
                found, [i for i in found if merchant_ids[i] in merchants], refusals, "merchant"
            )
        currencies = rows.currency
        currency = c.currency
        found = self._keep(found, [i for i in found if currencies[i] == currency], refusals, "currency")
        if c.min_amount is not None:
            least, amounts = c.min_amount, rows.amount
            found = self._keep(found, [i for i in found if amounts[i] >= least], refusals, "min_amount")
        if c.eligibility is not None:
            rule, cids, cards, customers = c.eligibility, rows.customer_id, rows.card_id, self.customers
            at = rows.posted_us if c.posting else rows.at_us
            passed = []
            for i in found:
                customer = customers[cids[i]]
                if rule.evaluate(self._record(customer, self._card(customer, cards[i])), _instant(at[i])):
                    passed.append(i)
            if len(passed) != len(found):
                refusals["ineligible"] += len(found) - len(passed)
            found = passed
        return found

    @staticmethod
    def _keep(before: list[int], after: list[int], refusals: Counter[str], code: str) -> list[int]:
        if len(after) != len(before):
            refusals["not_qualified:" + code] += len(before) - len(after)
        return after

    def _earned(
        self, c: _Plan, rows: TransactionRows, found: list[int], base: dict[int, Decimal]
    ) -> list[Decimal]:
        """What each qualifying row earns before limits (per-transaction rewards)."""
        code = c.reward_code
        amounts = rows.amount
        if code == _FIXED:
            return [c.fixed] * len(found)
        if code == _ACCRUE:
            r: Any = c.reward
            per, units, multiplier = r.per.amount, r.units, r.multiplier
            return [(amounts[i] // per) * units * multiplier for i in found]
        if code == _PERCENT:
            currencies = rows.currency
            return [_percent(c, Money(amounts[i], currencies[i])) for i in found]
        extra = c.reward.extra  # type: ignore[union-attr]
        return [extra(base.get(i, _ZERO)) for i in found]

    def _earn(
        self,
        c: _Plan,
        rows: TransactionRows,
        found: list[int],
        refunds: list[_Refund],
        base_rows: dict[str, dict[int, Decimal]],
        kept: dict[int, dict[str, Decimal]],
    ) -> None:
        """A programme without limits or period flooring: grants column-wise, then its clawbacks."""
        pid = c.id
        totals = self._totals[pid]
        earned = self._earned(c, rows, found, base_rows.get(c.base, {}) if c.reward_code == _BONUS else {})
        granted = [(i, e) for i, e in zip(found, earned, strict=True) if e > 0]
        if len(granted) != len(found):
            totals.refusals["not_qualified:not_reward"] += len(found) - len(granted)
        if pid in self._bases:
            base_rows[pid] = dict(granted)
        if granted:
            ids, cids, amounts = rows.id, rows.customer_id, rows.amount
            days = rows.posted_day if c.posting else rows.day
            at_us = rows.at_us
            store = self._granted[pid]
            rows_at = [i for i, _q in granted]
            if c.reward_code == _ACCRUE:
                # whole multiples of one exponent: one object per value, not per transaction
                canon = self._canon.setdefault(pid, {})
                quantities = [canon.setdefault(q, q) for _i, q in granted]
            else:
                quantities = [q for _i, q in granted]
            # the customer's own id and the plan's currency: shared strings, not one per row
            customers, currency = self.customers, c.currency
            store.update(
                {
                    ids[i]: (q, customers[cids[i]].id, amounts[i], currency, at_us[i])
                    for i, q in zip(rows_at, quantities, strict=True)
                }
            )
            totals.grants += len(granted)
            totals.customers.update([cids[i] for i in rows_at])
            asset = c.asset
            totals.quantity[asset] = totals.quantity.get(asset, _ZERO) + sum(quantities, _ZERO)
            by_day = totals.cost_by_day
            costs = quantities if c.money else [q * c.unit_cost for q in quantities]
            cost = sum(costs, _ZERO)
            if c.posting:  # posting days need not be in row order
                for i, value in zip(rows_at, costs, strict=True):
                    day = days[i]
                    by_day[day] = by_day.get(day, _ZERO) + value
            else:  # rows are in time order, so are their days: one sum per day
                start = 0
                while start < len(rows_at):
                    day = days[rows_at[start]]
                    end = bisect.bisect_right(rows_at, _last_row(days, day, rows_at[start]), start)
                    by_day[day] = by_day.get(day, _ZERO) + sum(costs[start:end], _ZERO)
                    start = end
            totals.cost += cost
        self._earn_refunds(c, rows, refunds, kept)

    def _earn_refunds(
        self, c: _Plan, rows: TransactionRows, refunds: list[_Refund], kept: dict[int, dict[str, Decimal]]
    ) -> None:
        """The clawbacks of a programme without limits or period flooring, refund by refund."""
        pid = c.id
        if refunds:
            store, clawed = self._granted[pid], self._clawed[pid]
            for r in refunds:
                record = store.get(r.tid)
                if record is None:
                    continue
                total = record[0]
                net = total - clawed.get(r.tid, _ZERO)
                would = would_earn(c, r.remaining, kept[r.row])
                keep = min(would, total)
                claw = max(net - keep, _ZERO)
                kept[r.row][pid] = max(keep, _ZERO)
                if claw > 0:
                    clawed[r.tid] = clawed.get(r.tid, _ZERO) + claw
                    self._count_claw(c, claw, c.unit_cost, rows.day[r.row])

    def _count_claw(self, c: _Plan, claw: Decimal, unit_cost: Decimal, day: str) -> None:
        totals = self._totals[c.id]
        totals.clawbacks += 1
        asset = c.asset
        totals.quantity[asset] = totals.quantity.get(asset, _ZERO) - claw
        cost = claw if c.money else claw * unit_cost
        totals.cost -= cost
        totals.clawback_cost += cost
        totals.cost_by_day[day] = totals.cost_by_day.get(day, _ZERO) - cost

    def _walk(
        self,
        c: _Plan,
        rows: TransactionRows,
        found: list[int],
        refunds: list[_Refund],
        base_rows: dict[str, dict[int, Decimal]],
        kept: dict[int, dict[str, Decimal]],
    ) -> None:
        """A programme with limits or period flooring: its rows and the refunds, in row order."""
        pid = c.id
        base = base_rows.get(c.base, {}) if c.reward_code == _BONUS else {}
        earned = self._earned(c, rows, found, base) if c.reward_code != _ACCRUE_PERIOD else found
        granted_rows: dict[int, Decimal] | None = {} if pid in self._bases else None
        claims = self._claims[pid]
        customers, cids, cards = self.customers, rows.customer_id, rows.card_id
        # A spent global limit checked first refuses every row with a reward without a look at
        # the others (as _fit would: it truncates to nothing and names that limit first).
        first = c.limits[0] if c.limits and c.reward_code != _ACCRUE_PERIOD else None
        if first is not None and (
            first.scope != _S_GLOBAL
            or first.unit is PeriodUnit.STATEMENT
            or (first.measure == _M_COST and c.unit_cost == 0)
        ):
            first = None
        usage, refusals = self._usage, self._totals[pid].refusals
        days = rows.posted_day if c.posting else rows.day
        spent_code = f"{first.kind}:{first.limit.id}" if first is not None else ""
        b, r, n_buys, n_refunds = 0, 0, len(found), len(refunds)
        while b < n_buys or r < n_refunds:  # the purchases and the refunds, merged in row order
            if r < n_refunds and (b >= n_buys or refunds[r].row < found[b]):
                refund = refunds[r]
                r += 1
                claim = claims.get(refund.tid)
                if claim is not None:
                    row = refund.row
                    self._claw(
                        c, claim, refund.remaining, refund.amount, rows.day[row], refund.customer, kept[row]
                    )
                continue
            i, item = found[b], earned[b]
            if first is not None:
                unit = first.unit
                label = (
                    "all"
                    if unit is PeriodUnit.CAMPAIGN
                    else (days[i][:7] if unit is PeriodUnit.MONTH else days[i])
                )
                room = first.maximum - usage.get(f"{first.prefix}all:{label}", _ZERO)
                if room < 1 if first.measure == _M_COUNT else room <= 0:
                    end = b + 1
                    if unit is PeriodUnit.CAMPAIGN:
                        # spent for good until a refund of a purchase it granted releases it
                        stop = next((x.row for x in refunds[r:] if x.tid in claims), None)
                        end = bisect.bisect_left(found, stop, b) if stop is not None else n_buys
                    if c.reward_code == _FIXED:  # every row earns the same
                        rewarded = end - b if c.fixed > 0 else 0
                    else:
                        rewarded = sum(1 for q in earned[b:end] if q > 0)
                    if rewarded:
                        refusals[spent_code] += rewarded
                    if end - b - rewarded:
                        refusals["not_qualified:not_reward"] += end - b - rewarded
                    b = end
                    continue
            b += 1
            customer = customers[cids[i]]
            got = self._grant(c, rows, i, customer, self._card(customer, cards[i]), item)
            if granted_rows is not None and got > 0:
                granted_rows[i] = got
        if granted_rows is not None:
            base_rows[pid] = granted_rows

    def _grant(
        self,
        c: _Plan,
        rows: TransactionRows,
        i: int,
        customer: Customer,
        card: CardHolding | None,
        earned: Any,
    ) -> Decimal:
        """:meth:`Engine._run` after the qualifier, for one row: the grant (0 if refused)."""
        pid = c.id
        totals = self._totals[pid]
        amount = rows.amount[i]
        currency = rows.currency[i]
        day = rows.posted_day[i] if c.posting else rows.day[i]
        spend_counter = ""
        period = ""
        if c.reward_code == _ACCRUE_PERIOD:
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
            return _ZERO
        tid = rows.id[i]
        if tid not in self._recorded:
            self._recorded[tid] = (customer.id, amount, c.currency, rows.at_us[i])
        claims = self._claims[pid]
        claim = claims.get(tid)
        if claim is None:
            claim = claims[tid] = _Claim()
        if period:
            claim.period = period
        if granted <= 0:
            # the period's qualifying spend is still counted ("spend counted" entry)
            self._charge(spend_counter, amount, claim)
            totals.refusals[refusal or "not_qualified:not_reward"] += 1
            return _ZERO
        unit_cost = c.unit_cost
        for lp, counter in counters:
            measure = lp.measure
            delta = (
                _ONE if measure == _M_COUNT else (granted if measure == _M_AMOUNT else granted * unit_cost)
            )
            if delta > 0:
                self._charge(counter, delta, claim)
        if c.reward_code == _ACCRUE_PERIOD:
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
        return granted

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
        return self._fit_limits(c.limits, c.unit_cost, c.whole, earned, day, customer, card, counters)

    def _fit_limits(
        self,
        limits: Sequence[_LimitPlan],
        unit_cost: Decimal,
        whole: bool,
        earned: Decimal,
        day: str,
        customer: Customer,
        card: CardHolding | None,
        counters: list[tuple[_LimitPlan, str]],
    ) -> tuple[Decimal, str | None]:
        usage = self._usage
        granted = earned if earned > 0 else _ZERO
        refusal: str | None = None
        for lp in limits:
            scope = customer.id if lp.scope == _S_CUSTOMER else (
                customer.person_id if lp.scope == _S_PERSON else "all")  # fmt: skip
            unit = lp.unit
            label = day[:7] if unit is PeriodUnit.MONTH else self._label(unit, day, card)
            counter = self._name(f"{lp.prefix}{scope}:{label}")
            counters.append((lp, counter))
            room = lp.maximum - usage.get(counter, _ZERO)
            fits = fit_limit(lp.measure, room, granted, unit_cost, whole)
            if fits < granted and granted > 0:
                if refusal is None:
                    refusal = f"{lp.kind}:{lp.limit.id}"
                granted = fits
        return granted, refusal

    # -- refunds -------------------------------------------------------------------------------
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
            kept = min(would_earn(c, remaining, kept_units), granted_total)
            claw = max(net - kept, _ZERO)
        kept_units[c.id] = max(kept, _ZERO)
        unit_cost = claim.unit_cost if claim.unit_cost is not None else c.unit_cost
        releases = claw_releases(c, attributable, refunded, kept, claw, unit_cost, earned_counter, self.usage)
        if claw <= 0 and not releases:
            return
        for counter, delta in releases:
            self._charge(counter, delta, claim)
        claim.net -= claw
        if claw > 0:
            self._count_claw(c, claw, unit_cost, day)

    # -- activation ladders --------------------------------------------------------------------
    def _ladder(
        self,
        plan: LadderPlan,
        rows: TransactionRows,
        buys: list[int],
        refunds: list[_Refund],
        found: list[int] | None = None,
    ) -> None:
        """:meth:`LadderPlan.on_transaction` and :meth:`LadderPlan.on_refund` for the chunk, in row order.

        Only rows on a card inside the ladder's window (:func:`ladder_windows`) can count, so
        only those are looked at one by one.
        """
        if found is None:
            n = len(rows.id)
            windows = self._windows(plan, min(rows.at_us[0], rows.posted_us[0]) if n else None)
            cards = rows.card_id
            at = rows.posted_us if plan.posting else rows.at_us
            found = [i for i in buys if (w := windows.get(cards[i])) is not None and w[0] <= at[i] < w[1]]
        claims = self._ladder_claims[plan.id]
        steps: Any = ((i, None) for i in found)
        if refunds:
            steps = heapq.merge(steps, ((r.row, r) for r in refunds), key=itemgetter(0))
        for i, refund in steps:
            if refund is None:
                self._ladder_row(plan, rows, i)
            else:
                claim = claims.get(refund.tid)
                if claim is not None:
                    self._ladder_refund(plan, claim, refund, rows.day[i])

    def _windows(self, plan: LadderPlan, first: int | None) -> dict[str, tuple[int, int]]:
        """:func:`ladder_windows` of ``plan``, made at its first chunk (``first``: its first instant)."""
        windows = self._ladder_windows.get(plan.id)
        if windows is None:
            windows = ladder_windows(self.engine, plan.ladder, self.customers, first)
            self._ladder_windows[plan.id] = windows
        return windows

    def _ladder_row(self, plan: LadderPlan, rows: TransactionRows, i: int) -> None:
        ladder = plan.ladder
        customer = self.customers[rows.customer_id[i]]
        card = self._card(customer, rows.card_id[i])
        if card is None:
            return
        anchor = _anchor(ladder, card)
        if anchor is None:
            return
        if not _qualifies(ladder.qualifier, rows, i):
            return
        amount = rows.amount[i]
        if plan.posting:
            instant, day = _instant(rows.posted_us[i]), rows.posted_day[i]
        else:
            instant, day = _instant(rows.at_us[i]), rows.day[i]
        labels = plan._labels(card, anchor, instant, self._local_day(day))
        if not labels:
            return
        totals = self._totals[plan.id]
        if ladder.eligibility is not None and not ladder.eligibility.evaluate(
            self._record(customer, card), instant
        ):
            totals.refusals["ineligible"] += 1
            return
        tid = rows.id[i]
        if tid not in self._recorded:
            self._recorded[tid] = (customer.id, amount, rows.currency[i], rows.at_us[i])
        claim = _LadderClaim(card.card_id)
        self._ladder_claims[plan.id][tid] = claim
        usage = self._usage
        for label in labels:
            spend_c, count_c = plan.counters(customer.id, card.card_id, label)
            self._charge_have(spend_c, amount, claim)
            self._charge_have(count_c, _ONE, claim)
        short = self._short
        for tier in ladder.tiers:
            tier_c = plan.tier_counter(tier, customer.id, card.card_id)
            if usage.get(tier_c, _ZERO) >= 1:
                continue
            # a period found short stays short until a row counts in it (LadderPlan.shortfall)
            key = (plan.id, tier.id, customer.id, card.card_id)
            gap = short.get(key)
            if gap is not None and gap not in labels:
                continue
            gap = plan.shortfall(tier, customer.id, card.card_id, self.usage)
            if gap is not None:
                short[key] = gap
                continue
            short.pop(key, None)
            person_c = plan.person_counter(tier, customer.person_id)
            if ladder.one_per_person and usage.get(person_c, _ZERO) >= 1:
                totals.refusals["OnePerPerson"] += 1
                continue
            limits = self._ladder_limits[plan.id]
            spent = self._spent(limits[0]) if limits else None
            if spent is not None:  # a spent global limit, checked first, refuses as _fit_limits would
                totals.refusals[spent] += 1
                continue
            units, _currency = _quantity(tier.reward)
            issuer_cost = tier.reward.issuer_cost.amount
            counters: list[tuple[_LimitPlan, str]] = []
            granted, refusal = self._fit_limits(limits, issuer_cost / units, True, units, day, customer, card,
                                                counters)  # fmt: skip
            if granted < units:
                totals.refusals[refusal or "refused"] += 1
                continue
            charges = [(tier_c, _ONE)]
            for lp, counter in counters:
                measure = lp.measure
                delta = (
                    _ONE
                    if measure == _M_COUNT
                    else (granted if measure == _M_AMOUNT else granted * (issuer_cost / units))
                )
                if delta > 0:
                    charges.append((counter, delta))
            if ladder.one_per_person:
                charges.append((person_c, _ONE))
            for counter, delta in charges:
                usage[counter] = usage.get(counter, _ZERO) + delta
            self._tier_grants[(plan.id, tier.id, customer.id, card.card_id)] = charges
            asset = tier.reward.asset
            totals.grants += 1
            totals.customers.add(customer.id)
            totals.quantity[asset] = totals.quantity.get(asset, _ZERO) + units
            cost = self._tier_cost(plan.id, tier, asset, units)
            totals.cost += cost
            totals.cost_by_day[day] = totals.cost_by_day.get(day, _ZERO) + cost
            totals.tiers[tier.id] += 1

    def _spent(self, lp: _LimitPlan) -> str | None:
        """The refusal code of a campaign-wide global limit with no room left (else None)."""
        if lp.scope != _S_GLOBAL or lp.unit is not PeriodUnit.CAMPAIGN:
            return None
        room = lp.maximum - self._usage.get(f"{lp.prefix}all:all", _ZERO)
        return f"{lp.kind}:{lp.limit.id}" if room <= 0 else None

    def _tier_cost(self, ladder_id: str, tier: Tier, asset: str, quantity: Decimal) -> Decimal:
        """How a report prices a tier's grant or clawback (money at face value, items at the tier's cost)."""
        if is_money_asset(asset):
            return quantity
        per_unit = tier_unit_cost(tier)
        return quantity * per_unit if per_unit is not None else _ZERO

    def _charge_have(self, counter: str, delta: Decimal, claim: _LadderClaim) -> None:
        usage, have = self._usage, claim.have
        usage[counter] = usage.get(counter, _ZERO) + delta
        have[counter] = have.get(counter, _ZERO) + delta

    def _ladder_refund(self, plan: LadderPlan, claim: _LadderClaim, refund: _Refund, day: str) -> None:
        for counter, delta in plan.refund_releases(claim.have, refund.amount, refund.remaining):
            self._charge_have(counter, delta, claim)
        customer_id = refund.customer.id
        for tier in plan.ladder.tiers:
            if self._usage.get(plan.tier_counter(tier, customer_id, claim.card_id), _ZERO) < 1:
                continue
            if plan.reached(tier, customer_id, claim.card_id, self.usage):
                continue
            self._clawback_tier(plan, tier, customer_id, claim.card_id, day)

    def _clawback_tier(self, plan: LadderPlan, tier: Tier, customer_id: str, card_id: str, day: str) -> None:
        reward = tier.reward
        if reward.on_clawback is ClawbackPolicy.KEEP:
            return
        charges = self._tier_grants.get((plan.id, tier.id, customer_id, card_id))
        if charges is None:
            return
        usage = self._usage
        for counter, delta in charges:
            usage[counter] = usage.get(counter, _ZERO) - delta
        asset, quantity, _currency = clawback_of(reward)
        if quantity <= 0:
            return
        totals = self._totals[plan.id]
        totals.clawbacks += 1
        totals.quantity[asset] = totals.quantity.get(asset, _ZERO) - quantity
        cost = self._tier_cost(plan.id, tier, asset, quantity)
        totals.cost -= cost
        totals.clawback_cost += cost
        totals.cost_by_day[day] = totals.cost_by_day.get(day, _ZERO) - cost
        totals.tiers[tier.id] -= 1
