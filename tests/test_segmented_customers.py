"""``segment_customers``: lazily segmented customers equal the eagerly segmented ones."""

from __future__ import annotations

import copy
import datetime as dt
import pickle
from collections import Counter
from typing import Any
from zoneinfo import ZoneInfo

import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardbenefits.facts import CardHolding, Customer
from cardbenefits.money import Money
from cardbenefits.segments import (
    LifecyclePolicy,
    RFMAccumulator,
    RFMCutoffs,
    SegmentedCustomers,
    _whole_days,
    _younger_than,
    lifecycle_stage,
    score_by_quantiles,
    segment_attributes,
    segment_customers,
)
from cardbenefits.simulate.replay import _segment_counts

ZONES: tuple[dt.tzinfo, ...] = (
    dt.UTC,
    dt.timezone(dt.timedelta(hours=8)),
    dt.timezone(dt.timedelta(hours=-5, minutes=-30)),
    ZoneInfo("Asia/Shanghai"),
    ZoneInfo("America/New_York"),
)
AT = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)

# instants around ``AT``, many near the lifecycle thresholds (days, 18 months) and in the future
offsets = st.one_of(
    st.timedeltas(min_value=dt.timedelta(days=-40), max_value=dt.timedelta(days=900)),
    st.builds(
        lambda days, seconds: dt.timedelta(days=days, seconds=seconds),
        st.sampled_from([-1, 0, 6, 7, 29, 30, 89, 90, 179, 180, 181, 546, 547, 548, 549]),
        st.integers(-3, 3),
    ),
)


def instants() -> st.SearchStrategy[dt.datetime]:
    return st.builds(lambda back, z: (AT - back).astimezone(z), offsets, st.sampled_from(ZONES))


policies = st.sampled_from(
    [
        LifecyclePolicy(),
        LifecyclePolicy(new_days=7, activation_days=30, active_days=60, dormant_months=6, timezone="UTC"),
        LifecyclePolicy(new_days=0, activation_days=-1, active_days=0, timezone="America/New_York"),
        LifecyclePolicy(new_days=100, activation_days=10, active_days=1000),
    ]
)
ATTRIBUTES: tuple[dict[str, Any], ...] = (
    {},
    {"lifecycle": "active"},
    {"rfm": {"score": 5}, "lifecycle": "active"},
    {"lifecycle": "new", "rfm": {"score": 1}},
    {"spend": 5, "lifecycle": "dormant"},
)


@st.composite
def populations(draw: st.DrawFn) -> tuple[dict[str, Customer], RFMAccumulator | None, dt.datetime]:
    n = draw(st.integers(0, 8))
    people: dict[str, Customer] = {}
    for i in range(n):
        cards = tuple(
            CardHolding(f"k{i}_{j}", "p", "classic", draw(instants()), supplementary=draw(st.booleans()))
            for j in range(draw(st.integers(0, 2)))
        )
        extra = draw(st.sampled_from([{}, {"spend": i}]))  # an attribute segmenting keeps
        people[f"c{i}"] = Customer(
            f"c{i}", f"p{i}", cards=cards, attributes={**draw(st.sampled_from(ATTRIBUTES)), **extra}
        )
    at = draw(st.sampled_from([AT, AT.astimezone(ZoneInfo("Asia/Shanghai")), pendulum.instance(AT)]))
    if not people or not draw(st.booleans()):
        return people, None, at
    history = RFMAccumulator(at=at)
    ids = [*sorted(people), "stranger"]
    for _ in range(draw(st.integers(0, 12))):
        cid = draw(st.sampled_from(ids))
        when = draw(instants())
        amount = Money.of(draw(st.integers(1, 30000)))
        if draw(st.integers(0, 3)) == 0:
            history.add_refund(cid, when, amount)
        else:
            history.add_purchase(cid, when, amount)
    return people, history, at


def eager(
    people: dict[str, Customer],
    history: RFMAccumulator | None,
    at: dt.datetime,
    rfm: str,
    policy: LifecyclePolicy,
) -> dict[str, Customer]:
    """The reference: each customer segmented on its own with the pendulum lifecycle rules."""
    acc = history if history is not None else RFMAccumulator(at=at)
    stats = [acc.stats(cid) for cid in people]
    if rfm == "quantiles":
        scores = score_by_quantiles(stats)
    else:
        scores = {s.customer_id: RFMCutoffs.default().score(s) for s in stats}
    out = {}
    for cid, customer in people.items():
        values = segment_attributes(scores[cid], customer.approved_at, at, policy)
        stage = lifecycle_stage(customer.approved_at, scores[cid].stats.last_purchase_at, at, policy)
        assert values["lifecycle"] == str(stage)
        out[cid] = customer.with_attributes(**values)
    return out


@settings(max_examples=150, deadline=None)
@given(populations(), st.sampled_from(["cutoffs", "quantiles"]), policies, st.data())
def test_a_lazily_segmented_customer_equals_the_eagerly_segmented_one(
    population: tuple[dict[str, Customer], RFMAccumulator | None, dt.datetime],
    rfm: str,
    policy: LifecyclePolicy,
    data: st.DataObject,
) -> None:
    people, history, at = population
    expected = eager(people, history, at, rfm, policy)
    lazy = segment_customers(people, at, history=history, rfm=rfm, policy=policy)
    assert isinstance(lazy, SegmentedCustomers)
    assert lazy.counts() == _segment_counts(expected)
    assert {cid: lazy.lifecycle(cid) for cid in people} == {
        cid: c.attributes["lifecycle"] for cid, c in expected.items()
    }
    # a few read one by one (built on demand), then everything at once
    for cid in data.draw(st.lists(st.sampled_from(sorted(people)), max_size=3)) if people else []:
        assert lazy[cid] == expected[cid]
        assert list(lazy[cid].attributes) == list(expected[cid].attributes)
    assert list(lazy.items()) == list(expected.items())
    assert [list(c.attributes) for c in lazy.values()] == [list(c.attributes) for c in expected.values()]
    assert lazy == expected
    assert (lazy != expected) is False
    assert _segment_counts(lazy) == _segment_counts(dict(lazy.items()))


