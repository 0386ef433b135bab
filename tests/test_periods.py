"""Periods and period bases: calendar edges, statement cycles, DST, and tiling properties."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardbenefits.clock import ensure_aware, local_datetime, parse_instant, utc_key
from cardbenefits.errors import PeriodError
from cardbenefits.periods import (
    CalendarDay,
    CalendarMonth,
    CalendarWeek,
    Period,
    PeriodBasis,
    RollingDays,
    StatementCycle,
    are_consecutive,
)

ZONES = ["Asia/Shanghai", "UTC", "Europe/Berlin", "America/New_York", "America/Havana", "America/Santiago"]
LOW = int(dt.datetime(2000, 1, 1, tzinfo=dt.UTC).timestamp()) * 1_000_000
HIGH = int(dt.datetime(2100, 1, 1, tzinfo=dt.UTC).timestamp()) * 1_000_000


def _instant(micros: int) -> pendulum.DateTime:
    return pendulum.datetime(1970, 1, 1, tz="UTC") + dt.timedelta(microseconds=micros)


instants = st.integers(min_value=LOW, max_value=HIGH).map(_instant)


@st.composite
def bases(draw: st.DrawFn) -> PeriodBasis:
    tz = draw(st.sampled_from(ZONES))
    kind = draw(st.sampled_from(["day", "week", "month", "cycle", "rolling"]))
    if kind == "day":
        return CalendarDay(tz)
    if kind == "week":
        return CalendarWeek(tz, week_start=draw(st.integers(1, 7)))
    if kind == "month":
        return CalendarMonth(tz)
    if kind == "cycle":
        return StatementCycle(draw(st.integers(1, 31)), tz)
    return RollingDays(draw(st.integers(1, 60)), draw(instants), tz)


# -- Period ----------------------------------------------------------------------------------


def test_period_is_half_open_and_validated() -> None:
    p = Period("2026-11-01T00:00+08:00", "2026-12-01T00:00+08:00")
    assert p.contains(p.start)
    assert not p.contains(p.end)
    assert p.contains(ensure_aware("2026-11-30T15:59:59.999999Z"))
    assert not p.contains(ensure_aware("2026-11-30T16:00:00Z"))
    assert p.duration == dt.timedelta(days=30)
    assert str(p) == "2026-11"
    assert "2026-11-01T00:00:00+08:00" in repr(p)
    with pytest.raises(PeriodError) as info:
        Period(p.start, p.start)
    assert info.value.path == "end"
    with pytest.raises(PeriodError) as info:
        Period(dt.datetime(2026, 1, 1), p.end)
    assert info.value.path == "start"
    with pytest.raises(PeriodError):
        p.contains(dt.datetime(2026, 11, 5))


def test_period_equality_is_by_instant_across_zones_and_folds() -> None:
    a = Period(local_datetime(2026, 11, 1), local_datetime(2026, 12, 1))
    b = a.in_timezone("UTC")
    assert a == b
    assert hash(a) == hash(b)
    assert b.label == "2026-10-31T16:00:00+00:00..2026-11-30T16:00:00+00:00"
    # The two 02:30s of the Berlin autumn night are different instants.
    first = local_datetime(2026, 10, 25, 2, 30, tz="Europe/Berlin")
    second = first.in_timezone("UTC").add(hours=1).in_timezone("Europe/Berlin")
    end = local_datetime(2026, 10, 26, tz="Europe/Berlin")
    assert Period(first, end) != Period(second, end)
    assert Period(first, end) < Period(second, end)
    assert Period(first, end).contains(second)
    assert not Period(second, end).contains(first)


def test_period_ordering_and_overlap() -> None:
    m = CalendarMonth()
    nov = m.containing(parse_instant("2026-11-15"))
    dec = m.next(nov)
    assert sorted([dec, nov]) == [nov, dec]
    assert not nov.overlaps(dec)
    assert nov.overlaps(Period(parse_instant("2026-11-30"), parse_instant("2026-12-02")))


def test_labels() -> None:
    assert CalendarDay().containing(parse_instant("2026-11-05 13:00")).label == "2026-11-05"
    assert CalendarMonth().containing(parse_instant("2026-12-31 23:59")).label == "2026-12"
    assert StatementCycle(5).containing(parse_instant("2026-11-06")).label == "2026-11-06..2026-12-05"


def test_are_consecutive() -> None:
    m = CalendarMonth()
    nov = m.containing(parse_instant("2026-11-15"))
    assert are_consecutive([])
    assert are_consecutive([nov])
    assert are_consecutive([nov, m.next(nov), m.next(m.next(nov))])
    assert not are_consecutive([nov, m.next(m.next(nov))])
    assert not are_consecutive([m.next(nov), nov])
    assert not are_consecutive([nov, nov])


# -- calendar edges --------------------------------------------------------------------------


def test_shanghai_vs_utc_month_boundary() -> None:
    instant = ensure_aware("2026-11-30T16:00:00Z")
    assert CalendarMonth().containing(instant).label == "2026-12"
    assert CalendarMonth("UTC").containing(instant).label == "2026-11"
    assert CalendarDay().containing(instant).start == instant
    assert CalendarDay().containing(instant.subtract(microseconds=1)).label == "2026-11-30"


@pytest.mark.parametrize(
    ("year", "month", "days"),
    [
        (2024, 2, 29),
        (2025, 2, 28),
        (2028, 2, 29),
        (2100, 2, 28),
        (2000, 2, 29),
        (2026, 4, 30),
        (2026, 12, 31),
    ],
)
def test_month_lengths_and_leap_years(year: int, month: int, days: int) -> None:
    p = CalendarMonth().containing(local_datetime(year, month, 15))
    assert p.duration == dt.timedelta(days=days)
    assert p.start == local_datetime(year, month, 1)


def test_leap_day_belongs_to_february() -> None:
    for year in (2024, 2028):
        day = CalendarDay().containing(local_datetime(year, 2, 29, 23, 59, 59, 999_999))
        assert day.label == f"{year}-02-29"
        assert CalendarMonth().containing(day.start).label == f"{year}-02"
        assert CalendarDay().next(day).label == f"{year}-03-01"


def test_year_boundary() -> None:
    m = CalendarMonth()
    dec = m.containing(local_datetime(2026, 12, 31, 23, 59))
    jan = m.next(dec)
    assert jan.label == "2027-01"
    assert m.previous(jan) == dec
    assert m.index(dec.start, jan.start) == 1
    week = CalendarWeek().containing(local_datetime(2026, 12, 31))
    assert week.label == "2026-12-28..2027-01-03"
    assert CalendarDay().index(local_datetime(2026, 12, 31), local_datetime(2027, 1, 1)) == 1


def test_billing_day_31_clamps_in_february_and_short_months() -> None:
    c = StatementCycle(31)
    assert c.billing_date(2026, 2) == dt.date(2026, 2, 28)
    assert c.billing_date(2028, 2) == dt.date(2028, 2, 29)
    assert c.billing_date(2026, 4) == dt.date(2026, 4, 30)
    feb = c.containing(local_datetime(2026, 2, 28, 23, 59))
    assert feb.label == "2026-02"
    assert c.statement_date(feb) == dt.date(2026, 2, 28)
    assert c.next(feb).label == "2026-03"


def test_billing_day_30_across_february() -> None:
    c = StatementCycle(30)
    jan31 = c.containing(local_datetime(2026, 1, 31, 9))
    assert jan31.label == "2026-01-31..2026-02-28"
    assert c.statement_date(jan31) == dt.date(2026, 2, 28)
    assert c.next(jan31).label == "2026-03-01..2026-03-30"
    leap = c.containing(local_datetime(2028, 2, 29, 9))
    assert leap.label == "2028-01-31..2028-02-29"


def test_billing_day_5_cycle_and_year_boundary() -> None:
    c = StatementCycle(5)
    p = c.containing(local_datetime(2026, 12, 31))
    assert p.label == "2026-12-06..2027-01-05"
    assert c.statement_date(p) == dt.date(2027, 1, 5)
    assert c.containing(local_datetime(2027, 1, 5, 23, 59)) == p
    assert c.containing(local_datetime(2027, 1, 6)) == c.next(p)


def test_statement_cycle_validation() -> None:
    for bad in [0, 32, "5", True, None]:
        with pytest.raises(PeriodError) as info:
            StatementCycle(bad)
        assert info.value.path == "billing_day"
    with pytest.raises(PeriodError):
        StatementCycle(5).billing_date(2026, 13)


def test_weeks() -> None:
    thursday = local_datetime(2026, 11, 5, 12)
    assert CalendarWeek().containing(thursday).label == "2026-11-02..2026-11-08"
    assert CalendarWeek(week_start=7).containing(thursday).label == "2026-11-01..2026-11-07"
    assert CalendarWeek(week_start="Wed").containing(thursday).label == "2026-11-04..2026-11-10"
    for bad in [0, 8, "someday", 1.0]:
        with pytest.raises(PeriodError):
            CalendarWeek(week_start=bad)
    assert "Monday" in CalendarWeek().describe()


def test_rolling_days() -> None:
    approved = local_datetime(2026, 11, 5, 10, 30)
    blocks = RollingDays(30, approved)
    first = blocks.containing(approved)
    assert first.start == approved
    assert first.end == local_datetime(2026, 12, 5, 10, 30)
    assert blocks.index(approved, local_datetime(2026, 12, 5, 10, 29)) == 0
    assert blocks.index(approved, local_datetime(2026, 12, 5, 10, 30)) == 1
    assert blocks.index(approved, local_datetime(2026, 11, 5, 10, 29)) == -1
    assert blocks.nth(approved, 2).start == local_datetime(2027, 1, 4, 10, 30)
    with pytest.raises(PeriodError):
        RollingDays(0, approved)
    with pytest.raises(PeriodError):
        RollingDays(7, dt.datetime(2026, 1, 1))


def test_rolling_days_keep_wall_time_across_dst() -> None:
    anchor = local_datetime(2026, 3, 28, 12, tz="Europe/Berlin")
    blocks = RollingDays(1, anchor, "Europe/Berlin")
    sunday = blocks.nth(anchor, 1)
    assert sunday.start.hour == 12
    assert sunday.end.hour == 12
    assert sunday.duration == dt.timedelta(hours=24)
    assert blocks.containing(anchor).duration == dt.timedelta(hours=23)


def test_rolling_days_anchored_on_a_repeated_wall_time_start_at_the_anchor() -> None:
    first = local_datetime(2026, 10, 25, 2, 30, tz="Europe/Berlin")
    second = first.in_timezone("UTC").add(hours=1).in_timezone("Europe/Berlin")
    blocks = RollingDays(1, second, "Europe/Berlin")
    block = blocks.containing(second)
    assert utc_key(block.start) == utc_key(second)
    assert block.duration == dt.timedelta(hours=24)
    assert blocks.index(second, first) == -1
    assert RollingDays(1, first, "Europe/Berlin").containing(first).duration == dt.timedelta(hours=25)


def test_dst_days_in_berlin() -> None:
    day = CalendarDay("Europe/Berlin")
    spring = day.containing(local_datetime(2026, 3, 29, 12, tz="Europe/Berlin"))
    autumn = day.containing(local_datetime(2026, 10, 25, 12, tz="Europe/Berlin"))
    assert spring.duration == dt.timedelta(hours=23)
    assert autumn.duration == dt.timedelta(hours=25)
    assert spring.label == "2026-03-29"
    # Both 02:30s of the autumn night belong to the same day.
    first = local_datetime(2026, 10, 25, 2, 30, tz="Europe/Berlin")
    second = first.in_timezone("UTC").add(hours=1)
    assert autumn.contains(first)
    assert autumn.contains(second)
    month = CalendarMonth("Europe/Berlin").containing(first)
    assert month.duration == dt.timedelta(days=31, hours=1)


def test_day_start_in_a_zone_that_skips_midnight() -> None:
    # Havana jumps from 00:00 to 01:00 on 2024-03-10: that day starts at 01:00 local.
    day = CalendarDay("America/Havana").containing(ensure_aware("2024-03-10T12:00Z"))
    assert day.start.hour == 1
    assert day.duration == dt.timedelta(hours=23)
    assert CalendarDay("America/Havana").previous(day).end == day.start


def test_next_and_previous_refuse_foreign_periods() -> None:
    m = CalendarMonth()
    odd = Period(local_datetime(2026, 11, 2), local_datetime(2026, 12, 1))
    with pytest.raises(PeriodError) as info:
        m.next(odd)
    assert info.value.path == "period"
    with pytest.raises(PeriodError):
        m.previous(CalendarMonth("UTC").containing(local_datetime(2026, 11, 15)))
    with pytest.raises(PeriodError):
        m.next("2026-11")  # type: ignore[arg-type]


def test_between() -> None:
    m = CalendarMonth()
    got = m.between(local_datetime(2026, 11, 15), local_datetime(2027, 2, 1))
    assert [p.label for p in got] == ["2026-11", "2026-12", "2027-01"]
    assert m.between(local_datetime(2026, 11, 15), local_datetime(2026, 11, 15)) == []
    assert len(m.between(local_datetime(2026, 11, 15), local_datetime(2026, 11, 15, 0, 0, 0, 1))) == 1
    with pytest.raises(PeriodError):
        m.between(local_datetime(2026, 11, 15), local_datetime(2026, 11, 14))
    days = CalendarDay().between(parse_instant("2024-02-27"), parse_instant("2024-03-02"))
    assert [p.label for p in days] == ["2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01"]


def test_nth_validation_and_range() -> None:
    with pytest.raises(PeriodError):
        CalendarMonth().nth(local_datetime(2026, 1, 1), 1.5)  # type: ignore[arg-type]
    with pytest.raises(PeriodError):
        CalendarDay().nth(local_datetime(2026, 1, 1), 10**7)
    assert CalendarMonth().nth(local_datetime(2026, 1, 31), -1).label == "2025-12"


def test_bases_satisfy_the_protocol_and_describe_themselves() -> None:
    anchor = local_datetime(2026, 1, 1)
    for basis in [CalendarDay(), CalendarWeek(), CalendarMonth(), StatementCycle(5), RollingDays(7, anchor)]:
        assert isinstance(basis, PeriodBasis)
        assert basis.tz == "Asia/Shanghai"
        assert basis.tz in basis.describe()
    with pytest.raises(PeriodError):
        CalendarMonth("Mars/Base")


def test_bases_are_frozen_values() -> None:
    assert CalendarMonth() == CalendarMonth("Asia/Shanghai")
    assert StatementCycle(5) != StatementCycle(6)
    assert len({CalendarDay(), CalendarDay()}) == 1
    with pytest.raises(AttributeError):
        CalendarMonth().tz = "UTC"  # type: ignore[misc]


# -- properties ------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(basis=bases(), t=instants)
def test_every_instant_belongs_to_exactly_one_period(basis: PeriodBasis, t: pendulum.DateTime) -> None:
    p = basis.containing(t)
    assert p.contains(t)
    assert not basis.previous(p).contains(t)
    assert not basis.next(p).contains(t)
    # Neighbours tile time: no gap, no overlap.
    assert utc_key(basis.next(p).start) == utc_key(p.end)
    assert utc_key(basis.previous(p).end) == utc_key(p.start)
    assert basis.previous(basis.next(p)) == p
    assert are_consecutive([basis.previous(p), p, basis.next(p)])
    # The period's own boundaries map back to it.
    assert basis.containing(p.start) == p
    assert basis.containing(p.end) == basis.next(p)


@settings(max_examples=300, deadline=None)
@given(basis=bases(), anchor=instants, t=instants)
def test_nth_inverts_index(basis: PeriodBasis, anchor: pendulum.DateTime, t: pendulum.DateTime) -> None:
    n = basis.index(anchor, t)
    assert basis.nth(anchor, n) == basis.containing(t)
    assert basis.index(t, anchor) == -n
    assert (n >= 0) == (utc_key(basis.containing(anchor).start) <= utc_key(t))


@settings(max_examples=150, deadline=None)
@given(basis=bases(), t=instants, span=st.integers(min_value=0, max_value=120 * 86_400 * 1_000_000))
def test_between_covers_the_range_with_consecutive_periods(
    basis: PeriodBasis, t: pendulum.DateTime, span: int
) -> None:
    end = t + dt.timedelta(microseconds=span)
    got = basis.between(t, end)
    assert are_consecutive(got)
    if span == 0:
        assert got == []
        return
    assert got[0] == basis.containing(t)
    assert got[-1].contains(end - dt.timedelta(microseconds=1))
    assert utc_key(got[-1].start) < utc_key(end)


@settings(max_examples=200, deadline=None)
@given(tz=st.sampled_from(ZONES), t=instants)
def test_calendar_periods_start_at_local_midnight_when_it_exists(tz: str, t: pendulum.DateTime) -> None:
    for basis in (CalendarDay(tz), CalendarMonth(tz), CalendarWeek(tz), StatementCycle(17, tz)):
        start = basis.containing(t).start
        local = start.in_timezone(tz)
        # Midnight, unless that midnight was skipped by a DST jump (then the jump instant).
        assert local.minute == 0
        assert local.second == 0
        assert local.hour in (0, 1)
        if tz in ("Asia/Shanghai", "UTC", "Europe/Berlin", "America/New_York"):
            assert local.hour == 0
