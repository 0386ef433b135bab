"""Local days for the engine's hot path: period labels per local day, computed once and cached.

Caps, budgets and ladders count per natural day, natural month (自然月) or statement cycle
(账单周期) in the catalog time zone. :mod:`cardbenefits.periods` computes those with pendulum,
which is right but costs microseconds per call; the engine needs the same answers for millions
of events. A :class:`LocalCalendar` therefore maps an instant to its local date with plain
:mod:`datetime` arithmetic (no conversion at all when the instant is already in the catalog
zone) and caches one :class:`LocalDay` per date, holding the day's labels and, per billing
day, its statement cycle. Labels equal those of :mod:`cardbenefits.periods` (the tests compare
them across zones with daylight saving).

>>> import pendulum
>>> cal = LocalCalendar("Asia/Shanghai")
>>> day = cal.day(pendulum.datetime(2026, 11, 30, 16, tz="UTC"))   # 00:00 on 1 Dec in Beijing
>>> day.label, day.month
('2026-12-01', '2026-12')
>>> day.cycle(5)
(24323, '2026-11-06..2026-12-05')
>>> day.cycle(31)[1]
'2026-12'
>>> cal.day(pendulum.datetime(2026, 12, 1, 9, tz="Asia/Shanghai")) is day
True
"""

from __future__ import annotations

import calendar as _calendar
import datetime as _dt
from zoneinfo import ZoneInfo

from pendulum.tz.timezone import FixedTimezone

from cardbenefits.clock import DEFAULT_TIMEZONE, check_timezone
from cardbenefits.errors import EngineError

__all__ = ["LocalCalendar", "LocalDay"]

_ONE_DAY = _dt.timedelta(days=1)
_NAIVE = _dt.datetime


def _billing_date(k: int, billing_day: int) -> _dt.date:
    year, month = k // 12, k % 12 + 1
    return _dt.date(year, month, min(billing_day, _calendar.monthrange(year, month)[1]))


class LocalDay:
    """One local calendar date: its day and month labels, month index and statement cycles.

    ``month_index`` is ``year * 12 + month - 1`` (consecutive months differ by one), the
    numbering :class:`cardbenefits.periods.CalendarMonth` uses.
    """

    __slots__ = ("_cycles", "date", "label", "month", "month_index")

    def __init__(self, date: _dt.date) -> None:
        self.date = date
        self.label = date.isoformat()
        self.month = self.label[:7]
        self.month_index = date.year * 12 + date.month - 1
        self._cycles: dict[int, tuple[int, str]] = {}

    def cycle(self, billing_day: int) -> tuple[int, str]:
        """``(index, label)`` of the statement cycle closing on ``billing_day`` containing this day.

        Same convention and labels as :class:`cardbenefits.periods.StatementCycle`: the
        billing date (clamped to the month's end) is the cycle's last day.
        """
        found = self._cycles.get(billing_day)
        if found is None:
            if (
                isinstance(billing_day, bool)
                or not isinstance(billing_day, int)
                or not 1 <= billing_day <= 31
            ):
                raise EngineError(
                    "billing day must be an int from 1 to 31", path="billing_day", value=billing_day
                )
            k = self.month_index
            if self.date > _billing_date(k, billing_day):
                k += 1
            first = _billing_date(k - 1, billing_day) + _ONE_DAY
            last = _billing_date(k, billing_day)
            if first.day == 1 and (last + _ONE_DAY).day == 1:
                label = f"{first.year:04d}-{first.month:02d}"
            elif first == last:
                label = first.isoformat()
            else:
                label = f"{first.isoformat()}..{last.isoformat()}"
            found = self._cycles[billing_day] = (k, label)
        return found


_UTC_KEYS = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Zulu", "Etc/Zulu"})


