"""Clocks, aware instants and the local-time resolution rule."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardbenefits.clock import (
    DEFAULT_TIMEZONE,
    Clock,
    FixedClock,
    ManualClock,
    SystemClock,
    check_timezone,
    ensure_aware,
    local_datetime,
    parse_instant,
    resolve_local,
    to_local,
    utc_key,
)
from cardbenefits.errors import PeriodError

ZONES = ["Asia/Shanghai", "UTC", "Europe/Berlin", "America/New_York", "America/Havana", "America/Santiago"]
walls = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1))


def test_default_zone_is_beijing() -> None:
    assert DEFAULT_TIMEZONE == "Asia/Shanghai"
    assert local_datetime(2026, 1, 1).utcoffset() == dt.timedelta(hours=8)


def test_ensure_aware_accepts_aware_values_and_keeps_their_zone() -> None:
    std = dt.datetime(2026, 11, 5, 10, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    got = ensure_aware(std)
    assert isinstance(got, pendulum.DateTime)
    assert got == std
    assert got.utcoffset() == dt.timedelta(hours=8)
    p = pendulum.datetime(2026, 11, 5, tz="Europe/Berlin")
    assert ensure_aware(p) is p
    assert ensure_aware("2026-11-30T16:00:00Z") == local_datetime(2026, 12, 1)
    assert ensure_aware(" 2026-11-30T16:00:00+00:00 ") == local_datetime(2026, 12, 1)


@pytest.mark.parametrize(
    "value",
    [
        dt.datetime(2026, 1, 1),
        pendulum.naive(2026, 1, 1),
        "2026-01-01T10:00",
        "2026-01-01",
        "10:00",
        "not a date",
        1767225600,
        dt.date(2026, 1, 1),
        None,
    ],
)
def test_ensure_aware_refuses_naive_and_non_datetimes_naming_path(value: object) -> None:
    with pytest.raises(PeriodError) as info:
        ensure_aware(value, path="txn.posted_at")
    assert info.value.path == "txn.posted_at"
    assert info.value.value == value


def test_check_timezone() -> None:
    assert check_timezone("UTC") == "UTC"
    assert check_timezone(pendulum.timezone("Europe/Berlin")) == "Europe/Berlin"
    for bad in ["", "Mars/Olympus", 8, None]:
        with pytest.raises(PeriodError) as info:
            check_timezone(bad, path="catalog.tz")
        assert info.value.path == "catalog.tz"


def test_shanghai_vs_utc_boundary() -> None:
    instant = ensure_aware("2026-11-30T16:00:00Z")
    local = to_local(instant)
    assert (local.year, local.month, local.day, local.hour) == (2026, 12, 1, 0)
    before = to_local(instant.subtract(microseconds=1))
    assert before.to_date_string() == "2026-11-30"
    assert to_local(instant, "UTC").to_date_string() == "2026-11-30"


def test_parse_instant_reads_local_texts_in_the_catalog_zone() -> None:
    assert parse_instant("2026-11-30 23:59:59") == ensure_aware("2026-11-30T15:59:59Z")
    assert parse_instant("2026-11-30T23:59", tz="UTC") == ensure_aware("2026-11-30T23:59Z")
    assert parse_instant("2026-07-01", tz="Europe/Berlin") == ensure_aware("2026-06-30T22:00Z")
    # An explicit offset wins over the catalog zone.
    assert parse_instant("2026-11-30T23:59+00:00") == ensure_aware("2026-11-30T23:59Z")
    for bad in ["23:59", "P1D", "soon", "2026-02-30"]:
        with pytest.raises(PeriodError):
            parse_instant(bad)


def test_local_datetime_refuses_impossible_dates() -> None:
    with pytest.raises(PeriodError):
        local_datetime(2026, 2, 29)
    assert local_datetime(2024, 2, 29).to_date_string() == "2024-02-29"
    assert local_datetime(2028, 2, 29).to_date_string() == "2028-02-29"


def test_dst_ambiguous_and_skipped_wall_times() -> None:
    # Berlin: 2026-03-29 02:00 -> 03:00 (skipped), 2026-10-25 03:00 -> 02:00 (repeated).
    skipped = local_datetime(2026, 3, 29, 2, 30, tz="Europe/Berlin")
    assert skipped == ensure_aware("2026-03-29T01:00:00Z")
    assert skipped.hour == 3
    first = local_datetime(2026, 10, 25, 2, 30, tz="Europe/Berlin")
    # PEP 495: a repeated wall time never compares equal across zones; compare instants.
    assert utc_key(first) == utc_key(ensure_aware("2026-10-25T00:30:00Z"))
    # Havana skips midnight itself: day start is the jump.
    assert local_datetime(2024, 3, 10, tz="America/Havana") == ensure_aware("2024-03-10T05:00Z")
    # and repeats 00:00-01:00 in autumn: day start is the first 00:00.
    autumn = local_datetime(2024, 11, 3, tz="America/Havana")
    assert utc_key(autumn) == utc_key(ensure_aware("2024-11-03T04:00Z"))


def test_resolve_local_refuses_aware_input() -> None:
    with pytest.raises(PeriodError):
        resolve_local(pendulum.datetime(2026, 1, 1, tz="UTC"))


@settings(max_examples=200, deadline=None)
@given(wall=walls, tz=st.sampled_from(ZONES))
def test_resolve_local_is_the_earliest_instant_at_or_after_wall(wall: dt.datetime, tz: str) -> None:
    got = resolve_local(wall, tz)
    assert got.naive() >= wall
    # One microsecond earlier the wall clock still read before ``wall``.
    just_before = pendulum.instance(got).in_timezone("UTC").subtract(microseconds=1).in_timezone(tz)
    assert just_before.naive() < wall
    # Only a skipped time moves, and only to the end of the jump (at most a few hours).
    assert got.naive() <= wall + dt.timedelta(hours=3)


@settings(max_examples=200, deadline=None)
@given(wall=walls, tz=st.sampled_from(ZONES))
def test_to_local_round_trips(wall: dt.datetime, tz: str) -> None:
    instant = resolve_local(wall, tz)
    assert utc_key(to_local(instant, "UTC")) == utc_key(instant)
    assert to_local(instant, tz).naive() == instant.naive()


def test_utc_key_tells_apart_the_two_occurrences_of_a_repeated_time() -> None:
    first = local_datetime(2026, 10, 25, 2, 30, tz="Europe/Berlin")
    second = first.in_timezone("UTC").add(hours=1).in_timezone("Europe/Berlin")
    assert first.naive() == second.naive()
    assert utc_key(first) < utc_key(second)


def test_fixed_clock() -> None:
    clock = FixedClock("2026-11-05T10:00:00+08:00")
    assert isinstance(clock, Clock)
    assert clock.now() == ensure_aware("2026-11-05T02:00Z")
    assert clock.now().timezone_name == "UTC"
    assert clock.now() == clock.now()
    assert "2026-11-05T02:00:00+00:00" in repr(clock)
    with pytest.raises(PeriodError):
        FixedClock(dt.datetime(2026, 1, 1))


def test_manual_clock_advances_and_jumps() -> None:
    clock = ManualClock(local_datetime(2026, 11, 30, 23, 59))
    assert isinstance(clock, Clock)
    clock.advance(minutes=1)
    assert to_local(clock.now()).to_datetime_string() == "2026-12-01 00:00:00"
    clock.advance(days=1, hours=2, seconds=3, microseconds=4)
    assert clock.now() == local_datetime(2026, 12, 2, 2, 0, 3, 4)
    clock.advance()
    assert clock.now() == local_datetime(2026, 12, 2, 2, 0, 3, 4)
    clock.set("2020-01-01T00:00:00Z")
    assert clock.now() == ensure_aware("2020-01-01T00:00:00Z")
    assert clock.now().timezone_name == "UTC"
    with pytest.raises(PeriodError) as info:
        clock.advance(days=-1)
    assert info.value.path == "advance"
    assert clock.now() == ensure_aware("2020-01-01T00:00:00Z")
    with pytest.raises(PeriodError):
        clock.set(dt.datetime(2026, 1, 1))


def test_manual_clock_advance_is_elapsed_time_across_dst() -> None:
    clock = ManualClock(local_datetime(2026, 3, 29, 1, 30, tz="Europe/Berlin"))
    clock.advance(hours=1)
    assert to_local(clock.now(), "Europe/Berlin").hour == 3


def test_system_clock_is_aware_utc() -> None:
    clock = SystemClock()
    assert isinstance(clock, Clock)
    now = clock.now()
    assert now.timezone_name == "UTC"
    assert now.year >= 2024
    assert repr(clock) == "SystemClock()"
