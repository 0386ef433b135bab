"""Validity windows: fixed, relative, recurring weekday/hour windows and their combinations."""

from __future__ import annotations

import datetime as dt
import itertools

import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardbenefits.clock import ensure_aware, local_datetime, parse_instant, utc_key
from cardbenefits.errors import PeriodError
from cardbenefits.periods import Period
from cardbenefits.windows import (
    AllOf,
    AnyOf,
    FixedWindow,
    RecurringWindow,
    RelativeWindow,
    Window,
    day_start,
    next_daily_reset,
)

ZONES = ["Asia/Shanghai", "UTC", "Europe/Berlin", "America/New_York", "America/Havana"]
LOW = int(dt.datetime(2000, 1, 1, tzinfo=dt.UTC).timestamp()) * 1_000_000
HIGH = int(dt.datetime(2100, 1, 1, tzinfo=dt.UTC).timestamp()) * 1_000_000
WEDNESDAY = 3


def _instant(micros: int) -> pendulum.DateTime:
    return pendulum.datetime(1970, 1, 1, tz="UTC") + dt.timedelta(microseconds=micros)


instants = st.integers(min_value=LOW, max_value=HIGH).map(_instant)
minutes_of_day = st.integers(min_value=0, max_value=24 * 60 - 1).map(lambda m: dt.time(m // 60, m % 60))


@st.composite
def recurring(draw: st.DrawFn) -> RecurringWindow:
    return RecurringWindow(
        draw(st.frozensets(st.integers(1, 7), min_size=1)),
        draw(minutes_of_day),
        draw(minutes_of_day),
        draw(st.sampled_from(ZONES)),
    )


# -- daily reset -------------------------------------------------------------------------------


def test_daily_reset_in_beijing_vs_utc() -> None:
    instant = ensure_aware("2026-11-30T16:00:00Z")
    assert day_start(instant) == instant
    assert next_daily_reset(instant) == ensure_aware("2026-12-01T16:00:00Z")
    assert day_start(instant, "UTC") == ensure_aware("2026-11-30T00:00:00Z")
    earlier = instant.subtract(microseconds=1)
    assert next_daily_reset(earlier) == instant
    assert day_start(earlier) == ensure_aware("2026-11-29T16:00:00Z")


def test_daily_reset_on_dst_days() -> None:
    noon = local_datetime(2026, 3, 29, 12, tz="Europe/Berlin")
    assert next_daily_reset(noon, "Europe/Berlin") - day_start(noon, "Europe/Berlin") == dt.timedelta(
        hours=23
    )


@settings(max_examples=200, deadline=None)
@given(t=instants, tz=st.sampled_from(ZONES))
def test_daily_reset_brackets_the_instant(t: pendulum.DateTime, tz: str) -> None:
    start, reset = day_start(t, tz), next_daily_reset(t, tz)
    assert utc_key(start) <= utc_key(t) < utc_key(reset)
    assert utc_key(day_start(reset, tz)) == utc_key(reset)
    assert dt.timedelta(hours=22) <= utc_key(reset) - utc_key(start) <= dt.timedelta(hours=26)


# -- FixedWindow -------------------------------------------------------------------------------


def test_fixed_window_is_end_exclusive() -> None:
    w = FixedWindow(parse_instant("2026-11-01"), parse_instant("2026-12-01"))
    assert isinstance(w, Window)
    assert w.contains(w.start)
    assert w.contains(ensure_aware("2026-11-30T15:59:59.999999Z"))
    assert not w.contains(w.end)
    assert not w.contains(w.start.subtract(microseconds=1))
    assert w.next_opening(parse_instant("2026-10-01")) == w.start
    assert w.next_opening(parse_instant("2026-11-15")) == parse_instant("2026-11-15")
    assert w.next_opening(w.end) is None
    assert w.as_period() == Period(w.start, w.end)
    assert w.explain() == "from 2026-11-01 00:00 to 2026-12-01 00:00 (Asia/Shanghai)"
    assert FixedWindow(w.start.in_timezone("UTC"), w.end, tz="UTC") == w
    assert "FixedWindow(" in repr(w)


def test_fixed_window_validation() -> None:
    start = parse_instant("2026-11-01")
    with pytest.raises(PeriodError) as info:
        FixedWindow(start, start)
    assert info.value.path == "end"
    with pytest.raises(PeriodError) as info:
        FixedWindow(dt.datetime(2026, 11, 1), start)
    assert info.value.path == "start"
    with pytest.raises(PeriodError):
        FixedWindow(start, parse_instant("2026-12-01"), tz="Nowhere/Land")
    with pytest.raises(PeriodError):
        FixedWindow(start, parse_instant("2026-12-01")).contains(dt.datetime(2026, 11, 5))


# -- RelativeWindow ----------------------------------------------------------------------------


def test_valid_seven_days_after_issue() -> None:
    issued = parse_instant("2026-11-05 10:00")
    w = RelativeWindow(days=7).resolve(issued)
    assert w.start == issued
    assert w.end == parse_instant("2026-11-12 10:00")
    assert w.contains(parse_instant("2026-11-12 09:59:59"))
    assert not w.contains(parse_instant("2026-11-12 10:00"))
    assert RelativeWindow(days=7).explain() == "7 days after issue (Asia/Shanghai)"


def test_within_thirty_days_of_approval_through_end_of_day() -> None:
    approved = parse_instant("2026-11-05 18:20")
    plain = RelativeWindow(days=30, anchor="approval").resolve(approved)
    assert plain.end == parse_instant("2026-12-05 18:20")
    whole_days = RelativeWindow(days=30, anchor="approval", end_of_day=True).resolve(approved)
    assert whole_days.end == parse_instant("2026-12-06 00:00")
    # Already at midnight: nothing to round.
    midnight = RelativeWindow(days=1, end_of_day=True).resolve(parse_instant("2026-11-05"))
    assert midnight.end == parse_instant("2026-11-06")
    assert "through the end of that day" in RelativeWindow(days=1, end_of_day=True).explain()


def test_relative_hours_and_days_across_month_and_dst() -> None:
    assert RelativeWindow(hours=48).resolve(parse_instant("2026-02-28 12:00")).end == parse_instant(
        "2026-03-02 12:00"
    )
    assert RelativeWindow(days=1, hours=1).resolve(parse_instant("2024-02-28 23:30")).end == parse_instant(
        "2024-03-01 00:30"
    )
    # Days keep the wall time across the Berlin spring jump; hours are elapsed.
    berlin = "Europe/Berlin"
    start = local_datetime(2026, 3, 28, 12, tz=berlin)
    assert RelativeWindow(days=1, tz=berlin).resolve(start).end == local_datetime(2026, 3, 29, 12, tz=berlin)
    assert RelativeWindow(hours=24, tz=berlin).resolve(start).end == local_datetime(
        2026, 3, 29, 13, tz=berlin
    )
    assert "hour" in RelativeWindow(hours=1).explain()


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({}, "days"),
        ({"days": -1}, "days"),
        ({"days": True}, "days"),
        ({"hours": 1.5}, "hours"),
        ({"days": 1, "anchor": ""}, "anchor"),
        ({"days": 1, "anchor": "Issue Date"}, "anchor"),
        ({"days": 1, "tz": "Beijing"}, "tz"),
    ],
)
def test_relative_window_validation(kwargs: dict[str, object], path: str) -> None:
    with pytest.raises(PeriodError) as info:
        RelativeWindow(**kwargs)  # type: ignore[arg-type]
    assert info.value.path == path


