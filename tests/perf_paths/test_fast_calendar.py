"""The engine's cached local calendar and UTC conversion agree with ``astimezone`` for every tzinfo."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pendulum
from hypothesis import given, settings
from hypothesis import strategies as st

from cardbenefits.engine import build
from cardbenefits.engine.calendar import LocalCalendar
from cardbenefits.facts import _fast_instant

ZONES = ("Asia/Shanghai", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe")

utc_instants = st.datetimes(min_value=dt.datetime(1980, 1, 1), max_value=dt.datetime(2060, 1, 1)).map(
    lambda d: d.replace(tzinfo=dt.UTC)
)


def _views(instant: dt.datetime, offset_minutes: int, zone: str) -> list[dt.datetime]:
    """The same instant with a stdlib fixed offset, pendulum's FixedTimezone and named zones."""
    fixed = instant.astimezone(dt.timezone(dt.timedelta(minutes=offset_minutes)))
    parsed = _fast_instant(fixed.isoformat(timespec="microseconds"))
    assert parsed is not None
    return [
        instant,
        fixed,
        parsed,
        instant.astimezone(ZoneInfo(zone)),
        pendulum.instance(instant).in_timezone(zone),
    ]


@settings(max_examples=300, deadline=None)
@given(utc_instants, st.integers(-14 * 60, 14 * 60), st.sampled_from(ZONES), st.sampled_from(ZONES))
def test_local_day_is_the_astimezone_date(instant: dt.datetime, offset: int, seen_in: str, zone: str) -> None:
    calendar = LocalCalendar(zone)
    expected = instant.astimezone(ZoneInfo(zone)).date()
    for view in _views(instant, offset, seen_in):
        assert calendar.day(view).date == expected
        assert calendar.day(view) is calendar.day(view)


def test_local_day_across_a_fold() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    calendar = LocalCalendar("Asia/Shanghai")
    # 02:30 Berlin on 25 Oct 2026, first (CEST, 00:30Z) and second (CET, 01:30Z) occurrence
    first = dt.datetime(2026, 10, 25, 2, 30, tzinfo=berlin)
    second = first.replace(fold=1)
    for value in (first, second, pendulum.instance(first), pendulum.instance(second)):
        assert calendar.day(value).date == value.astimezone(ZoneInfo("Asia/Shanghai")).date()


@settings(max_examples=300, deadline=None)
@given(utc_instants, st.integers(-14 * 60, 14 * 60), st.sampled_from(ZONES))
def test_entry_instants_in_utc_as_astimezone(instant: dt.datetime, offset: int, zone: str) -> None:
    for view in _views(instant, offset, zone):
        fast = build.utc(view)
        slow = view.astimezone(pendulum.UTC)
        assert fast == slow
        assert repr(fast) == repr(slow)
        assert (type(fast), fast.tzinfo, fast.fold) == (type(slow), slow.tzinfo, slow.fold)
        assert build.utc(fast) is fast
