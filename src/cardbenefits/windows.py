"""Validity windows: when a campaign runs, a coupon is usable, a draw is open.

Every window is *end-exclusive*: a :class:`FixedWindow` from ``start`` to ``end`` contains
``start`` and not ``end``, so back-to-back windows never overlap. Windows answer
``contains(instant)``, ``next_opening(after)`` (the first instant at or after ``after`` at which
the window is open, or ``None`` if it never opens again) and ``explain()``.

- :class:`FixedWindow` — fixed dates, e.g. the campaign runs 1–30 November.
- :class:`RelativeWindow` — a template resolved from an anchor instant, e.g. a voucher
  "valid 7 days after issue", a reward "within 30 days of approval".
- :class:`RecurringWindow` — weekdays and hours in a stated zone, e.g. "周三五折" every
  Wednesday 00:00–24:00 Beijing time.
- :class:`AllOf` / :class:`AnyOf` — intersection / union, e.g. the campaign window AND
  Wednesdays.

>>> campaign = FixedWindow(parse_instant("2026-11-01"), parse_instant("2026-12-01"))
>>> wednesdays = RecurringWindow(frozenset({3}), "00:00", "24:00")
>>> offer = AllOf((campaign, wednesdays))
>>> offer.contains(parse_instant("2026-11-04 23:59"))  # a Wednesday in November
True
>>> offer.contains(parse_instant("2026-11-05 00:00"))  # Thursday
False
>>> offer.next_opening(parse_instant("2026-11-05 09:00"))
DateTime(2026, 11, 11, 0, 0, 0, tzinfo=Timezone('Asia/Shanghai'))
>>> print(offer.explain())
from 2026-11-01 00:00 to 2026-12-01 00:00 (Asia/Shanghai) and every Wed 00:00–24:00 (Asia/Shanghai)
>>> next_daily_reset(parse_instant("2026-11-30T15:00:00Z"))
DateTime(2026, 12, 1, 0, 0, 0, tzinfo=Timezone('Asia/Shanghai'))
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable, Iterable
from typing import Protocol, runtime_checkable

import attrs
import pendulum

from cardbenefits.clock import (
    DEFAULT_TIMEZONE,
    check_timezone,
    ensure_aware,
    parse_instant,
    resolve_local,
    to_local,
    utc_key,
)
from cardbenefits.errors import PeriodError
from cardbenefits.periods import CalendarDay, Period

__all__ = [
    "AllOf",
    "AnyOf",
    "FixedWindow",
    "RecurringWindow",
    "RelativeWindow",
    "Window",
    "day_start",
    "next_daily_reset",
]

# ``parse_instant`` is used by the module doctest.
_ = parse_instant

_WEEKDAY_ABBR = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_ONE_DAY = _dt.timedelta(days=1)
_DEFAULT_HORIZON = _dt.timedelta(days=366 * 2)


@runtime_checkable
class Window(Protocol):
    """A set of instants, end-exclusive, that can say whether and when it is open."""

    def contains(self, instant: _dt.datetime) -> bool:
        """True when the window is open at ``instant``."""
        ...

    def next_opening(self, after: _dt.datetime) -> pendulum.DateTime | None:
        """The first instant at or after ``after`` at which the window is open, or ``None``."""
        ...

    def explain(self) -> str:
        """A short English description of the window."""
        ...


def day_start(instant: _dt.datetime, tz: str = DEFAULT_TIMEZONE) -> pendulum.DateTime:
    """The local midnight that starts ``instant``'s day in ``tz`` (the last daily reset).

    >>> day_start(parse_instant("2026-11-30T16:30:00Z")).isoformat()
    '2026-12-01T00:00:00+08:00'
    """
    return CalendarDay(tz).containing(instant).start


def next_daily_reset(instant: _dt.datetime, tz: str = DEFAULT_TIMEZONE) -> pendulum.DateTime:
    """The next local midnight strictly after ``instant`` (when daily stock and limits reset).

    >>> next_daily_reset(parse_instant("2026-12-01 00:00")).isoformat()
    '2026-12-02T00:00:00+08:00'
    """
    return CalendarDay(tz).containing(instant).end


def _fmt_local(instant: pendulum.DateTime, tz: str) -> str:
    local = instant.in_timezone(tz)
    text = f"{local.year:04d}-{local.month:02d}-{local.day:02d} {local.hour:02d}:{local.minute:02d}"
    if local.second or local.microsecond:
        text += f":{local.second:02d}"
        if local.microsecond:
            text += f".{local.microsecond:06d}"
    return text


def _start_converter(value: object) -> pendulum.DateTime:
    return ensure_aware(value, path="start")


def _end_converter(value: object) -> pendulum.DateTime:
    return ensure_aware(value, path="end")


def _tz_converter(value: object) -> str:
    return check_timezone(value, path="tz")


@attrs.frozen(repr=False)
class FixedWindow:
    """Open from ``start`` (inclusive) to ``end`` (exclusive).

    ``tz`` only affects :meth:`explain`. Equality is by instant.

    >>> w = FixedWindow(parse_instant("2026-11-01"), parse_instant("2026-12-01"))
    >>> w.contains(parse_instant("2026-11-30 23:59:59")), w.contains(w.end)
    (True, False)
    >>> w.next_opening(parse_instant("2026-12-01")) is None
    True
    """

    start: pendulum.DateTime = attrs.field(converter=_start_converter, eq=utc_key)
    end: pendulum.DateTime = attrs.field(converter=_end_converter, eq=utc_key)
    tz: str = attrs.field(default=DEFAULT_TIMEZONE, converter=_tz_converter, eq=False)

    @end.validator
    def _check_end(self, _attribute: object, value: pendulum.DateTime) -> None:
        if utc_key(value) <= utc_key(self.start):
            raise PeriodError("a window must end after it starts", path="end", value=value)

    def contains(self, instant: _dt.datetime) -> bool:
        """True when ``start <= instant < end``."""
        key = utc_key(ensure_aware(instant, path="instant"))
        return utc_key(self.start) <= key < utc_key(self.end)

    def next_opening(self, after: _dt.datetime) -> pendulum.DateTime | None:
        """``after`` itself if open, ``start`` if not yet open, ``None`` once over."""
        at = ensure_aware(after, path="after")
        if utc_key(at) < utc_key(self.start):
            return self.start
        return at if utc_key(at) < utc_key(self.end) else None

    def as_period(self) -> Period:
        """The same interval as a :class:`~cardbenefits.periods.Period`."""
        return Period(self.start, self.end)

    def explain(self) -> str:
        """E.g. ``"from 2026-11-01 00:00 to 2026-12-01 00:00 (Asia/Shanghai)"`` (end exclusive)."""
        return f"from {_fmt_local(self.start, self.tz)} to {_fmt_local(self.end, self.tz)} ({self.tz})"

    def __repr__(self) -> str:
        return f"FixedWindow({self.start.isoformat()!r}, {self.end.isoformat()!r})"


def _nonnegative_int(path: str) -> Callable[[object, object, object], None]:
    def check(_instance: object, _attribute: object, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise PeriodError("must be a whole number >= 0", path=path, value=value)

    return check


def _check_anchor_name(_instance: object, _attribute: object, value: object) -> None:
    if not isinstance(value, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", value):
        raise PeriodError("anchor must be a lower-case name such as 'issue'", path="anchor", value=value)


@attrs.frozen
class RelativeWindow:
    """A window of ``days`` and ``hours`` after an anchor event (``"issue"``, ``"approval"``...).

    ``days`` are local calendar days in ``tz`` (the end keeps the anchor's wall time), then
    ``hours`` are added as elapsed time. With ``end_of_day=True`` the end is moved to the
    next local midnight, for rules that run "through the Nth day".

    >>> valid = RelativeWindow(days=7)
    >>> valid.resolve(parse_instant("2026-11-05 10:00")).explain()
    'from 2026-11-05 10:00 to 2026-11-12 10:00 (Asia/Shanghai)'
    >>> RelativeWindow(days=29, anchor="approval", end_of_day=True).resolve(
    ...     parse_instant("2026-11-05 10:00")).end.isoformat()
    '2026-12-05T00:00:00+08:00'
    >>> RelativeWindow()
    Traceback (most recent call last):
      ...
    cardbenefits.errors.PeriodError: days: a relative window needs days or hours (got 0)
    """

    days: int = attrs.field(default=0, validator=_nonnegative_int("days"))
    hours: int = attrs.field(default=0, validator=_nonnegative_int("hours"))
    anchor: str = attrs.field(default="issue", validator=_check_anchor_name)
    tz: str = attrs.field(default=DEFAULT_TIMEZONE, converter=_tz_converter)
    end_of_day: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))

    def __attrs_post_init__(self) -> None:
        if self.days == 0 and self.hours == 0:
            raise PeriodError("a relative window needs days or hours", path="days", value=0)

    def resolve(self, anchor_instant: _dt.datetime) -> FixedWindow:
        """The fixed window that starts at ``anchor_instant``."""
        start = ensure_aware(anchor_instant, path=self.anchor)
        local = to_local(start, self.tz)
        end = (
            start if self.days == 0 else resolve_local(local.naive() + _dt.timedelta(days=self.days), self.tz)
        )
        end = end + _dt.timedelta(hours=self.hours)
        if self.end_of_day and utc_key(day_start(end, self.tz)) != utc_key(end):
            end = next_daily_reset(end, self.tz)
        return FixedWindow(start, end.in_timezone(self.tz), self.tz)

    def explain(self) -> str:
        """E.g. ``"7 days after issue"``."""
        parts = []
        if self.days:
            parts.append(f"{self.days} day{'s' if self.days != 1 else ''}")
        if self.hours:
            parts.append(f"{self.hours} hour{'s' if self.hours != 1 else ''}")
        tail = ", through the end of that day" if self.end_of_day else ""
        return f"{' '.join(parts)} after {self.anchor}{tail} ({self.tz})"


_TIME_TEXT = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")


def _to_time(value: object, path: str) -> _dt.time:
    if isinstance(value, _dt.time):
        if value.tzinfo is not None:
            raise PeriodError("give a wall-clock time without tzinfo; set tz instead", path=path, value=value)
        return value
    if isinstance(value, str):
        match = _TIME_TEXT.fullmatch(value.strip())
        if match:
            hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
            if (hour, minute, second) == (24, 0, 0):
                return _dt.time(0)
            if hour < 24 and minute < 60 and second < 60:
                return _dt.time(hour, minute, second)
    raise PeriodError("expected a time such as '09:30' or '24:00'", path=path, value=value)


def _start_time_converter(value: object) -> _dt.time:
    return _to_time(value, "start_time")


def _end_time_converter(value: object) -> _dt.time:
    return _to_time(value, "end_time")


def _weekdays_converter(value: object) -> frozenset[int]:
    if isinstance(value, int | str) or not isinstance(value, Iterable):
        raise PeriodError("weekdays must be a set of ISO weekdays 1..7", path="weekdays", value=value)
    days = frozenset(value)
    if not days:
        raise PeriodError("weekdays must not be empty", path="weekdays", value=value)
    for day in days:
        if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 7:
            raise PeriodError(
                "weekday must be an ISO number 1 (Monday) .. 7 (Sunday)", path="weekdays", value=day
            )
    return days


@attrs.frozen
class RecurringWindow:
    """Open on the given ISO ``weekdays`` (1 = Monday .. 7 = Sunday) from ``start_time`` to
    ``end_time`` on the local wall clock of ``tz``.

    Times may be :class:`datetime.time` or ``"HH:MM[:SS]"`` text; ``"24:00"`` means the next
    midnight. When ``end_time`` is not after ``start_time`` the opening ends on the next day,
    so ``00:00``–``24:00`` is the whole day and ``22:00``–``02:00`` runs overnight (the
    weekday is the day the opening starts). The end is exclusive.

    >>> lunch = RecurringWindow(frozenset({1, 2, 3, 4, 5}), "11:30", "13:30")
    >>> lunch.contains(parse_instant("2026-11-06 13:29")), lunch.contains(parse_instant("2026-11-06 13:30"))
    (True, False)
    >>> lunch.next_opening(parse_instant("2026-11-06 13:30"))  # Friday afternoon -> Monday
    DateTime(2026, 11, 9, 11, 30, 0, tzinfo=Timezone('Asia/Shanghai'))
    """

    weekdays: frozenset[int] = attrs.field(converter=_weekdays_converter)
    start_time: _dt.time = attrs.field(converter=_start_time_converter)
    end_time: _dt.time = attrs.field(converter=_end_time_converter)
    tz: str = attrs.field(default=DEFAULT_TIMEZONE, converter=_tz_converter)

    def _opening(self, day: _dt.date) -> tuple[pendulum.DateTime, pendulum.DateTime] | None:
        if day.isoweekday() not in self.weekdays:
            return None
        start = resolve_local(_dt.datetime.combine(day, self.start_time), self.tz)
        end_day = day + _ONE_DAY if self.end_time <= self.start_time else day
        end = resolve_local(_dt.datetime.combine(end_day, self.end_time), self.tz)
        if utc_key(end) <= utc_key(start):
            # Only when a DST jump swallows the whole opening (e.g. 02:00-03:00 on that night).
            return None
        return start, end

    def _local_day(self, instant: pendulum.DateTime) -> _dt.date:
        local = to_local(instant, self.tz)
        return _dt.date(local.year, local.month, local.day)

    def opening_at(self, instant: _dt.datetime) -> FixedWindow | None:
        """The opening that contains ``instant``, or ``None``."""
        at = ensure_aware(instant, path="instant")
        key = utc_key(at)
        today = self._local_day(at)
        for offset in (-1, 0, 1):
            found = self._opening(today + _dt.timedelta(days=offset))
            if found and utc_key(found[0]) <= key < utc_key(found[1]):
                return FixedWindow(found[0], found[1], self.tz)
        return None

    def contains(self, instant: _dt.datetime) -> bool:
        """True when ``instant`` falls in one of the openings."""
        return self.opening_at(instant) is not None

    def next_opening(self, after: _dt.datetime) -> pendulum.DateTime:
        """``after`` itself when open, else the start of the next opening."""
        at = ensure_aware(after, path="after")
        key = utc_key(at)
        today = self._local_day(at)
        # Two weeks always reach a listed weekday whose opening DST did not swallow.
        for offset in range(-1, 15):
            found = self._opening(today + _dt.timedelta(days=offset))
            if found and utc_key(found[1]) > key:
                return at if utc_key(found[0]) <= key else found[0]
        # Unreachable for a valid window; kept so a future change cannot loop or return junk.
        raise PeriodError("the window never opens", path="weekdays", value=self.weekdays)

    def openings(self, start: _dt.datetime, end: _dt.datetime) -> list[FixedWindow]:
        """The openings that overlap ``[start, end)``, whole, in order."""
        first = ensure_aware(start, path="start")
        last = ensure_aware(end, path="end")
        if utc_key(last) < utc_key(first):
            raise PeriodError("end is before start", path="end", value=end)
        result = []
        day = self._local_day(first) - _ONE_DAY
        stop = self._local_day(last)
        while day <= stop:
            found = self._opening(day)
            if found and utc_key(found[1]) > utc_key(first) and utc_key(found[0]) < utc_key(last):
                result.append(FixedWindow(found[0], found[1], self.tz))
            day += _ONE_DAY
        return result

    def explain(self) -> str:
        """E.g. ``"every Wed 00:00–24:00 (Asia/Shanghai)"``."""
        days = ", ".join(_WEEKDAY_ABBR[d - 1] for d in sorted(self.weekdays))
        start = _fmt_time(self.start_time)
        end = "24:00" if self.end_time == _dt.time(0) else _fmt_time(self.end_time)
        overnight = " (next day)" if _dt.time(0) < self.end_time <= self.start_time else ""
        return f"every {days} {start}–{end}{overnight} ({self.tz})"


def _fmt_time(value: _dt.time) -> str:
    text = f"{value.hour:02d}:{value.minute:02d}"
    return text + f":{value.second:02d}" if value.second else text


def _windows_converter(value: object) -> tuple[Window, ...]:
    if not isinstance(value, Iterable):
        raise PeriodError("expected a sequence of windows", path="windows", value=value)
    items = tuple(value)
    if not items:
        raise PeriodError("need at least one window", path="windows", value=value)
    for i, item in enumerate(items):
        if not isinstance(item, Window):
            raise PeriodError("not a window", path=f"windows[{i}]", value=item)
    return items


@attrs.frozen
class AllOf:
    """Open when *every* member is open (intersection).

    ``next_opening`` looks ahead at most ``horizon`` (two years by default) and gives ``None``
    when the members never meet within it.
    """

    windows: tuple[Window, ...] = attrs.field(converter=_windows_converter)
    horizon: _dt.timedelta = attrs.field(default=_DEFAULT_HORIZON, kw_only=True)

    @horizon.validator
    def _check_horizon(self, _attribute: object, value: object) -> None:
        if not isinstance(value, _dt.timedelta) or value <= _dt.timedelta(0):
            raise PeriodError("horizon must be a positive timedelta", path="horizon", value=value)

    def contains(self, instant: _dt.datetime) -> bool:
        """True when all members contain ``instant``."""
        at = ensure_aware(instant, path="instant")
        return all(w.contains(at) for w in self.windows)

    def next_opening(self, after: _dt.datetime) -> pendulum.DateTime | None:
        """The first instant at or after ``after`` at which all members are open."""
        at = ensure_aware(after, path="after")
        limit = utc_key(at) + self.horizon
        # Each round moves to the next opening of a closed member; it stops when all agree.
        while utc_key(at) <= limit:
            moved = False
            for window in self.windows:
                opening = window.next_opening(at)
                if opening is None:
                    return None
                if utc_key(opening) > utc_key(at):
                    at, moved = opening, True
            if not moved:
                return at
        return None

    def explain(self) -> str:
        """The members' explanations joined with "and"."""
        return " and ".join(w.explain() for w in self.windows)


@attrs.frozen
class AnyOf:
    """Open when *any* member is open (union), e.g. Wednesdays or weekends."""

    windows: tuple[Window, ...] = attrs.field(converter=_windows_converter)

    def contains(self, instant: _dt.datetime) -> bool:
        """True when some member contains ``instant``."""
        at = ensure_aware(instant, path="instant")
        return any(w.contains(at) for w in self.windows)

    def next_opening(self, after: _dt.datetime) -> pendulum.DateTime | None:
        """The earliest of the members' next openings."""
        at = ensure_aware(after, path="after")
        found = [o for o in (w.next_opening(at) for w in self.windows) if o is not None]
        return min(found, key=utc_key) if found else None

    def explain(self) -> str:
        """The members' explanations joined with "or"."""
        return " or ".join(w.explain() for w in self.windows)
