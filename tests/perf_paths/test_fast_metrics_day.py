"""The metrics collector's per-UTC-hour day labels equal the local calendar's, in every zone."""

from __future__ import annotations

import datetime as dt

import pendulum
from hypothesis import given, settings
from hypothesis import strategies as st

from cardbenefits.engine.calendar import LocalCalendar
from cardbenefits.simulate.metrics import MetricsCollector

ZONES = (
    "Asia/Shanghai",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Europe/Berlin",
    "America/New_York",
    "America/St_Johns",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
)

utc_instants = st.datetimes(min_value=dt.datetime(1890, 1, 1), max_value=dt.datetime(2060, 1, 1)).map(
    lambda d: d.replace(tzinfo=dt.UTC)
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ZONES), st.lists(utc_instants, min_size=1, max_size=30), st.integers(0, 59))
def test_day_labels_equal_the_calendar(zone: str, instants: list[dt.datetime], minute: int) -> None:
    metrics, calendar = MetricsCollector(timezone=zone), LocalCalendar(zone)
    # the same hours again at other minutes (cache hits), in both UTC flavours
    again = [i.replace(minute=minute, second=59) for i in instants]
    for at in (*instants, *again, *(pendulum.instance(i) for i in again)):
        assert metrics._day(at) == calendar.day(at).label


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(ZONES), st.integers(1900, 2050), st.integers(-90, 90))
def test_hours_around_local_midnights_and_transitions(zone: str, year: int, minutes: int) -> None:
    metrics, calendar = MetricsCollector(timezone=zone), LocalCalendar(zone)
    start = dt.datetime(year, 1, 1, tzinfo=dt.UTC)
    for day in range(0, 366, 7):
        midnight = pendulum.datetime(year, 1, 1, tz=zone).add(days=day).in_timezone("UTC")
        for at in (midnight + dt.timedelta(minutes=minutes), start + dt.timedelta(days=day, minutes=minutes)):
            plain = dt.datetime.fromtimestamp(at.timestamp(), dt.UTC)
            assert metrics._day(plain) == calendar.day(plain).label
