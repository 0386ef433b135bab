"""Clocks and instants: the only way time enters cardbenefits.

The engine never reads the wall clock. It is handed a :class:`Clock` (or an instant) and
works with *aware* :class:`pendulum.DateTime` values only; naive datetimes are refused with
:class:`~cardbenefits.errors.PeriodError`. Calendar questions ("which natural month?", "when
is the 00:00 reset?") are answered in a catalog time zone, ``Asia/Shanghai`` unless stated.

>>> clock = ManualClock(parse_instant("2026-11-30 23:59"))
>>> clock.now()
DateTime(2026, 11, 30, 15, 59, 0, tzinfo=Timezone('UTC'))
>>> clock.advance(minutes=1)
>>> to_local(clock.now())
DateTime(2026, 12, 1, 0, 0, 0, tzinfo=Timezone('Asia/Shanghai'))
>>> ensure_aware("2026-11-30T16:00:00Z") == local_datetime(2026, 12, 1)
True
>>> import datetime
>>> ensure_aware(datetime.datetime(2026, 12, 1), path="txn.posted_at")
Traceback (most recent call last):
  ...
cardbenefits.errors.PeriodError: txn.posted_at: naive datetime refused, ... (got datetime.datetime(...))

Local times that a daylight-saving change makes ambiguous or skips follow one rule
everywhere (see :func:`local_datetime`): an ambiguous wall time is its *first* occurrence and
a skipped wall time is the instant the clocks jumped, i.e. the earliest instant whose wall
clock reads at or after it. ``Asia/Shanghai`` has no such times.
"""

from __future__ import annotations

import datetime as _dt
from typing import Final, Protocol, runtime_checkable

import pendulum
from pendulum.tz.exceptions import InvalidTimezone

from cardbenefits.errors import PeriodError

__all__ = [
    "DEFAULT_TIMEZONE",
    "Clock",
    "FixedClock",
    "ManualClock",
    "SystemClock",
    "check_timezone",
    "ensure_aware",
    "local_datetime",
    "parse_instant",
    "resolve_local",
    "to_local",
    "utc_key",
]

DEFAULT_TIMEZONE: Final = "Asia/Shanghai"
"""The catalog time zone used when none is stated (Beijing time, UTC+8, no DST)."""

_UTC: Final = pendulum.UTC


def check_timezone(value: object, path: str = "tz") -> str:
    """Return ``value`` as an IANA time-zone name, refusing unknown zones.

    A :class:`pendulum.Timezone` is accepted and reduced to its name, so domain objects can
    store plain, hashable, serializable names.

    >>> check_timezone("Europe/Berlin")
    'Europe/Berlin'
    >>> check_timezone("Beijing")
    Traceback (most recent call last):
      ...
    cardbenefits.errors.PeriodError: tz: unknown time zone (got 'Beijing')
    """
    if isinstance(value, pendulum.Timezone):
        return value.name
    if not isinstance(value, str) or not value:
        raise PeriodError("time zone must be an IANA name such as 'Asia/Shanghai'", path=path, value=value)
    try:
        pendulum.timezone(value)
    except (InvalidTimezone, ValueError):
        raise PeriodError("unknown time zone", path=path, value=value) from None
    return value


def ensure_aware(value: object, path: str = "at") -> pendulum.DateTime:
    """Return ``value`` as an aware :class:`pendulum.DateTime`, keeping its time zone.

    Accepts an aware :class:`datetime.datetime` (pendulum's included) or an ISO-8601 text
    that carries an offset (``Z``, ``+08:00``). Naive datetimes, texts without an offset and
    anything else raise :class:`~cardbenefits.errors.PeriodError` naming ``path``. Use
    :func:`parse_instant` to read local texts in a catalog zone on purpose.

    >>> ensure_aware("2026-11-05T10:00+08:00")
    DateTime(2026, 11, 5, 10, 0, 0, tzinfo=FixedTimezone(28800, name="+08:00"))
    >>> ensure_aware("2026-11-05T10:00")
    Traceback (most recent call last):
      ...
    cardbenefits.errors.PeriodError: at: text has no UTC offset; use parse_instant... (got '2026-11-05T10:00')
    """
    if isinstance(value, str):
        parsed = _parse(value, path)
        if not isinstance(parsed, _dt.datetime):
            raise PeriodError("expected a date and time with an offset", path=path, value=value)
        if parsed.tzinfo is None:
            raise PeriodError(
                "text has no UTC offset; use parse_instant(text, tz) to read local times",
                path=path,
                value=value,
            )
        return _to_pendulum(parsed)
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise PeriodError("naive datetime refused, give a time zone or offset", path=path, value=value)
        return _to_pendulum(value)
    raise PeriodError(f"expected an aware datetime, not {type(value).__name__}", path=path, value=value)


