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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING, Any, NoReturn

import attrs
import pendulum

from cardbenefits.errors import FactError
from cardbenefits.facts import Customer, FrozenDict, _utc, freeze_value
from cardbenefits.money import DEFAULT_CURRENCY, Money

if TYPE_CHECKING:
    from _collections_abc import dict_items, dict_keys, dict_values

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


def _read_only(self: object, *args: Any, **kwargs: Any) -> NoReturn:
    raise TypeError("segmented customers are read-only")


class SegmentedCustomers(dict[str, Customer]):
    """Customers with their ``rfm`` and ``lifecycle`` attributes, from :func:`segment_customers`.

    A read-only dict of the segmented customers (``customer.with_attributes(rfm=..., lifecycle=...)``)
    that keeps, per customer, only which segment they are in and builds each segmented customer
    on its first read. Membership, ``keys()``, ``len`` and iteration over the ids build nothing;
    :meth:`lifecycle` and :meth:`counts` read the segments, not the customers; ``values()`` and
    ``items()`` build the customers not built yet, after which every read is the dict's own.
    Customers of a segment whose own attributes it replaces share one attribute mapping.
    """

    __slots__ = ("_base", "_merged", "_of", "_segments")

    def __init__(
        self, base: dict[str, Customer], of: Mapping[str, int], segments: Sequence[_Segment]
    ) -> None:
        super().__init__()
        self._base = base
        self._of = of
        self._segments = segments
        self._merged: dict[tuple[Any, tuple[str, ...]], FrozenDict] = {}
        if base:
            self.__class__ = _Unbuilt  # the same object: lookups go through __missing__ until built

    @property
    def unsegmented(self) -> Mapping[str, Customer]:
        """The customers as given (same ids and order; only ``attributes`` differ from these)."""
        return self._base

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

    def _build(self, customer_id: str) -> Customer:
        index = self._of[customer_id]
        return self._base[customer_id]._with_shared(self._segments[index].attributes, self._merged, index)

    def _complete(self) -> None:
        """Build every customer not built yet (in the given order): nothing left to do here."""

    def __eq__(self, other: object) -> bool:
        self._complete()
        return dict.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        self._complete()
        return dict.__ne__(self, other)

    __hash__ = None

    def __or__(self, other: Any) -> Any:
        self._complete()
        return dict.__or__(self, other)

    def __ror__(self, other: Any) -> Any:
        self._complete()
        return dict.__ror__(self, other)

    def copy(self) -> dict[str, Customer]:
        """A plain dict of the segmented customers."""
        self._complete()
        return dict(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (self.copy(),))

    def __repr__(self) -> str:
        return f"SegmentedCustomers({len(self)} customers in {len(self._segments)} segments)"

    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only


class _Unbuilt(SegmentedCustomers):
    """A :class:`SegmentedCustomers` some of whose customers are not built yet (same layout)."""

    __slots__ = ()

    def __missing__(self, customer_id: str) -> Customer:
        found = self._build(customer_id)  # KeyError for an unknown id
        dict.__setitem__(self, customer_id, found)
        return found

    def _complete(self) -> None:
        built = dict(dict.items(self)).get
        of, merged = self._of, self._merged
        fresh = [segment.attributes for segment in self._segments]
        base = self._base
        everyone = [
            built(cid) or customer._with_shared(fresh[of[cid]], merged, of[cid])
            for cid, customer in base.items()
        ]
        dict.clear(self)
        dict.update(self, zip(base, everyone, strict=True))
        self.__class__ = SegmentedCustomers  # type: ignore[assignment]

    def get(self, key: str, default: Any = None) -> Any:
        """The segmented customer ``key``, or ``default``."""
        return self[key] if key in self._base else default

    def __contains__(self, key: object) -> bool:
        return key in self._base

    def __iter__(self) -> Iterator[str]:
        return iter(self._base)

    def __reversed__(self) -> Iterator[str]:
        return reversed(self._base)

    def __len__(self) -> int:
        return len(self._base)

    def keys(self) -> dict_keys[str, Customer]:
        """The customer ids (a set-like view; builds no customer)."""
        return self._base.keys()

    def values(self) -> dict_values[str, Customer]:
        """Every segmented customer (all built from here on)."""
        self._complete()
        return dict.values(self)

    def items(self) -> dict_items[str, Customer]:
        """Every (id, segmented customer) pair (all built from here on)."""
        self._complete()
        return dict.items(self)


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


_MICROSECOND = timedelta(microseconds=1)
_UNBOUGHT = (LifecycleStage.NEW, LifecycleStage.ACTIVATING, LifecycleStage.DORMANT, LifecycleStage.WIN_BACK)


def _younger_than(now: datetime, days: int) -> datetime:
    """The instant ``t`` such that, for any aware ``a``, ``_whole_days(now - a) < days`` iff ``a > t``."""
    if days >= 1:  # whole days < days  <=>  now - a < days (a later than now counts 0 or fewer days)
        return now - timedelta(days=days)
    # whole days (truncated toward zero) < days <= 0  <=>  now - a <= days - 1; instants are whole µs
    return now - timedelta(days=days - 1) - _MICROSECOND