@settings(max_examples=300, deadline=None)
@given(instants(), st.integers(-3, 200), st.integers(-2, 2), st.sampled_from([-1, 0, 1]))
def test_the_younger_than_instant_is_where_whole_days_cross(
    now: dt.datetime, days: int, near: int, micro: int
) -> None:
    utc_now = now.astimezone(dt.UTC)
    then = now - dt.timedelta(days=days + near, microseconds=micro)
    cut = _younger_than(utc_now, days)
    assert (_whole_days(utc_now - then) < days) == (then > cut)


@pytest.mark.parametrize("policy", [LifecyclePolicy(), LifecyclePolicy(new_days=0, activation_days=-1)])
def test_approvals_on_the_stage_boundaries_are_staged_as_one_by_one(policy: LifecyclePolicy) -> None:
    at = pendulum.datetime(2026, 11, 30, 12, tz="Asia/Shanghai")
    dormant = at.subtract(months=policy.dormant_months)
    edges = [at.subtract(days=d) for d in {policy.new_days, policy.activation_days, policy.new_days - 1}]
    edges += [dormant, at.add(days=1)]
    approvals = [e + dt.timedelta(microseconds=m) for e in edges for m in (-1, 0, 1)]
    zones = (dt.UTC, ZoneInfo("Asia/Shanghai"), dt.timezone(dt.timedelta(hours=8)))
    people = {
        f"c{i}_{z}": Customer(f"c{i}_{z}", "p", cards=(CardHolding("k", "p", "t", a.astimezone(zone)),))
        for i, a in enumerate(approvals)
        for z, zone in enumerate(zones)
    }
    expected = eager(people, None, at, "cutoffs", policy)
    lazy = segment_customers(people, at, policy=policy)
    assert {cid: lazy.lifecycle(cid) for cid in people} == {
        cid: c.attributes["lifecycle"] for cid, c in expected.items()
    }
    assert len(set(lazy.counts()["lifecycle"])) >= 3


def _population() -> tuple[dict[str, Customer], dt.datetime]:
    at = pendulum.datetime(2026, 11, 30, tz="Asia/Shanghai")
    people = {
        f"c{i}": Customer(
            f"c{i}",
            f"p{i}",
            employer_group="g" if i % 2 else None,
            cards=(CardHolding(f"k{i}", "p", "classic", at.subtract(days=10 * i)),),
        )
        for i in range(12)
    }
    return people, at


def test_reading_ids_builds_no_customer_and_a_read_builds_one() -> None:
    people, at = _population()
    lazy = segment_customers(people, at)
    assert dict.__len__(lazy) == 0
    assert len(lazy) == 12
    assert "c3" in lazy
    assert "c99" not in lazy
    assert list(lazy) == list(people)
    assert lazy.keys() == people.keys()
    assert set(people) - lazy.keys() == set()
    assert lazy.lifecycle("c0") == "new"
    assert dict(lazy.lifecycles()) == {cid: lazy.lifecycle(cid) for cid in people}
    assert dict.__len__(lazy) == 0
    assert lazy["c3"].attributes["lifecycle"] == lazy.get("c3").attributes["lifecycle"]
    assert lazy.get("c99") is None
    assert lazy.get("c99", 1) == 1
    with pytest.raises(KeyError):
        lazy["c99"]
    assert dict.__len__(lazy) == 1
    assert lazy["c3"] is lazy["c3"]
    # customers of one segment share their attribute mapping
    same = [cid for cid in people if lazy.lifecycle(cid) == lazy.lifecycle("c3")]
    assert len({id(lazy[cid].attributes) for cid in same}) == 1


def test_segmented_customers_are_read_only_and_copy_as_a_plain_dict() -> None:
    people, at = _population()
    lazy = segment_customers(people, at)
    for mutate in (
        lambda: lazy.__setitem__("c1", people["c1"]),
        lambda: lazy.__delitem__("c1"),
        lambda: lazy.update({}),
        lambda: lazy.pop("c1"),
        lambda: lazy.setdefault("c1", people["c1"]),
        lambda: lazy.clear(),
    ):
        with pytest.raises(TypeError):
            mutate()
    whole = {cid: lazy[cid] for cid in people}
    for twin in (lazy.copy(), copy.copy(lazy), pickle.loads(pickle.dumps(lazy)), dict(lazy), {**lazy}):
        assert type(twin) is dict
        assert twin == whole
        assert list(twin) == list(people)
    assert lazy | {} == whole
    assert "12 customers" in repr(lazy)


def test_employer_groups_start_with_the_segmented_customers() -> None:
    from cardbenefits.simulate.example import EXAMPLE_AS_OF, example_data, example_simulation
    from cardbenefits.simulate.replay import Replay

    customers, _events = example_data()
    sim = example_simulation(as_of=EXAMPLE_AS_OF)
    replay = Replay(sim, customers, None)
    replay.segment(EXAMPLE_AS_OF)
    rosters = sim._state.rosters
    assert rosters
    for group, members in rosters.items():
        assert [m.id for m in members] == [c.id for c in customers.values() if c.employer_group == group]
        assert all(m is replay.people[m.id] and "rfm" in m.attributes for m in members)
    assert Counter(replay.stage.get(cid) for cid in customers) == Counter(
        {k: v for k, v in _segment_counts(replay.people)["lifecycle"].items()}
    )
