"""Calendar periods: natural days, weeks and months, statement cycles, rolling blocks.

Caps ("at most 5 times per month"), daily stock ("reset at 00:00 Beijing time") and
activation ladders ("three consecutive months") count within *periods*. A :class:`Period` is
a half-open interval ``[start, end)`` of aware instants: ``start`` belongs to it, ``end``
belongs to the next one. A *period basis* cuts time into consecutive periods:

===================== ============================================================
:class:`CalendarDay`   local 00:00 to 00:00 (daily reset)
:class:`CalendarWeek`  local weeks starting on a chosen ISO weekday (Monday default)
:class:`CalendarMonth` 自然月, natural month, local 1st 00:00 to next 1st 00:00
:class:`StatementCycle` 账单周期, the day after one billing day through the next
:class:`RollingDays`   consecutive blocks of N local days from an anchor instant
===================== ============================================================

Boundaries are computed on the local wall clock of the basis' time zone (``Asia/Shanghai``
unless stated) and kept as aware instants, so they stay right across daylight-saving changes
in zones that have them (see :func:`cardbenefits.clock.resolve_local` for the rule).

>>> month = CalendarMonth()
>>> november = month.containing(parse_instant("2026-11-30T15:59:59Z"))
>>> november.label
'2026-11'
>>> month.containing(parse_instant("2026-11-30T16:00:00Z")).label  # 00:00 on 1 Dec in Beijing
'2026-12'
>>> month.next(november) == month.nth(november.start, 1)
True
>>> [p.label for p in StatementCycle(billing_day=31).between(
...     parse_instant("2026-01-15"), parse_instant("2026-03-02"))]
['2026-01', '2026-02', '2026-03']
>>> StatementCycle(billing_day=5).containing(parse_instant("2026-11-05 23:00")).label
'2026-10-06..2026-11-05'
"""

from __future__ import annotations

import calendar
import datetime as _dt
from collections.abc import Iterable
from typing import Protocol, runtime_checkable

import attrs
import pendulum

from cardbenefits.clock import (
    DEFAULT_TIMEZONE,
    check_timezone,
    ensure_aware,
    local_datetime,
    parse_instant,
    resolve_local,
    to_local,
    utc_key,
)
from cardbenefits.errors import PeriodError

__all__ = [
    "CalendarDay",
    "CalendarMonth",
    "CalendarWeek",
    "Period",
    "PeriodBasis",
    "RollingDays",
    "StatementCycle",
    "are_consecutive",
]

# ``parse_instant`` is used by the module doctest.
_ = parse_instant

_ONE_DAY = _dt.timedelta(days=1)
_MIDNIGHT = _dt.time(0)
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _start_converter(value: object) -> pendulum.DateTime:
    return ensure_aware(value, path="start")


def _end_converter(value: object) -> pendulum.DateTime:
    return ensure_aware(value, path="end")


