"""RFM scoring and lifecycle stages."""

from __future__ import annotations

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardbenefits.errors import FactError
from cardbenefits.money import Money
from cardbenefits.segments import (
    LifecyclePolicy,
    LifecycleStage,
    RFMAccumulator,
    RFMCutoffs,
    RFMStats,
    lifecycle_stage,
    score_by_quantiles,
    segment_attributes,
)

TZ = "Asia/Shanghai"
AT = pendulum.datetime(2026, 11, 30, tz=TZ)

stats_strategy = st.lists(
    st.tuples(
        st.one_of(st.none(), st.integers(min_value=0, max_value=800)),
        st.integers(min_value=0, max_value=200),
        st.integers(min_value=0, max_value=10**7),
    ),
    min_size=1,
    max_size=60,
).map(lambda rows: [RFMStats(f"c{i:03d}", r, f, Money.from_minor(m)) for i, (r, f, m) in enumerate(rows)])


@given(stats_strategy)
def test_quantile_scores_are_monotone_and_ties_share_a_score(pop: list[RFMStats]) -> None:
    scores = score_by_quantiles(pop)
    assert set(scores) == {s.customer_id for s in pop}
    for a in pop:
        for b in pop:
            sa, sb = scores[a.customer_id], scores[b.customer_id]
            assert 1 <= sa.r <= 5 and 1 <= sa.f <= 5 and 1 <= sa.m <= 5  # noqa: PT018
            if a.frequency == b.frequency:
                assert sa.f == sb.f
            if a.frequency > b.frequency:
                assert sa.f >= sb.f
            if a.monetary > b.monetary:
                assert sa.m >= sb.m
            if a.recency_days is not None and b.recency_days is not None and a.recency_days < b.recency_days:
                assert sa.r >= sb.r
            if a.recency_days is None:
                assert sa.r == 1


@given(st.integers(min_value=0, max_value=1000), st.integers(min_value=0, max_value=1000))
def test_fixed_cutoffs_are_monotone(x: int, y: int) -> None:
    cut = RFMCutoffs.default()
    lo, hi = min(x, y), max(x, y)
    assert cut.recency_score(lo) >= cut.recency_score(hi)
    assert cut.frequency_score(lo) <= cut.frequency_score(hi)
    assert cut.monetary_score(Money.of(lo * 100)) <= cut.monetary_score(Money.of(hi * 100))


def test_cutoffs_must_ascend() -> None:
    with pytest.raises(FactError) as info:
        RFMCutoffs(
            recency_days=(30, 14, 90, 180), frequency=(1, 2, 3, 4), monetary=RFMCutoffs.default().monetary
        )
    assert info.value.path == "recency_days"


def test_accumulator_window_refunds_and_future_events() -> None:
    acc = RFMAccumulator(at=AT, window_days=90)
    acc.add_purchase("c", pendulum.datetime(2026, 11, 29, 23, tz=TZ), Money.of(100))
    acc.add_purchase("c", pendulum.datetime(2026, 6, 1, tz=TZ), Money.of(5000))  # outside the window
    acc.add_purchase("c", pendulum.datetime(2026, 12, 2, tz=TZ), Money.of(7))  # after the instant
    acc.add_refund("c", pendulum.datetime(2026, 11, 29, 23, 30, tz=TZ), Money.of(150))
    stats = acc.stats("c")
    assert stats.recency_days == 0
    assert stats.frequency == 1
    assert stats.monetary == Money.zero()  # refunds never take monetary below zero
    assert acc.stats("unknown") == RFMStats("unknown", None, 0, Money.zero())


def test_accumulator_refuses_naive_instants() -> None:
    from datetime import datetime

    with pytest.raises(FactError):
        RFMAccumulator(at=datetime(2026, 11, 30))


def test_named_segments_follow_the_articles() -> None:
    cut = RFMCutoffs.default()
    frequent_small = cut.score(RFMStats("a", 3, 120, Money.of(3000)))
    assert frequent_small.segment == "small_frequent"  # → small-multiple cashback
    rare_big = cut.score(RFMStats("b", 20, 2, Money.of(80000)))
    assert rare_big.segment == "big_spender"  # → exclusive-benefit wake-up
    lapsing = cut.score(RFMStats("c", 200, 60, Money.of(30000)))
    assert lapsing.segment == "at_risk"
    assert cut.score(RFMStats("d", 3, 100, Money.of(70000))).segment == "champion"


@pytest.mark.parametrize(
    ("approved", "last", "stage"),
    [
        (pendulum.datetime(2026, 11, 10, tz=TZ), None, LifecycleStage.NEW),
        (pendulum.datetime(2026, 10, 1, tz=TZ), None, LifecycleStage.ACTIVATING),
        (
            pendulum.datetime(2026, 10, 1, tz=TZ),
            pendulum.datetime(2026, 10, 5, tz=TZ),
            LifecycleStage.ACTIVATING,
        ),
        (pendulum.datetime(2024, 1, 1, tz=TZ), pendulum.datetime(2026, 9, 1, tz=TZ), LifecycleStage.ACTIVE),
        (pendulum.datetime(2024, 1, 1, tz=TZ), pendulum.datetime(2026, 1, 1, tz=TZ), LifecycleStage.WIN_BACK),
        # 18 months before 2026-11-30 00:00 Beijing is 2025-05-30 00:00 Beijing.
        (pendulum.datetime(2020, 1, 1, tz=TZ), pendulum.datetime(2025, 5, 30, tz=TZ), LifecycleStage.DORMANT),
        (
            pendulum.datetime(2020, 1, 1, tz=TZ),
            pendulum.datetime(2025, 5, 30, 0, 1, tz=TZ),
            LifecycleStage.WIN_BACK,
        ),
        (pendulum.datetime(2020, 1, 1, tz=TZ), None, LifecycleStage.DORMANT),
        (pendulum.datetime(2026, 1, 1, tz=TZ), None, LifecycleStage.WIN_BACK),
    ],
)
def test_lifecycle_stages(
    approved: pendulum.DateTime, last: pendulum.DateTime | None, stage: LifecycleStage
) -> None:
    assert lifecycle_stage(approved, last, AT) is stage


def test_dormancy_is_measured_in_the_policy_zone() -> None:
    # Exactly 18 calendar months (in Beijing) before the instant is dormant; a minute later is not.
    last = pendulum.datetime(2025, 5, 29, 16, 30, tz="UTC")
    approved = pendulum.datetime(2020, 1, 1, tz=TZ)
    at = pendulum.datetime(2026, 11, 29, 16, 30, tz="UTC")
    assert lifecycle_stage(approved, last, at) is LifecycleStage.DORMANT
    assert lifecycle_stage(approved, last, at, LifecyclePolicy(timezone="UTC")) is LifecycleStage.DORMANT
    assert lifecycle_stage(approved, last.add(minutes=1), at) is LifecycleStage.WIN_BACK


def test_segment_attributes_feed_rules() -> None:
    score = RFMCutoffs.default().score(RFMStats("c", 5, 40, Money.of(30000), AT.subtract(days=5)))
    attrs_ = segment_attributes(score, pendulum.datetime(2024, 1, 1, tz=TZ), AT)
    assert attrs_["lifecycle"] == "active"
    assert attrs_["rfm"]["recency_days"] == 5
    assert attrs_["rfm"]["monetary"] == Money.of(30000)
    assert attrs_["rfm"]["score"] == score.total