def test_relative_window_refuses_naive_anchor_naming_it() -> None:
    with pytest.raises(PeriodError) as info:
        RelativeWindow(days=30, anchor="approval").resolve(dt.datetime(2026, 11, 5))
    assert info.value.path == "approval"


# -- RecurringWindow ---------------------------------------------------------------------------


def test_every_wednesday_beijing_time() -> None:
    wed = RecurringWindow(frozenset({WEDNESDAY}), "00:00", "24:00")
    assert isinstance(wed, Window)
    # 2026-11-03T16:00Z is Wednesday 4 November 00:00 in Beijing.
    assert wed.contains(ensure_aware("2026-11-03T16:00:00Z"))
    assert not wed.contains(ensure_aware("2026-11-03T15:59:59Z"))
    assert wed.contains(ensure_aware("2026-11-04T15:59:59Z"))
    assert not wed.contains(ensure_aware("2026-11-04T16:00:00Z"))
    assert wed.next_opening(ensure_aware("2026-11-04T16:00:00Z")) == parse_instant("2026-11-11")
    opening = wed.opening_at(parse_instant("2026-11-04 12:00"))
    assert opening is not None
    assert opening.as_period().label == "2026-11-04"
    assert wed.explain() == "every Wed 00:00–24:00 (Asia/Shanghai)"
    # The same rule in UTC is a different set of instants.
    assert not RecurringWindow(frozenset({WEDNESDAY}), "00:00", "24:00", "UTC").contains(
        ensure_aware("2026-11-03T16:00:00Z")
    )