@attrs.frozen(order=True, repr=False)
class Period:
    """A half-open interval ``[start, end)`` of aware instants.

    Equality, hashing and ordering are by instant (``start``, then ``end``), whatever zone
    the two ends are expressed in; :attr:`label` is rendered in the zone of ``start``.

    >>> p = Period(parse_instant("2026-11-01"), parse_instant("2026-12-01"))
    >>> p.label, p.duration
    ('2026-11', datetime.timedelta(days=30))
    >>> p.contains(parse_instant("2026-11-30 23:59:59.999999")), p.contains(p.end)
    (True, False)
    >>> Period(p.end, p.start)
    Traceback (most recent call last):
      ...
    cardbenefits.errors.PeriodError: end: a period must end after it starts (got DateTime(2026, 11, 1, ...))
    """

    start: pendulum.DateTime = attrs.field(converter=_start_converter, eq=utc_key, order=utc_key)
    end: pendulum.DateTime = attrs.field(converter=_end_converter, eq=utc_key, order=utc_key)

    @end.validator
    def _check_end(self, _attribute: object, value: pendulum.DateTime) -> None:
        if utc_key(value) <= utc_key(self.start):
            raise PeriodError("a period must end after it starts", path="end", value=value)

    def contains(self, instant: _dt.datetime) -> bool:
        """True when ``start <= instant < end`` (the end is exclusive)."""
        key = utc_key(ensure_aware(instant, path="instant"))
        return utc_key(self.start) <= key < utc_key(self.end)

    def overlaps(self, other: Period) -> bool:
        """True when the two periods share at least one instant."""
        return utc_key(self.start) < utc_key(other.end) and utc_key(other.start) < utc_key(self.end)

    @property
    def duration(self) -> _dt.timedelta:
        """Elapsed time from start to end (23 or 25 hours for a DST-change day)."""
        return utc_key(self.end) - utc_key(self.start)

    def in_timezone(self, tz: str) -> Period:
        """The same period with both ends shown in ``tz`` (changes only :attr:`label`)."""
        zone = check_timezone(tz)
        return Period(self.start.in_timezone(zone), self.end.in_timezone(zone))

    @property
    def label(self) -> str:
        """A short human label in the zone of ``start``.

        Whole local days are shown as dates with an *inclusive* last day: ``"2026-11"`` for
        a natural month, ``"2026-11-05"`` for one day, ``"2026-11-05..2026-12-04"`` for
        other runs of days. Anything else shows both instants, end exclusive.

        >>> Period(parse_instant("2026-11-05"), parse_instant("2026-12-05")).label
        '2026-11-05..2026-12-04'
        >>> Period(parse_instant("2026-11-05"), parse_instant("2026-11-06")).label
        '2026-11-05'
        >>> Period(parse_instant("2026-11-05 10:00"), parse_instant("2026-11-06 10:00")).label
        '2026-11-05T10:00:00+08:00..2026-11-06T10:00:00+08:00'
        """
        local_start = self.start
        local_end = pendulum.instance(self.end.astimezone(self.start.tzinfo))
        if local_start.time() == _MIDNIGHT and local_end.time() == _MIDNIGHT:
            first = _dt.date(local_start.year, local_start.month, local_start.day)
            after = _dt.date(local_end.year, local_end.month, local_end.day)
            if first.day == 1 and after == _add_months(first, 1):
                return f"{first.year:04d}-{first.month:02d}"
            last = after - _ONE_DAY
            if last == first:
                return first.isoformat()
            return f"{first.isoformat()}..{last.isoformat()}"
        return f"{local_start.isoformat()}..{local_end.isoformat()}"

    def __str__(self) -> str:
        return self.label

    def __repr__(self) -> str:
        return f"Period({self.start.isoformat()!r}, {self.end.isoformat()!r})"


def are_consecutive(periods: Iterable[Period]) -> bool:
    """True when each period starts exactly where the previous one ends (no gap, no overlap).

    An empty or one-element sequence is consecutive. Ladders such as "qualifying spend in
    each of three consecutive months" use this.

    >>> m = CalendarMonth()
    >>> first = m.containing(parse_instant("2026-11-15"))
    >>> are_consecutive([first, m.next(first), m.nth(first.start, 2)])
    True
    >>> are_consecutive([first, m.nth(first.start, 2)])
    False
    """
    previous: Period | None = None
    for period in periods:
        if previous is not None and utc_key(period.start) != utc_key(previous.end):
            return False
        previous = period
    return True


@runtime_checkable
class PeriodBasis(Protocol):
    """How a campaign cuts time into consecutive periods (all bases share this API)."""

    @property
    def tz(self) -> str:
        """The IANA zone whose wall clock places the boundaries."""
        ...

    def containing(self, instant: _dt.datetime) -> Period:
        """The period that contains ``instant``."""
        ...

    def next(self, period: Period) -> Period:
        """The period right after ``period`` (which must be one of this basis)."""
        ...

    def previous(self, period: Period) -> Period:
        """The period right before ``period`` (which must be one of this basis)."""
        ...

    def nth(self, anchor: _dt.datetime, n: int) -> Period:
        """The ``n``-th period after the one containing ``anchor`` (0 is that one)."""
        ...

    def index(self, anchor: _dt.datetime, instant: _dt.datetime) -> int:
        """How many periods ``instant``'s period comes after ``anchor``'s (may be negative)."""
        ...

    def between(self, start: _dt.datetime, end: _dt.datetime) -> list[Period]:
        """The periods that share at least one instant with ``[start, end)``, in order."""
        ...

    def describe(self) -> str:
        """A short English description, e.g. ``"calendar month (Asia/Shanghai)"``."""
        ...


