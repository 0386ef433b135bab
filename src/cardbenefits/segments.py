"""Segmentation: RFM scores and lifecycle stages computed from transactions.

Issuers target benefits by value and by where a customer is in the lifecycle
(获客 acquire → 激活 activate → 留存 retain → 升值 grow → 挽回 win back). This module turns a
stream of transactions into the facts rules test: ``rfm.recency_days``, ``rfm.frequency``,
``rfm.monetary``, ``rfm.score`` and ``lifecycle``.

- **RFM**: recency = whole days since the last customer-initiated purchase; frequency = number
  of purchases in the window; monetary = purchase amount in the window net of refunds. Each is
  scored 1–5, by fixed cut-offs (:class:`RFMCutoffs`) or by quintiles over the population
  (:func:`score_by_quantiles`).
- **Lifecycle**: ``new`` (approved recently, no purchase yet), ``activating`` (within the
  activation window after approval), ``active`` (a purchase within ``active_days``),
  ``win_back`` (lapsed: no purchase for ``active_days`` but less than the dormancy period),
  ``dormant`` (睡眠卡: no customer-initiated transaction for 18 months, the regulatory definition).

>>> from cardbenefits.money import Money
>>> import pendulum
>>> at = pendulum.datetime(2026, 11, 30, tz="Asia/Shanghai")
>>> acc = RFMAccumulator(at=at)
>>> acc.add_purchase("c1", pendulum.datetime(2026, 11, 20, tz="Asia/Shanghai"), Money.of(300))
>>> acc.add_purchase("c1", pendulum.datetime(2026, 10, 2, tz="Asia/Shanghai"), Money.of(80))
>>> stats = acc.stats("c1")
>>> stats.recency_days, stats.frequency, stats.monetary
(10, 2, Money('380.00', 'CNY'))
>>> score = RFMCutoffs.default().score(stats)
>>> score.code, score.segment
('511', 'promising')
"""

from __future__ import annotations

import enum
import itertools
from collections import Counter
from collections.abc import Iterable, Iterator, KeysView, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pendulum

from cardbenefits.errors import FactError
from cardbenefits.facts import Customer, FrozenDict, _utc, freeze_value
from cardbenefits.money import DEFAULT_CURRENCY, Money

__all__ = [
    "LifecycleAt",
    "LifecyclePolicy",
    "LifecycleStage",
    "RFMAccumulator",
    "RFMCutoffs",
    "RFMScore",
    "RFMStats",
    "SegmentedCustomers",
    "lifecycle_stage",
    "score_by_quantiles",
    "segment_attributes",
    "segment_customers",
]

DEFAULT_TIMEZONE = "Asia/Shanghai"


class LifecycleStage(enum.StrEnum):
    """Where a customer stands in the card lifecycle."""

    NEW = "new"
    ACTIVATING = "activating"
    ACTIVE = "active"
    WIN_BACK = "win_back"
    DORMANT = "dormant"


@attrs.frozen
class RFMStats:
    """Raw recency, frequency and monetary figures for one customer at an instant.

    ``recency_days`` is ``None`` when the customer never made a purchase.
    """

    customer_id: str
    recency_days: int | None
    frequency: int
    monetary: Money
    last_purchase_at: datetime | None = None


