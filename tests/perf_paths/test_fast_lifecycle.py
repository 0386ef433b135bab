"""``LifecycleAt.stage`` (pendulum-free per customer) equals ``segments.lifecycle_stage``."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pendulum
from hypothesis import given, settings
from hypothesis import strategies as st

from cardbenefits.segments import LifecycleAt, LifecyclePolicy, LifecycleStage, lifecycle_stage

ZONES = ("Asia/Shanghai", "Europe/Berlin", "America/New_York", "UTC")

utc_instants = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2040, 1, 1)).map(
    lambda d: d.replace(tzinfo=dt.UTC)
)
# offsets from ``at`` around every threshold: days, months and a few seconds either side
near = st.one_of(
    st.timedeltas(min_value=dt.timedelta(days=-40), max_value=dt.timedelta(days=800)),
    st.builds(
        lambda days, seconds: dt.timedelta(days=days, seconds=seconds),
        st.sampled_from([0, 29, 30, 89, 90, 179, 180, 181, 545, 546, 547, 548, 549, 550]),
        st.integers(-5, 5),
    ),
)


def _view(instant: dt.datetime, how: int, zone: str) -> dt.datetime:
    if how == 0:
        return instant
    if how == 1:
        return instant.astimezone(ZoneInfo(zone))
    return pendulum.instance(instant).in_timezone(zone)


@st.composite
def cases(draw: st.DrawFn) -> tuple[dt.datetime, dt.datetime | None, dt.datetime | None, LifecyclePolicy]:
    at = draw(utc_instants)
    zone = draw(st.sampled_from(ZONES))
    policy = draw(
        st.sampled_from(
            [
                LifecyclePolicy(timezone=zone),
                LifecyclePolicy(
                    new_days=7, activation_days=30, active_days=60, dormant_months=6, timezone=zone
                ),
            ]
        )
    )
    approved = draw(st.none() | near.map(lambda d: at - d))
    last = draw(st.none() | near.map(lambda d: at - d))
    hows = draw(st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 2)))
    z = draw(st.sampled_from(ZONES))
    return (
        _view(at, hows[0], z),
        None if approved is None else _view(approved, hows[1], z),
        None if last is None else _view(last, hows[2], zone),
        policy,
    )


@settings(max_examples=400, deadline=None)
@given(cases())
def test_stage_equals_lifecycle_stage(
    case: tuple[dt.datetime, dt.datetime | None, dt.datetime | None, LifecyclePolicy],
) -> None:
    at, approved, last, policy = case
    assert LifecycleAt.of(at, policy).stage(approved, last) == lifecycle_stage(approved, last, at, policy)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(2001, 2039), st.integers(1, 12), st.integers(1, 31), st.integers(-3, 3), st.integers(0, 23)
)
def test_the_18_month_dormancy_boundary_in_shanghai(
    year: int, month: int, day: int, shift_seconds: int, hour: int
) -> None:
    tz = "Asia/Shanghai"
    day = min(day, pendulum.datetime(year, month, 1, tz=tz).days_in_month)
    at = pendulum.datetime(year, month, day, hour, tz=tz)
    boundary = at.subtract(months=18)
    clock = LifecycleAt.of(at)
    assert clock.dormant_since == boundary
    for last in (boundary.add(seconds=shift_seconds), boundary.add(days=shift_seconds)):
        for approved in (None, pendulum.datetime(2000, 1, 1, tz=tz), at.subtract(days=60)):
            expected = lifecycle_stage(approved, last, at)
            assert clock.stage(approved, last) == expected
        if last <= boundary:
            assert clock.stage(None, last) is LifecycleStage.DORMANT


def test_naive_instants_behave_as_the_reference() -> None:
    at = pendulum.datetime(2026, 11, 30, tz="Asia/Shanghai")
    naive = dt.datetime(2026, 11, 20)
    assert LifecycleAt.of(at).stage(naive, None) == lifecycle_stage(naive, None, at)


@settings(max_examples=300, deadline=None)
@given(utc_instants, near, st.sampled_from(ZONES), st.integers(0, 2))
def test_interval_days_counts_as_pendulum(at: dt.datetime, back: dt.timedelta, zone: str, how: int) -> None:
    from cardbenefits.segments import _interval_days

    now, then = at.astimezone(ZoneInfo(zone)), _view(at - back, how, zone)
    p_now, p_then = pendulum.instance(now), pendulum.instance(then)
    assert _interval_days(now, then) == (p_now - p_then).days
    assert _interval_days(then, now) == (p_then - p_now).days
    plain = then.replace(tzinfo=dt.UTC) - then.utcoffset()  # type: ignore[operator]
    assert _interval_days(plain, now) == (p_then - p_now).days
