"""The local calendar's per-hour cache for fixed-offset instants gives the ``astimezone`` date."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from cardbenefits.engine.calendar import LocalCalendar
from cardbenefits.facts import _fast_instant

ZONES = ("Asia/Shanghai", "Asia/Kolkata", "Europe/Berlin", "America/St_Johns", "Australia/Lord_Howe")

utc_instants = st.datetimes(min_value=dt.datetime(1890, 1, 1), max_value=dt.datetime(2060, 1, 1)).map(
    lambda d: d.replace(tzinfo=dt.UTC)
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(ZONES),
    st.lists(utc_instants, min_size=1, max_size=20),
    st.integers(-14 * 60, 14 * 60),
    st.lists(st.integers(0, 3599), min_size=1, max_size=8),
)
def test_every_second_of_a_cached_hour_has_the_astimezone_date(
    zone: str, instants: list[dt.datetime], offset: int, seconds: list[int]
) -> None:
    calendar, tz = LocalCalendar(zone), ZoneInfo(zone)
    fixed = dt.timezone(dt.timedelta(minutes=offset))
    for instant in instants:
        wall = instant.astimezone(fixed)
        for s in seconds:  # other instants of the same wall hour: cache hits once the hour is known
            at = wall.replace(minute=s // 60, second=s % 60)
            parsed = _fast_instant(at.isoformat(timespec="microseconds"))
            assert parsed is not None
            for view in (at, parsed):
                assert calendar.day(view).date == view.astimezone(tz).date()


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(ZONES), st.integers(1900, 2050), st.integers(-14 * 60, 14 * 60), st.integers(-90, 90))
def test_hours_around_local_midnights(zone: str, year: int, offset: int, minutes: int) -> None:
    calendar, tz = LocalCalendar(zone), ZoneInfo(zone)
    fixed = dt.timezone(dt.timedelta(minutes=offset))
    for day in range(0, 366, 5):
        midnight = dt.datetime(year, 1, 1, tzinfo=tz) + dt.timedelta(days=day)
        for m in (minutes, -minutes, 0, 1, -1):
            at = (midnight.astimezone(dt.UTC) + dt.timedelta(minutes=m)).astimezone(fixed)
            assert calendar.day(at).date == at.astimezone(tz).date()


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(ZONES), st.lists(utc_instants, min_size=1, max_size=20), st.integers(-90, 90))
def test_pendulum_utc_instants_use_the_hour_cache_and_give_the_astimezone_date(
    zone: str, instants: list[dt.datetime], minutes: int
) -> None:
    import pendulum

    calendar, tz = LocalCalendar(zone), ZoneInfo(zone)
    for instant in instants:
        # the ledger keeps instants in pendulum.UTC, a zoneinfo zone with a constant offset
        for at in (instant, instant + dt.timedelta(minutes=minutes)):
            ledger_at = pendulum.instance(at).in_timezone(pendulum.UTC)
            assert calendar.day(ledger_at).date == at.astimezone(tz).date()
        local_midnight = dt.datetime.combine(instant.astimezone(tz).date(), dt.time(), tzinfo=tz)
        for m in (minutes, -1, 0, 1):
            at = local_midnight.astimezone(dt.UTC) + dt.timedelta(minutes=m)
            ledger_at = pendulum.instance(at).in_timezone(pendulum.UTC)
            assert calendar.day(ledger_at).date == at.astimezone(tz).date()