@attrs.frozen
class RFMScore:
    """Scores 1–5 for recency, frequency and monetary value, and the segment they imply."""

    stats: RFMStats
    r: int
    f: int
    m: int

    @property
    def code(self) -> str:
        """The classic three-digit code, e.g. ``"545"``."""
        return f"{self.r}{self.f}{self.m}"

    @property
    def total(self) -> int:
        """Sum of the three scores (3–15)."""
        return self.r + self.f + self.m

    @property
    def segment(self) -> str:
        """A named value segment used by targeting rules.

        ``champion`` (recent, frequent, high spend), ``loyal`` (frequent), ``big_spender``
        (high amount, low frequency: wake with exclusive benefits), ``small_frequent`` (many
        small purchases: small-multiple cashback), ``promising`` (recent but light),
        ``at_risk`` (used to be good, lapsing), ``hibernating`` (low on everything).
        """
        r, f, m = self.r, self.f, self.m
        if r >= 4 and f >= 4 and m >= 4:
            return "champion"
        if r <= 2 and (f >= 4 or m >= 4):
            return "at_risk"
        if f >= 4 and m <= 2:
            return "small_frequent"
        if m >= 4 and f <= 2:
            return "big_spender"
        if f >= 4:
            return "loyal"
        if r >= 4:
            return "promising"
        return "hibernating"

    def as_record(self) -> dict[str, Any]:
        """The ``rfm`` fact record that rules read."""
        return {
            "recency_days": self.stats.recency_days,
            "frequency": self.stats.frequency,
            "monetary": self.stats.monetary,
            "score": self.total,
            "r": self.r,
            "f": self.f,
            "m": self.m,
            "segment": self.segment,
        }


def _ascending(name: str) -> Any:
    def check(_inst: object, _attr: object, value: Sequence[Any]) -> None:
        if len(value) != 4 or any(b <= a for a, b in itertools.pairwise(value)):
            raise FactError("need 4 strictly ascending cut-offs", path=name, value=value)

    return check


@attrs.frozen
class RFMCutoffs:
    """Fixed cut-offs: four ascending boundaries per dimension give scores 1–5.

    Recency scores high when *few* days passed; frequency and monetary score high when large.
    A value equal to a boundary gets the higher band for frequency/monetary and the better
    (higher) band for recency.

    >>> cut = RFMCutoffs.default()
    >>> cut.recency_score(None), cut.recency_score(7), cut.recency_score(400)
    (1, 5, 1)
    """

    recency_days: tuple[int, ...] = attrs.field(validator=_ascending("recency_days"))
    frequency: tuple[int, ...] = attrs.field(validator=_ascending("frequency"))
    monetary: tuple[Money, ...] = attrs.field(validator=_ascending("monetary"))

    @classmethod
    def default(cls) -> RFMCutoffs:
        """Cut-offs for a 12-month window typical of a mass-market card portfolio."""
        return cls(
            recency_days=(14, 30, 90, 180),
            frequency=(3, 12, 36, 96),
            monetary=(Money.of(1000), Money.of(6000), Money.of(24000), Money.of(60000)),
        )

    def recency_score(self, days: int | None) -> int:
        """5 for the most recent band, 1 for the oldest or for no purchase at all."""
        if days is None:
            return 1
        for i, bound in enumerate(self.recency_days):
            if days <= bound:
                return 5 - i
        return 1

    def frequency_score(self, count: int) -> int:
        """1–5 from the frequency cut-offs."""
        return 1 + sum(1 for bound in self.frequency if count >= bound)

    def monetary_score(self, amount: Money) -> int:
        """1–5 from the monetary cut-offs."""
        return 1 + sum(1 for bound in self.monetary if amount >= bound)

    def score(self, stats: RFMStats) -> RFMScore:
        """Score one customer's figures."""
        return RFMScore(
            stats,
            self.recency_score(stats.recency_days),
            self.frequency_score(stats.frequency),
            self.monetary_score(stats.monetary),
        )


def _quintile_scores(values: Sequence[tuple[Any, str]], higher_is_better: bool) -> dict[str, int]:
    """Rank-based quintiles; equal values always get the same score (ties share a band)."""
    ordered = sorted(values, key=lambda pair: (pair[0], pair[1]))
    n = len(ordered)
    scores: dict[str, int] = {}
    i = 0
    while i < n:
        j = i
        while j + 1 < n and ordered[j + 1][0] == ordered[i][0]:
            j += 1
        # The band of a run of ties is decided by its first position.
        band = 1 + (i * 5) // n
        score = band if higher_is_better else 6 - band
        for k in range(i, j + 1):
            scores[ordered[k][1]] = score
        i = j + 1
    return scores