def test_overnight_window_belongs_to_its_start_day() -> None:
    night = RecurringWindow(frozenset({5}), dt.time(22), dt.time(2))  # Friday night
    assert night.contains(parse_instant("2026-11-06 23:00"))
    assert night.contains(parse_instant("2026-11-07 01:59"))  # Saturday morning
    assert not night.contains(parse_instant("2026-11-07 02:00"))
    assert not night.contains(parse_instant("2026-11-07 23:00"))  # Saturday night
    assert night.explain() == "every Fri 22:00–02:00 (next day) (Asia/Shanghai)"
    got = night.openings(parse_instant("2026-11-01"), parse_instant("2026-11-30"))
    assert [w.start for w in got] == [parse_instant(f"2026-11-{d:02d} 22:00") for d in (6, 13, 20, 27)]


def test_openings_clip_to_range_and_validate() -> None:
    lunch = RecurringWindow(frozenset(range(1, 6)), "11:30", "13:30:15")
    assert lunch.explain() == "every Mon, Tue, Wed, Thu, Fri 11:30–13:30:15 (Asia/Shanghai)"
    week = lunch.openings(parse_instant("2026-11-02 12:00"), parse_instant("2026-11-09 11:30"))
    assert len(week) == 5
    assert week[0].start == parse_instant("2026-11-02 11:30")
    assert lunch.openings(parse_instant("2026-11-02"), parse_instant("2026-11-02")) == []
    with pytest.raises(PeriodError):
        lunch.openings(parse_instant("2026-11-02"), parse_instant("2026-11-01"))


def test_dst_swallowed_opening_is_skipped() -> None:
    berlin = "Europe/Berlin"
    w = RecurringWindow(frozenset({7}), "02:00", "03:00", berlin)  # Sundays 02:00-03:00
    # On 2026-03-29 Berlin jumps from 02:00 to 03:00: there is no opening that Sunday.
    jump_day = local_datetime(2026, 3, 29, tz=berlin)
    assert w.next_opening(jump_day) == local_datetime(2026, 4, 5, 2, tz=berlin)
    assert w.openings(jump_day, local_datetime(2026, 3, 30, tz=berlin)) == []
    # On 2026-10-25 the hour 02:00-03:00 happens twice; the opening runs 2 hours.
    autumn = w.opening_at(local_datetime(2026, 10, 25, 2, 30, tz=berlin))
    assert autumn is not None
    assert autumn.as_period().duration == dt.timedelta(hours=2)


@pytest.mark.parametrize(
    ("args", "path"),
    [
        ((frozenset(), "00:00", "24:00"), "weekdays"),
        ((frozenset({0}), "00:00", "24:00"), "weekdays"),
        ((frozenset({8}), "00:00", "24:00"), "weekdays"),
        ((3, "00:00", "24:00"), "weekdays"),
        (("Wed", "00:00", "24:00"), "weekdays"),
        ((frozenset({3}), "25:00", "24:00"), "start_time"),
        ((frozenset({3}), "00:00", "24:01"), "end_time"),
        ((frozenset({3}), "noon", "24:00"), "start_time"),
        ((frozenset({3}), dt.time(1, tzinfo=dt.UTC), "24:00"), "start_time"),
        ((frozenset({3}), "00:00", "24:00", "Mars/Base"), "tz"),
    ],
)
def test_recurring_window_validation(args: tuple[object, ...], path: str) -> None:
    with pytest.raises(PeriodError) as info:
        RecurringWindow(*args)
    assert info.value.path == path


def test_recurring_window_accepts_any_iterable_of_weekdays() -> None:
    assert RecurringWindow([3, 3, 5], "00:00", "24:00").weekdays == frozenset({3, 5})


# -- combinations ------------------------------------------------------------------------------