def to_local(instant: _dt.datetime, tz: str = DEFAULT_TIMEZONE) -> pendulum.DateTime:
    """The same instant seen on the wall clock of ``tz``.

    >>> to_local(ensure_aware("2026-11-30T16:00:00Z")).to_date_string()
    '2026-12-01'
    """
    return ensure_aware(instant, path="instant").in_timezone(check_timezone(tz))


def resolve_local(wall: _dt.datetime, tz: str = DEFAULT_TIMEZONE) -> pendulum.DateTime:
    """The instant at which the wall clock of ``tz`` reads the naive ``wall`` time.

    Ambiguous wall times (clocks turned back) give the first occurrence; skipped wall times
    (clocks turned forward) give the first instant at or after them, which is the moment the
    clocks jumped. This makes "the start of local day D" the earliest instant of day D in
    every zone.

    >>> import datetime
    >>> resolve_local(datetime.datetime(2026, 3, 29, 2, 30), "Europe/Berlin")  # skipped hour
    DateTime(2026, 3, 29, 3, 0, 0, tzinfo=Timezone('Europe/Berlin'))
    >>> resolve_local(datetime.datetime(2026, 10, 25, 2, 30), "Europe/Berlin").isoformat()
    '2026-10-25T02:30:00+02:00'
    """
    if wall.tzinfo is not None:
        raise PeriodError("expected a naive wall-clock time", path="wall", value=wall)
    zone = check_timezone(tz)
    args = (wall.year, wall.month, wall.day, wall.hour, wall.minute, wall.second, wall.microsecond)
    # pendulum moves a skipped time backwards with fold=0 and forwards with fold=1.
    early = pendulum.datetime(*args, tz=zone, fold=0)
    late = pendulum.datetime(*args, tz=zone, fold=1)
    if early.naive() == wall:
        # The time exists; when it exists twice, ``early`` is the first occurrence.
        return early if utc_key(early) <= utc_key(late) else late
    # Skipped: the jump lies in (early, late]; search it to the microsecond.
    lo = _micros(early)
    hi = _micros(late)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _from_micros(mid, zone).naive() >= wall:
            hi = mid
        else:
            lo = mid
    return _from_micros(hi, zone)


def local_datetime(
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    microsecond: int = 0,
    *,
    tz: str = DEFAULT_TIMEZONE,
) -> pendulum.DateTime:
    """An aware instant from a wall-clock time in ``tz`` (Beijing time by default).

    DST-ambiguous and skipped times follow :func:`resolve_local`.

    >>> local_datetime(2026, 12, 1).in_timezone("UTC").isoformat()
    '2026-11-30T16:00:00+00:00'
    >>> local_datetime(2026, 2, 30)
    Traceback (most recent call last):
      ...
    cardbenefits.errors.PeriodError: date: day is out of range for month (got (2026, 2, 30))
    """
    try:
        wall = _dt.datetime(year, month, day, hour, minute, second, microsecond)
    except (ValueError, TypeError) as exc:
        raise PeriodError(str(exc), path="date", value=(year, month, day)) from None
    return resolve_local(wall, tz)


def parse_instant(text: str, tz: str = DEFAULT_TIMEZONE) -> pendulum.DateTime:
    """Parse an ISO-8601 text; a text *without* an offset is a wall time in ``tz``.

    This is the explicit door for catalog texts such as ``"2026-11-30 23:59"``, which
    campaign authors write in Beijing time. A bare date means local midnight. Texts with an
    offset keep it. Time-only texts are refused (they would need today's date).

    >>> parse_instant("2026-11-30 23:59")
    DateTime(2026, 11, 30, 23, 59, 0, tzinfo=Timezone('Asia/Shanghai'))
    >>> parse_instant("2026-11-30").isoformat()
    '2026-11-30T00:00:00+08:00'
    >>> parse_instant("2026-11-30T23:59Z").isoformat()
    '2026-11-30T23:59:00+00:00'
    >>> parse_instant("23:59")
    Traceback (most recent call last):
      ...
    cardbenefits.errors.PeriodError: at: expected a date or a date and time (got '23:59')
    """
    parsed = _parse(text, "at")
    if isinstance(parsed, _dt.datetime):
        if parsed.tzinfo is not None:
            return _to_pendulum(parsed)
        return resolve_local(parsed, tz)
    if isinstance(parsed, _dt.date):
        return local_datetime(parsed.year, parsed.month, parsed.day, tz=tz)
    raise PeriodError("expected a date or a date and time", path="at", value=text)