def score_by_quantiles(stats: Iterable[RFMStats]) -> dict[str, RFMScore]:
    """Score a population by quintiles of each dimension (ties share a score).

    Customers who never purchased get recency score 1.

    >>> from cardbenefits.money import Money
    >>> pop = [RFMStats(f"c{i}", i, i, Money.of(i * 100)) for i in range(1, 11)]
    >>> scores = score_by_quantiles(pop)
    >>> scores["c1"].code, scores["c10"].code
    ('511', '155')
    """
    items = list(stats)
    seen = [s for s in items if s.recency_days is not None]
    r_scores = _quintile_scores([(s.recency_days, s.customer_id) for s in seen], higher_is_better=False)
    f_scores = _quintile_scores([(s.frequency, s.customer_id) for s in items], higher_is_better=True)
    m_scores = _quintile_scores([(s.monetary.amount, s.customer_id) for s in items], higher_is_better=True)
    return {
        s.customer_id: RFMScore(
            s, r_scores.get(s.customer_id, 1), f_scores[s.customer_id], m_scores[s.customer_id]
        )
        for s in items
    }


@attrs.define
class _Running:
    last: datetime | None = None
    count: int = 0
    amount: Money = attrs.field(factory=Money.zero)


@attrs.define
class RFMAccumulator:
    """Accumulates RFM figures from a stream of purchases and refunds (bounded memory).

    Only purchases at or before ``at`` count; frequency and monetary count those inside the
    window of ``window_days`` ending at ``at``. Refunds reduce monetary (never below zero).
    """

    at: datetime
    window_days: int = 365
    currency: str = DEFAULT_CURRENCY
    _per_customer: dict[str, _Running] = attrs.field(factory=dict, init=False)
    _window_start: datetime = attrs.field(init=False)
    _zero: Money = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise FactError("the scoring instant must be time-zone aware", path="at", value=self.at)
        self._window_start = pendulum.instance(self.at).subtract(days=self.window_days)
        self._zero = Money.zero(self.currency)

    def _running(self, customer_id: str) -> _Running:
        run = self._per_customer.get(customer_id)
        if run is None:
            run = self._per_customer[customer_id] = _Running(amount=Money.zero(self.currency))
        return run

    def add_purchase(self, customer_id: str, when: datetime, amount: Money) -> None:
        """Count one customer-initiated purchase."""
        if when > self.at:
            return
        run = self._running(customer_id)
        if run.last is None or when > run.last:
            run.last = when
        if when > self._window_start:
            run.count += 1
            run.amount = run.amount + amount

    def add_refund(self, customer_id: str, when: datetime, amount: Money) -> None:
        """Deduct a refund from monetary value (a refund is not a purchase)."""
        if when > self.at or when <= self._window_start:
            return
        run = self._running(customer_id)
        run.amount = (run.amount - amount).max(Money.zero(self.currency))

    def add_transaction(self, txn: Any) -> None:
        """Feed a :class:`cardbenefits.facts.Transaction` (purchases and refunds count)."""
        kind = str(txn.kind)
        if kind == "purchase":
            self.add_purchase(txn.customer_id, txn.transacted_at, txn.amount)
        elif kind in ("refund", "reversal"):
            self.add_refund(txn.customer_id, txn.transacted_at, txn.amount)

    def customers(self) -> list[str]:
        """Customers seen so far, sorted."""
        return sorted(self._per_customer)

    def stats(self, customer_id: str) -> RFMStats:
        """Figures for one customer (zeros for a customer never seen)."""
        run = self._per_customer.get(customer_id)
        if run is None:
            return RFMStats(customer_id, None, 0, self._zero, None)
        recency = None if run.last is None else (self.at - run.last).days
        return RFMStats(customer_id, recency, run.count, run.amount, run.last)

    def all_stats(self) -> list[RFMStats]:
        """Figures for every customer seen, sorted by id."""
        return [self.stats(c) for c in self.customers()]