def test_campaign_and_wednesdays() -> None:
    campaign = FixedWindow(parse_instant("2026-11-01"), parse_instant("2026-12-01"))
    wed = RecurringWindow(frozenset({WEDNESDAY}), "00:00", "24:00")
    offer = AllOf((campaign, wed))
    assert isinstance(offer, Window)
    assert offer.next_opening(parse_instant("2026-10-01")) == parse_instant("2026-11-04")
    assert offer.next_opening(parse_instant("2026-11-25 10:00")) == parse_instant("2026-11-25 10:00")
    assert offer.next_opening(parse_instant("2026-11-26")) is None
    assert not offer.contains(parse_instant("2026-12-02 10:00"))  # a Wednesday, campaign over
    assert offer.contains(parse_instant("2026-11-25 10:00"))


def test_all_of_gives_none_when_members_never_meet() -> None:
    wed = RecurringWindow(frozenset({3}), "00:00", "24:00")
    thu = RecurringWindow(frozenset({4}), "00:00", "24:00")
    never = AllOf((wed, thu), horizon=dt.timedelta(days=60))
    assert never.next_opening(parse_instant("2026-11-01")) is None
    assert not never.contains(parse_instant("2026-11-04 12:00"))
    either = AnyOf((wed, thu))
    assert either.contains(parse_instant("2026-11-05 12:00"))
    assert either.next_opening(parse_instant("2026-11-06")) == parse_instant("2026-11-11")
    assert either.explain() == f"{wed.explain()} or {thu.explain()}"
    assert (
        AnyOf((FixedWindow(parse_instant("2026-01-01"), parse_instant("2026-01-02")),)).next_opening(
            parse_instant("2026-02-01")
        )
        is None
    )


def test_combination_validation() -> None:
    for bad in [(), [RelativeWindow(days=1)], 5]:
        with pytest.raises(PeriodError):
            AllOf(bad)
        with pytest.raises(PeriodError):
            AnyOf(bad)
    wed = RecurringWindow(frozenset({3}), "00:00", "24:00")
    with pytest.raises(PeriodError):
        AllOf((wed,), horizon=dt.timedelta(0))


# -- properties --------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(window=recurring(), t=instants, probes=st.lists(st.floats(0, 1), max_size=5))
def test_recurring_contains_agrees_with_next_opening(
    window: RecurringWindow, t: pendulum.DateTime, probes: list[float]
) -> None:
    opening = window.next_opening(t)
    assert utc_key(opening) >= utc_key(t)
    assert window.contains(opening)
    assert window.contains(t) == (utc_key(opening) == utc_key(t))
    gap = utc_key(opening) - utc_key(t)
    assert gap <= dt.timedelta(days=8)
    if gap:
        # Closed all the way from t up to the opening, which is a true start.
        assert not window.contains(opening - dt.timedelta(microseconds=1))
        for p in probes:
            probe = t + gap * p
            if utc_key(probe) < utc_key(opening):
                assert not window.contains(probe)


@settings(max_examples=150, deadline=None)
@given(window=recurring(), t=instants)
def test_openings_are_ordered_disjoint_and_contained(window: RecurringWindow, t: pendulum.DateTime) -> None:
    end = t + dt.timedelta(days=10)
    found = window.openings(t, end)
    assert found, "a weekly window opens within 10 days"
    for a, b in itertools.pairwise(found):
        assert utc_key(a.end) <= utc_key(b.start)
    for w in found:
        assert window.contains(w.start)
        assert window.opening_at(w.start) == w
        assert window.opening_at(w.end - dt.timedelta(microseconds=1)) == w
        after = window.opening_at(w.end)
        # Open right at the end only when the next opening starts there (back to back).
        assert after is None or utc_key(after.start) == utc_key(w.end)


@settings(max_examples=150, deadline=None)
@given(a=recurring(), b=recurring(), t=instants)
def test_all_of_next_opening_is_the_first_common_instant(
    a: RecurringWindow, b: RecurringWindow, t: pendulum.DateTime
) -> None:
    both = AllOf((a, b), horizon=dt.timedelta(days=30))
    found = both.next_opening(t)
    if found is None:
        return
    assert utc_key(found) >= utc_key(t)
    assert a.contains(found)
    assert b.contains(found)
    if utc_key(found) > utc_key(t):
        assert not both.contains(found - dt.timedelta(microseconds=1))