class _Indexed:
    """Shared logic: a basis numbers its periods with integers; period k is
    ``[_start(k), _start(k + 1))`` and ``_index(t)`` is the k whose period contains t."""

    __slots__ = ()

    tz: str

    def _index(self, instant: pendulum.DateTime) -> int:
        raise NotImplementedError

    def _start(self, k: int) -> pendulum.DateTime:
        raise NotImplementedError

    def _period(self, k: int) -> Period:
        try:
            return Period(self._start(k), self._start(k + 1))
        except (OverflowError, ValueError) as exc:
            if isinstance(exc, PeriodError):
                raise
            raise PeriodError("period out of the supported date range", path="period", value=k) from None

    def _own(self, period: Period) -> int:
        if not isinstance(period, Period):
            raise PeriodError("expected a Period", path="period", value=period)
        k = self._index(period.start)
        if self._period(k) != period:
            raise PeriodError(f"not a period of {self.describe()}", path="period", value=period)
        return k

    def describe(self) -> str:
        raise NotImplementedError

    def containing(self, instant: _dt.datetime) -> Period:
        """The period that contains ``instant``."""
        return self._period(self._index(ensure_aware(instant, path="instant")))

    def next(self, period: Period) -> Period:
        """The period right after ``period`` (which must be one of this basis)."""
        return self._period(self._own(period) + 1)

    def previous(self, period: Period) -> Period:
        """The period right before ``period`` (which must be one of this basis)."""
        return self._period(self._own(period) - 1)

    def nth(self, anchor: _dt.datetime, n: int) -> Period:
        """The ``n``-th period after the one containing ``anchor`` (0 is that one, -1 the one before)."""
        if isinstance(n, bool) or not isinstance(n, int):
            raise PeriodError("n must be an int", path="n", value=n)
        return self._period(self._index(ensure_aware(anchor, path="anchor")) + n)

    def index(self, anchor: _dt.datetime, instant: _dt.datetime) -> int:
        """How many periods ``instant``'s period comes after ``anchor``'s (may be negative)."""
        return self._index(ensure_aware(instant, path="instant")) - self._index(
            ensure_aware(anchor, path="anchor")
        )

    def between(self, start: _dt.datetime, end: _dt.datetime) -> list[Period]:
        """The periods that share at least one instant with ``[start, end)``, in order.

        An empty range gives an empty list; ``end`` before ``start`` is an error.
        """
        first = ensure_aware(start, path="start")
        last = ensure_aware(end, path="end")
        if utc_key(last) < utc_key(first):
            raise PeriodError("end is before start", path="end", value=end)
        if utc_key(last) == utc_key(first):
            return []
        k_first = self._index(first)
        k_last = self._index(last)
        if utc_key(self._start(k_last)) == utc_key(last):
            k_last -= 1
        return [self._period(k) for k in range(k_first, k_last + 1)]


def _local_date(instant: _dt.datetime, tz: str) -> _dt.date:
    local = to_local(instant, tz)
    return _dt.date(local.year, local.month, local.day)


def _day_start(day: _dt.date, tz: str) -> pendulum.DateTime:
    return local_datetime(day.year, day.month, day.day, tz=tz)