@attrs.frozen
class LifecyclePolicy:
    """Thresholds of the lifecycle stages (days unless stated)."""

    new_days: int = 30
    activation_days: int = 90
    active_days: int = 180
    dormant_months: int = 18
    timezone: str = DEFAULT_TIMEZONE


def lifecycle_stage(
    approved_at: datetime | None,
    last_purchase_at: datetime | None,
    at: datetime,
    policy: LifecyclePolicy | None = None,
) -> LifecycleStage:
    """The lifecycle stage at ``at`` from the first approval and the last purchase.

    >>> import pendulum
    >>> tz = "Asia/Shanghai"
    >>> at = pendulum.datetime(2026, 11, 30, tz=tz)
    >>> lifecycle_stage(pendulum.datetime(2026, 11, 20, tz=tz), None, at)
    <LifecycleStage.NEW: 'new'>
    >>> lifecycle_stage(pendulum.datetime(2020, 1, 1, tz=tz), pendulum.datetime(2025, 5, 29, tz=tz), at)
    <LifecycleStage.DORMANT: 'dormant'>
    >>> lifecycle_stage(pendulum.datetime(2020, 1, 1, tz=tz), pendulum.datetime(2025, 5, 31, tz=tz), at)
    <LifecycleStage.WIN_BACK: 'win_back'>
    """
    policy = policy or LifecyclePolicy()
    if at.tzinfo is None:
        raise FactError("the instant must be time-zone aware", path="at", value=at)
    now = pendulum.instance(at).in_timezone(policy.timezone)
    dormant_since = now.subtract(months=policy.dormant_months)
    if last_purchase_at is None:
        if approved_at is None:
            return LifecycleStage.NEW
        age_days = (now - pendulum.instance(approved_at)).days
        if age_days < policy.new_days:
            return LifecycleStage.NEW
        if age_days < policy.activation_days:
            return LifecycleStage.ACTIVATING
        if approved_at <= dormant_since:
            return LifecycleStage.DORMANT
        return LifecycleStage.WIN_BACK
    if last_purchase_at <= dormant_since:
        return LifecycleStage.DORMANT
    if approved_at is not None and (now - pendulum.instance(approved_at)).days < policy.activation_days:
        return LifecycleStage.ACTIVATING
    if (now - pendulum.instance(last_purchase_at)).days <= policy.active_days:
        return LifecycleStage.ACTIVE
    return LifecycleStage.WIN_BACK


_NO_TIME = timedelta(0)


def _whole_days(delta: timedelta) -> int:
    """``delta``'s whole days as a pendulum interval counts them: truncated toward zero."""
    if delta < _NO_TIME:
        return -((-delta).days)
    return delta.days


def _interval_days(now: datetime, then: datetime) -> int:
    """``(now - then).days`` as a pendulum interval counts it, for aware ``now`` and ``then``."""
    return _whole_days(_utc(now) - _utc(then))