def _in_fixed_zone(instants: tuple[datetime, ...], zone: tzinfo | None) -> tuple[datetime, ...] | None:
    """``instants`` as wall times of ``zone`` if its offset is fixed, else None.

    Aware datetimes of one time zone object compare by wall time in C, without asking the zone
    for offsets (several times faster): in a fixed-offset zone that is comparing the instants.
    """
    if not isinstance(zone, timezone | pendulum.FixedTimezone):
        return None
    offset = zone.utcoffset(None)
    try:
        return tuple((_utc(i) + offset).replace(tzinfo=zone) for i in instants)
    except OverflowError:
        return None


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
    base = customers if type(customers) is dict else dict(customers)
    acc = history if history is not None else RFMAccumulator(at=at, currency=currency)
    cutoffs = cutoffs or RFMCutoffs.default()
    clock = LifecycleAt.of(at, policy)
    # Most customers share their figures (all of them, without history): score each distinct
    # figure once, and freeze each distinct (figures, stage) pair once.
    index: dict[tuple[Any, ...], int] = {}
    segments: list[_Segment] = []

    def segment_of(figures: tuple[Any, ...], score: RFMScore, stage: LifecycleStage) -> int:
        key = (figures, stage)
        i = index.get(key)
        if i is None:
            i = index[key] = len(segments)
            record = score.as_record()
            attributes = freeze_value({"rfm": record, "lifecycle": str(stage)}, "customer.attributes")
            segments.append(_Segment(attributes, str(stage), record["segment"]))
        return i

    of: dict[str, int] = {}
    stage_of = clock.stage
    if rfm == "quantiles":
        stats = [acc.stats(cid) for cid in base]
        by_quantile = score_by_quantiles(stats)
        for s, (cid, customer) in zip(stats, base.items(), strict=True):
            score = by_quantile[cid]
            figures: tuple[Any, ...] = (s.recency_days, s.frequency, s.monetary, score.r, score.f, score.m)
            of[cid] = segment_of(figures, score, stage_of(customer.approved_at, s.last_purchase_at))
        return SegmentedCustomers(base, of, segments)
    scored: dict[tuple[Any, ...], RFMScore] = {}
    blank = RFMStats("", None, 0, acc._zero, None)
    blank_figures = (None, 0, acc._zero)
    blank_score = cutoffs.score(blank)
    # A customer with no purchase in the history (every one, without history) is staged by
    # comparing their approval with instants computed once (per time zone of the approvals):
    # what stage() decides, in fewer steps.
    cuts: tuple[datetime, ...] | None
    try:
        cuts = (
            _younger_than(clock.utc, clock.policy.new_days),
            _younger_than(clock.utc, clock.policy.activation_days),
            clock.dormant_since,
        )
    except OverflowError:  # thresholds beyond the calendar: stage() decides
        cuts = None
    zones: dict[int, tuple[tzinfo | None, tuple[datetime, ...]]] = {}  # id(zone) -> (zone, its cuts)
    unbought: list[int | None] = [None] * len(_UNBOUGHT)
    ran = acc._per_customer
    for cid, customer in base.items():
        run = ran.get(cid)
        if run is not None and run.last is not None:  # a purchase in the history
            s = acc.stats(cid)
            figures = (s.recency_days, s.frequency, s.monetary)
            found = scored.get(figures)
            if found is None:
                found = scored[figures] = cutoffs.score(s)
            of[cid] = segment_of(figures, found, stage_of(customer.approved_at, s.last_purchase_at))
            continue
        # customers' approvals are aware (CardHolding checks them), as the comparisons need
        approved = customer.approved_at
        if approved is None:
            code = 0
        elif cuts is None:
            code = _UNBOUGHT.index(stage_of(approved, None))
        else:
            zone = approved.tzinfo
            entry = zones.get(id(zone))
            if entry is None:
                entry = zones[id(zone)] = (zone, _in_fixed_zone(cuts, zone) or cuts)
            new_after, activating_after, dormant_since = entry[1]
            if approved > new_after:
                code = 0
            elif approved > activating_after:
                code = 1
            elif approved <= dormant_since:
                code = 2
            else:
                code = 3
        if run is None:
            i = unbought[code]
            if i is None:
                i = unbought[code] = segment_of(blank_figures, blank_score, _UNBOUGHT[code])
            of[cid] = i
            continue
        s = acc.stats(cid)  # refunds only
        figures = (s.recency_days, s.frequency, s.monetary)
        found = scored.get(figures)
        if found is None:
            found = scored[figures] = cutoffs.score(s)
        of[cid] = segment_of(figures, found, _UNBOUGHT[code])
    return SegmentedCustomers(base, of, segments)