def _add_months(day: _dt.date, months: int) -> _dt.date:
    k = day.year * 12 + day.month - 1 + months
    return _dt.date(k // 12, k % 12 + 1, 1)


def _tz_converter(value: object) -> str:
    return check_timezone(value, path="tz")


@attrs.frozen
class CalendarDay(_Indexed):
    """Local calendar days: the 00:00 daily reset (每日 00:00 重置) of stock and draw limits.

    >>> CalendarDay().containing(parse_instant("2026-11-30T16:00:00Z")).label
    '2026-12-01'
    >>> CalendarDay("Europe/Berlin").containing(parse_instant("2026-03-29 12:00", "Europe/Berlin")).duration
    datetime.timedelta(seconds=82800)
    """

    tz: str = attrs.field(default=DEFAULT_TIMEZONE, converter=_tz_converter)

    def _index(self, instant: pendulum.DateTime) -> int:
        return _local_date(instant, self.tz).toordinal()

    def _start(self, k: int) -> pendulum.DateTime:
        return _day_start(_dt.date.fromordinal(k), self.tz)

    def describe(self) -> str:
        """A short English description."""
        return f"calendar day ({self.tz})"


def _weekday_converter(value: object) -> int:
    if isinstance(value, str):
        names = [n.lower() for n in _WEEKDAY_NAMES]
        key = value.strip().lower()
        for i, name in enumerate(names):
            if key in (name, name[:3]):
                return i + 1
        raise PeriodError("unknown weekday name", path="week_start", value=value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 7:
        raise PeriodError(
            "weekday must be an ISO number 1 (Monday) .. 7 (Sunday)", path="week_start", value=value
        )
    return value


@attrs.frozen
class CalendarWeek(_Indexed):
    """Local calendar weeks starting on ``week_start`` (ISO weekday, 1 = Monday default).

    >>> week = CalendarWeek().containing(parse_instant("2026-11-05"))  # a Thursday
    >>> week.label
    '2026-11-02..2026-11-08'
    >>> CalendarWeek(week_start="sunday").containing(parse_instant("2026-11-05")).label
    '2026-11-01..2026-11-07'
    """

    tz: str = attrs.field(default=DEFAULT_TIMEZONE, converter=_tz_converter)
    week_start: int = attrs.field(default=1, converter=_weekday_converter)

    # Ordinal 1 (0001-01-01) is a Monday, so an ordinal is congruent to its ISO weekday mod 7.
    def _index(self, instant: pendulum.DateTime) -> int:
        return (_local_date(instant, self.tz).toordinal() - self.week_start) // 7

    def _start(self, k: int) -> pendulum.DateTime:
        return _day_start(_dt.date.fromordinal(7 * k + self.week_start), self.tz)

    def describe(self) -> str:
        """A short English description."""
        return f"calendar week from {_WEEKDAY_NAMES[self.week_start - 1]} ({self.tz})"


@attrs.frozen
class CalendarMonth(_Indexed):
    """Natural months (自然月) on the local calendar.

    >>> CalendarMonth().containing(parse_instant("2024-02-29 23:59")).label
    '2024-02'
    >>> CalendarMonth().index(parse_instant("2026-11-30"), parse_instant("2027-01-01"))
    2
    """

    tz: str = attrs.field(default=DEFAULT_TIMEZONE, converter=_tz_converter)

    def _index(self, instant: pendulum.DateTime) -> int:
        day = _local_date(instant, self.tz)
        return day.year * 12 + day.month - 1

    def _start(self, k: int) -> pendulum.DateTime:
        return local_datetime(k // 12, k % 12 + 1, 1, tz=self.tz)

    def describe(self) -> str:
        """A short English description."""
        return f"calendar month ({self.tz})"


def _billing_day_converter(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 31:
        raise PeriodError("billing day must be an int from 1 to 31", path="billing_day", value=value)
    return value


@attrs.frozen
class StatementCycle(_Indexed):
    """Statement cycles (账单周期) closing on a monthly billing day (账单日).

    Convention: the statement of month M is dated on M's *billing date*, which is
    ``billing_day`` clamped to the month's last day (billing day 31 is 28 or 29 February and
    30 April). That cycle runs from 00:00 on the day after the previous month's billing date
    through 24:00 of M's billing date, local time: the billing date itself is the cycle's
    last day. Cycles are numbered by M, so with billing day 31 they are exactly the natural
    months, and with billing day 30 the February cycle is 31 January .. 28 February.

    >>> cycles = StatementCycle(billing_day=30)
    >>> [p.label for p in cycles.between(parse_instant("2026-01-20"), parse_instant("2026-03-20"))]
    ['2025-12-31..2026-01-30', '2026-01-31..2026-02-28', '2026-03-01..2026-03-30']
    >>> cycles.billing_date(2024, 2)
    datetime.date(2024, 2, 29)
    """

    billing_day: int = attrs.field(converter=_billing_day_converter)
    tz: str = attrs.field(default=DEFAULT_TIMEZONE, converter=_tz_converter)

    def billing_date(self, year: int, month: int) -> _dt.date:
        """The local billing (statement) date of ``year``-``month``, clamped to month end."""
        if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
            raise PeriodError("month must be 1..12", path="month", value=month)
        last = calendar.monthrange(year, month)[1]
        return _dt.date(year, month, min(self.billing_day, last))

    def statement_date(self, period: Period) -> _dt.date:
        """The billing date that closes ``period`` (its last local day)."""
        k = self._own(period)
        return self.billing_date(k // 12, k % 12 + 1)

    def _index(self, instant: pendulum.DateTime) -> int:
        day = _local_date(instant, self.tz)
        k = day.year * 12 + day.month - 1
        return k if day <= self.billing_date(day.year, day.month) else k + 1

    def _start(self, k: int) -> pendulum.DateTime:
        before = k - 1
        return _day_start(self.billing_date(before // 12, before % 12 + 1) + _ONE_DAY, self.tz)

    def describe(self) -> str:
        """A short English description."""
        return f"statement cycle closing on day {self.billing_day} ({self.tz})"


def _days_converter(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PeriodError("days must be a positive int", path="days", value=value)
    return value


def _anchor_converter(value: object) -> pendulum.DateTime:
    return ensure_aware(value, path="anchor")


@attrs.frozen
class RollingDays(_Indexed):
    """Consecutive blocks of ``days`` local days, the first starting at ``anchor``.

    Block k runs from the anchor's local wall time k×days days later to the same wall time
    (k+1)×days days later, e.g. "each 30 days from card approval". To count from the anchor's
    local midnight instead, pass ``CalendarDay(tz).containing(anchor).start`` as the anchor.

    >>> blocks = RollingDays(30, parse_instant("2026-11-05 10:00"))
    >>> blocks.nth(blocks.anchor, 1).label
    '2026-12-05T10:00:00+08:00..2027-01-04T10:00:00+08:00'
    >>> blocks.index(blocks.anchor, parse_instant("2026-12-05 09:59"))
    0
    """

    days: int = attrs.field(converter=_days_converter)
    anchor: pendulum.DateTime = attrs.field(converter=_anchor_converter, eq=utc_key)
    tz: str = attrs.field(default=DEFAULT_TIMEZONE, converter=_tz_converter)

    def _index(self, instant: pendulum.DateTime) -> int:
        span = _dt.timedelta(days=self.days)
        # Elapsed time is within a few hours of wall time, so the guess is off by at most one.
        k = (utc_key(instant) - utc_key(self.anchor)) // span
        key = utc_key(instant)
        while utc_key(self._start(k)) > key:
            k -= 1
        while utc_key(self._start(k + 1)) <= key:
            k += 1
        return k

    def _start(self, k: int) -> pendulum.DateTime:
        local_anchor = to_local(self.anchor, self.tz)
        if k == 0:
            # The anchor itself, even when its wall time occurs twice.
            return local_anchor
        try:
            wall = local_anchor.naive() + _dt.timedelta(days=k * self.days)
        except OverflowError:
            raise PeriodError("period out of the supported date range", path="period", value=k) from None
        return resolve_local(wall, self.tz)

    def describe(self) -> str:
        """A short English description."""
        return f"rolling {self.days}-day blocks from {self.anchor.isoformat()} ({self.tz})"