@attrs.frozen
class LifecycleAt:
    """:func:`lifecycle_stage` for many customers at one instant, the calendar work done once.

    The dormancy boundary (``dormant_months`` calendar months before ``at`` in the policy's
    time zone) is computed once with pendulum; each :meth:`stage` is then plain datetime
    comparisons and subtraction, with the same result as :func:`lifecycle_stage`.

    >>> import pendulum
    >>> tz = "Asia/Shanghai"
    >>> clock = LifecycleAt.of(pendulum.datetime(2026, 11, 30, tz=tz))
    >>> clock.dormant_since.isoformat()
    '2025-05-30T00:00:00+08:00'
    >>> clock.stage(pendulum.datetime(2020, 1, 1, tz=tz), pendulum.datetime(2025, 5, 30, tz=tz))
    <LifecycleStage.DORMANT: 'dormant'>
    >>> clock.stage(pendulum.datetime(2026, 11, 20, tz=tz), None)
    <LifecycleStage.NEW: 'new'>
    """

    at: datetime
    policy: LifecyclePolicy
    dormant_since: datetime
    #: ``at`` as a plain (not pendulum) UTC datetime: subtraction stays in C.
    utc: datetime
    _naive: datetime = attrs.field(init=False, eq=False, repr=False)

    @_naive.default
    def _naive_default(self) -> datetime:
        # naive UTC wall time: instants are compared as ``facts._utc`` gives them, without offsets
        return self.utc.replace(tzinfo=None)

    @classmethod
    def of(cls, at: datetime, policy: LifecyclePolicy | None = None) -> LifecycleAt:
        """The stages at ``at`` (time-zone aware) under ``policy`` (default :class:`LifecyclePolicy`)."""
        policy = policy or LifecyclePolicy()
        if at.tzinfo is None:
            raise FactError("the instant must be time-zone aware", path="at", value=at)
        now = pendulum.instance(at).in_timezone(policy.timezone)
        plain = datetime(at.year, at.month, at.day, at.hour, at.minute, at.second, at.microsecond,
                         tzinfo=at.tzinfo, fold=at.fold)  # fmt: skip
        offset = plain.utcoffset()
        assert offset is not None  # aware
        utc = (plain.replace(tzinfo=None) - offset).replace(tzinfo=UTC)
        return cls(at, policy, now.subtract(months=policy.dormant_months), utc)

    def stage(self, approved_at: datetime | None, last_purchase_at: datetime | None) -> LifecycleStage:
        """The stage of a customer approved at ``approved_at`` who last bought at ``last_purchase_at``."""
        if (approved_at is not None and approved_at.tzinfo is None) or (
            last_purchase_at is not None and last_purchase_at.tzinfo is None
        ):
            # naive instants: leave pendulum's reading of them (and its errors) to the reference
            return lifecycle_stage(approved_at, last_purchase_at, self.at, self.policy)
        policy, now, dormant_since = self.policy, self._naive, self.dormant_since
        if last_purchase_at is None:
            if approved_at is None:
                return LifecycleStage.NEW
            age_days = _whole_days(now - _utc(approved_at))
            if age_days < policy.new_days:
                return LifecycleStage.NEW
            if age_days < policy.activation_days:
                return LifecycleStage.ACTIVATING
            if approved_at <= dormant_since:
                return LifecycleStage.DORMANT
            return LifecycleStage.WIN_BACK
        if last_purchase_at <= dormant_since:
            return LifecycleStage.DORMANT
        if approved_at is not None and _whole_days(now - _utc(approved_at)) < policy.activation_days:
            return LifecycleStage.ACTIVATING
        if _whole_days(now - _utc(last_purchase_at)) <= policy.active_days:
            return LifecycleStage.ACTIVE
        return LifecycleStage.WIN_BACK


def segment_attributes(
    score: RFMScore,
    approved_at: datetime | None,
    at: datetime,
    policy: LifecyclePolicy | None = None,
    *,
    clock: LifecycleAt | None = None,
) -> Mapping[str, Any]:
    """The ``rfm`` and ``lifecycle`` attributes to put on a :class:`~cardbenefits.facts.Customer`.

    ``clock`` (a :class:`LifecycleAt` for the same ``at`` and ``policy``) skips the per-customer
    calendar work when segmenting many customers.
    """
    if clock is not None:
        stage = clock.stage(approved_at, score.stats.last_purchase_at)
    else:
        stage = lifecycle_stage(approved_at, score.stats.last_purchase_at, at, policy)
    return {"rfm": score.as_record(), "lifecycle": str(stage)}


@attrs.frozen
class _Segment:
    """What the customers of one (RFM figures, lifecycle stage) pair get."""

    attributes: FrozenDict  # ``{"rfm": ..., "lifecycle": ...}``, checked and frozen
    lifecycle: str
    rfm: str  # the RFM segment name


_SEGMENT_KEYS: frozenset[str] = frozenset({"rfm", "lifecycle"})