class LocalCalendar:
    """Maps aware instants to cached :class:`LocalDay` values in one time zone."""

    __slots__ = ("_days", "_hours", "_local_tz", "_zone", "tz")

    def __init__(self, tz: str = DEFAULT_TIMEZONE) -> None:
        self.tz = check_timezone(tz)
        self._zone = ZoneInfo(self.tz)
        self._days: dict[tuple[int, int, int], LocalDay] = {}
        # tzinfo objects seen, and whether they are this zone (their wall clock is already local)
        self._local_tz: dict[int, tuple[_dt.tzinfo, bool, _dt.timedelta | None]] = {}
        # (fixed offset, wall year, month, day, hour) -> the LocalDay of that whole hour
        self._hours: dict[tuple[_dt.timedelta, int, int, int, int], LocalDay] = {}

    def _kind(self, tzinfo: _dt.tzinfo | None) -> tuple[_dt.tzinfo, bool, _dt.timedelta | None]:
        """``(tzinfo, is this zone, its fixed offset or None)``, cached per tzinfo object."""
        if tzinfo is None:
            raise EngineError("instants must be aware", path="instant", value=None)
        known = self._local_tz.get(id(tzinfo))
        if known is None:
            local = getattr(tzinfo, "key", None) == self.tz or getattr(tzinfo, "name", None) == self.tz
            # datetime.timezone and pendulum's FixedTimezone have one offset whatever the instant
            fixed = tzinfo.utcoffset(None) if isinstance(tzinfo, _dt.timezone | FixedTimezone) else None
            if fixed is None and getattr(tzinfo, "key", None) in _UTC_KEYS:
                # pendulum.UTC (the ledger's zone) is a zoneinfo zone, but UTC never changes offset
                fixed = _dt.timedelta(0)
            known = (tzinfo, local, fixed)
            if len(self._local_tz) < 1024:
                # the dict keeps the object alive, so its id is never reused by another tzinfo
                self._local_tz[id(tzinfo)] = known
        return known

    def day(self, instant: _dt.datetime) -> LocalDay:
        """The local day containing ``instant`` (an aware datetime)."""
        i = instant
        _tz, local, offset = self._kind(i.tzinfo)
        if local:
            key = (i.year, i.month, i.day)
        else:
            hour: tuple[_dt.timedelta, int, int, int, int] | None = None
            if offset is None:
                offset = i.utcoffset()
            else:
                # a fixed offset: an hour of its wall time is one hour of UTC, mostly in one local day
                hour = (offset, i.year, i.month, i.day, i.hour)
                cached = self._hours.get(hour)
                if cached is not None:
                    return cached
            if offset is None:  # aware instants have an offset
                raise EngineError("instants must be aware", path="instant", value=i)
            here = self._here(i.year, i.month, i.day, i.hour, i.minute, i.second, i.microsecond, offset)
            key = (here.year, here.month, here.day)
            if hour is not None and len(self._hours) < 1_000_000:
                first = self._here(i.year, i.month, i.day, i.hour, 0, 0, 0, offset)
                last = self._here(i.year, i.month, i.day, i.hour, 59, 59, 999_999, offset)
                if (first.year, first.month, first.day) == key == (
                    last.year,
                    last.month,
                    last.day,
                ) and first.utcoffset() == last.utcoffset():
                    # both ends on this day under one zone offset: no transition within the hour
                    self._hours[hour] = self._day_of(key)
        return self._day_of(key)

    def _day_of(self, key: tuple[int, int, int]) -> LocalDay:
        found = self._days.get(key)
        if found is None:
            found = self._days[key] = LocalDay(_dt.date(*key))
        return found

    def _here(
        self, y: int, mo: int, d: int, h: int, mi: int, sec: int, us: int, offset: _dt.timedelta
    ) -> _dt.datetime:
        """The local wall time of the wall time ``y-mo-d h:mi:sec.us`` at UTC ``offset``."""
        # UTC wall time = wall time - offset in force (fold included), which the zone's
        # fromutc turns into local wall time. Plain datetime arithmetic: pendulum's
        # overrides of astimezone/replace are slow on its subclass.
        zone = self._zone
        return zone.fromutc(_NAIVE(y, mo, d, h, mi, sec, us, zone) - offset)

    def local_date(self, instant: _dt.datetime) -> _dt.date:
        """The local date of ``instant``."""
        return self.day(instant).date