def utc_key(value: _dt.datetime) -> _dt.datetime:
    """The instant as a naive UTC datetime: a sort/equality key for instants.

    Python compares two datetimes that share a ``tzinfo`` by wall time, ignoring ``fold``,
    so the two 02:30s of a night when clocks go back compare equal. Comparing these keys
    is always by instant.

    >>> a = resolve_local(_dt.datetime(2026, 10, 25, 2, 30), "Europe/Berlin")
    >>> b = a.in_timezone("UTC").add(hours=1).in_timezone("Europe/Berlin")
    >>> (a == b, utc_key(a) == utc_key(b))
    (True, False)
    """
    u = value.astimezone(_dt.UTC)
    # A plain datetime, so that arithmetic on keys gives plain timedeltas.
    return _dt.datetime(u.year, u.month, u.day, u.hour, u.minute, u.second, u.microsecond)


@runtime_checkable
class Clock(Protocol):
    """Anything that tells the current instant (aware, in UTC)."""

    def now(self) -> pendulum.DateTime:
        """The current instant, aware, in UTC."""
        ...


class SystemClock:
    """The wall clock of the machine: the one place cardbenefits reads real time.

    Give it to edges (a service, the CLI); tests and simulations use :class:`FixedClock` or
    :class:`ManualClock`.

    >>> SystemClock().now().timezone_name
    'UTC'
    """

    __slots__ = ()

    def now(self) -> pendulum.DateTime:
        """The current instant, in UTC."""
        return pendulum.now(_UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


class FixedClock:
    """A clock that always says the same instant.

    >>> FixedClock(parse_instant("2026-11-05 10:00")).now().isoformat()
    '2026-11-05T02:00:00+00:00'
    """

    __slots__ = ("_at",)

    def __init__(self, at: _dt.datetime | str) -> None:
        self._at = ensure_aware(at).in_timezone(_UTC)

    def now(self) -> pendulum.DateTime:
        """The fixed instant, in UTC."""
        return self._at

    def __repr__(self) -> str:
        return f"FixedClock({self._at.isoformat()!r})"


class ManualClock:
    """A clock that moves only when told to: for tests and replaying event streams.

    Time never goes backwards through :meth:`advance`; :meth:`set` may jump anywhere.

    >>> clock = ManualClock("2026-01-01T00:00:00+08:00")
    >>> clock.advance(days=31, hours=1)
    >>> to_local(clock.now()).isoformat()
    '2026-02-01T01:00:00+08:00'
    >>> clock.advance(hours=-1)
    Traceback (most recent call last):
      ...
    cardbenefits.errors.PeriodError: advance: a clock cannot go backwards; use set() (got {'hours': -1})
    """

    __slots__ = ("_at",)

    def __init__(self, start: _dt.datetime | str) -> None:
        self._at = ensure_aware(start, path="start").in_timezone(_UTC)

    def now(self) -> pendulum.DateTime:
        """The current instant, in UTC."""
        return self._at

    def advance(
        self,
        *,
        weeks: float = 0,
        days: float = 0,
        hours: float = 0,
        minutes: float = 0,
        seconds: float = 0,
        microseconds: int = 0,
    ) -> None:
        """Move forward by an exact elapsed duration (pendulum duration keywords)."""
        step = pendulum.duration(
            weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds, microseconds=microseconds
        )
        if step < _dt.timedelta(0):
            given = {
                k: v
                for k, v in {
                    "weeks": weeks,
                    "days": days,
                    "hours": hours,
                    "minutes": minutes,
                    "seconds": seconds,
                    "microseconds": microseconds,
                }.items()
                if v
            }
            raise PeriodError("a clock cannot go backwards; use set()", path="advance", value=given)
        self._at = self._at + step

    def set(self, at: _dt.datetime | str) -> None:
        """Jump to ``at`` (any aware instant, earlier or later)."""
        self._at = ensure_aware(at).in_timezone(_UTC)

    def __repr__(self) -> str:
        return f"ManualClock({self._at.isoformat()!r})"


# -- private helpers ------------------------------------------------------------------------

_EPOCH: Final = pendulum.datetime(1970, 1, 1, tz=_UTC)


def _parse(text: str, path: str) -> object:
    try:
        return pendulum.parse(text.strip(), exact=True, tz=None)
    except (ValueError, TypeError):
        raise PeriodError("not an ISO-8601 date or time", path=path, value=text) from None


def _to_pendulum(value: _dt.datetime) -> pendulum.DateTime:
    if isinstance(value, pendulum.DateTime):
        return value
    return pendulum.instance(value)


def _micros(value: _dt.datetime) -> int:
    delta = utc_key(value) - _dt.datetime(1970, 1, 1)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_micros(micros: int, tz: str) -> pendulum.DateTime:
    return (_EPOCH + _dt.timedelta(microseconds=micros)).in_timezone(tz)