class SegmentedCustomers(Mapping[str, Customer]):
    """Customers with their ``rfm`` and ``lifecycle`` attributes (:func:`segment_customers`).

    A read-only mapping that keeps, per customer, only which segment they are in: the segmented
    :class:`~cardbenefits.facts.Customer` (``customer.with_attributes(rfm=..., lifecycle=...)``)
    is built on its first read and kept. Membership, ``keys()``, ``len`` and iteration over the
    ids build nothing; :meth:`lifecycle` and :meth:`counts` read the segments, not the customers.
    Customers of a segment whose own attributes the segment replaces share one attribute mapping.
    """

    __slots__ = ("_base", "_built", "_merged", "_of", "_segments")

    def __init__(
        self, base: Mapping[str, Customer], of: Mapping[str, int], segments: Sequence[_Segment]
    ) -> None:
        self._base = base
        self._of = of
        self._segments = segments
        self._built: dict[str, Customer] = {}
        self._merged: dict[tuple[int, tuple[str, ...]], FrozenDict] = {}

    @property
    def unsegmented(self) -> Mapping[str, Customer]:
        """The customers as given (same ids and order; only ``attributes`` differ from these)."""
        return self._base

    def __getitem__(self, customer_id: str) -> Customer:
        found = self._built.get(customer_id)
        if found is None:
            customer = self._base[customer_id]
            index = self._of[customer_id]
            fresh = self._segments[index].attributes
            own = tuple(customer.attributes)
            if _SEGMENT_KEYS.issuperset(own):
                # the merge depends only on which own keys the segment replaces (and their order)
                merged = self._merged.get((index, own))
                if merged is None:
                    merged = self._merged[(index, own)] = FrozenDict({**dict.fromkeys(own), **fresh})
                found = customer._with_merged(merged)
            else:
                found = customer._with_frozen(fresh)
            self._built[customer_id] = found
        return found

    def get(self, key: str, default: Any = None) -> Any:
        """The segmented customer ``key``, or ``default``."""
        return self[key] if key in self._base else default

    def __contains__(self, key: object) -> bool:
        return key in self._base

    def __iter__(self) -> Iterator[str]:
        return iter(self._base)

    def __len__(self) -> int:
        return len(self._base)

    def keys(self) -> KeysView[str]:
        """The customer ids (a set-like view; builds no customer)."""
        return self._base.keys()

    def __repr__(self) -> str:
        return f"SegmentedCustomers({len(self._base)} customers in {len(self._segments)} segments)"

    def lifecycle(self, customer_id: str) -> str:
        """The ``lifecycle`` attribute of customer ``customer_id`` (KeyError for another id)."""
        return self._segments[self._of[customer_id]].lifecycle

    def lifecycles(self) -> Mapping[str, str]:
        """Customer id → ``lifecycle`` attribute, a read-only view (builds no customer)."""
        return _Lifecycles(self)

    def counts(self) -> dict[str, dict[str, int]]:
        """Customers per lifecycle stage and per RFM segment, each sorted by name."""
        lifecycle: Counter[str] = Counter()
        rfm: Counter[str] = Counter()
        for index, n in Counter(self._of.values()).items():
            segment = self._segments[index]
            lifecycle[segment.lifecycle] += n
            rfm[segment.rfm] += n
        return {"lifecycle": dict(sorted(lifecycle.items())), "rfm": dict(sorted(rfm.items()))}


class _Lifecycles(Mapping[str, str]):
    """:meth:`SegmentedCustomers.lifecycles`."""

    __slots__ = ("_people",)

    def __init__(self, people: SegmentedCustomers) -> None:
        self._people = people

    def __getitem__(self, customer_id: str) -> str:
        return self._people.lifecycle(customer_id)

    def __contains__(self, key: object) -> bool:
        return key in self._people

    def __iter__(self) -> Iterator[str]:
        return iter(self._people)

    def __len__(self) -> int:
        return len(self._people)


def segment_customers(
    customers: Mapping[str, Customer],
    at: datetime,
    *,
    history: RFMAccumulator | None = None,
    rfm: str = "cutoffs",
    cutoffs: RFMCutoffs | None = None,
    policy: LifecyclePolicy | None = None,
    currency: str = DEFAULT_CURRENCY,
) -> SegmentedCustomers:
    """Every customer with the ``rfm`` and ``lifecycle`` attributes :func:`segment_attributes`
    gives as of ``at``: RFM figures from ``history`` (none: no purchases; an accumulator at
    ``at`` in ``currency``), scored by ``cutoffs`` (default :meth:`RFMCutoffs.default`) or, with
    ``rfm="quantiles"``, by :func:`score_by_quantiles` over ``customers``; stages by ``policy``.

    Each distinct (figures, stage) pair is scored and frozen once; the customers are built when
    read (:class:`SegmentedCustomers`).

    >>> import pendulum
    >>> from cardbenefits.facts import CardHolding
    >>> tz = "Asia/Shanghai"
    >>> at = pendulum.datetime(2026, 11, 30, tz=tz)
    >>> card = CardHolding("k1", "youth", "classic", "2026-11-20T09:00+08:00")
    >>> people = {"c1": Customer("c1", "p1", cards=(card,)), "c2": Customer("c2", "p2")}
    >>> history = RFMAccumulator(at=at)
    >>> history.add_purchase("c2", pendulum.datetime(2026, 11, 25, tz=tz), Money.of(1200))
    >>> segmented = segment_customers(people, at, history=history)
    >>> segmented.lifecycle("c1"), segmented["c1"].attributes["rfm"]["segment"]
    ('new', 'hibernating')
    >>> segmented["c2"].attributes["rfm"]["score"], "c3" in segmented, len(segmented)
    (8, False, 2)
    >>> segmented.counts()
    {'lifecycle': {'active': 1, 'new': 1}, 'rfm': {'hibernating': 1, 'promising': 1}}
    """
    if rfm not in ("cutoffs", "quantiles"):
        raise FactError("rfm is 'cutoffs' or 'quantiles'", path="rfm", value=rfm)
    acc = history if history is not None else RFMAccumulator(at=at, currency=currency)
    cutoffs = cutoffs or RFMCutoffs.default()
    clock = LifecycleAt.of(at, policy)
    stats: list[RFMStats] | None = None
    by_quantile: dict[str, RFMScore] | None = None
    if rfm == "quantiles":
        stats = [acc.stats(cid) for cid in customers]
        by_quantile = score_by_quantiles(stats)
    # Most customers share their figures (all of them, without history): score each distinct
    # figure once, and freeze each distinct (figures, stage) pair once.
    ran = acc._per_customer
    blank = RFMStats("", None, 0, acc._zero, None)
    scored: dict[tuple[Any, ...], RFMScore] = {}
    index: dict[tuple[Any, ...], int] = {}
    segments: list[_Segment] = []
    of: dict[str, int] = {}
    stage_of = clock.stage
    for n, (cid, customer) in enumerate(customers.items()):
        if stats is not None:
            s = stats[n]
        elif cid in ran:
            s = acc.stats(cid)
        else:
            s = blank
        figures: tuple[Any, ...] = (s.recency_days, s.frequency, s.monetary)
        if by_quantile is not None:
            score = by_quantile[cid]
            figures += (score.r, score.f, score.m)
        else:
            found = scored.get(figures)
            if found is None:
                found = scored[figures] = cutoffs.score(s)
            score = found
        stage = stage_of(customer.approved_at, s.last_purchase_at)
        key = (figures, stage)
        i = index.get(key)
        if i is None:
            i = index[key] = len(segments)
            record = score.as_record()
            attributes = freeze_value({"rfm": record, "lifecycle": str(stage)}, "customer.attributes")
            segments.append(_Segment(attributes, str(stage), record["segment"]))
        of[cid] = i
    return SegmentedCustomers(customers, of, segments)
