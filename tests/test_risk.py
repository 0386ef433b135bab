"""Risk controls: blacklist, one per person across cards, velocity windows, ledger enforcement."""

from __future__ import annotations

import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardbenefits.errors import CatalogError, LimitExceededError
from cardbenefits.ledger.entries import EntryBatch, LedgerEntry
from cardbenefits.ledger.memory import MemoryLedger
from cardbenefits.risk import (
    Control,
    RiskCheck,
    RiskPolicy,
    RiskSubject,
    Scope,
    VelocityLimit,
    Window,
    assess,
    control_of_counter,
)

AT = pendulum.datetime(2026, 11, 23, 9, 30, tz="Asia/Shanghai")


def claim(ledger: MemoryLedger, check: RiskCheck, subject: RiskSubject, key: str) -> None:
    """Append a claim carrying the risk charges (what a draw or coupon claim does)."""
    entry = LedgerEntry(
        kind="grant",
        customer_id=subject.customer_id,
        programme_id="camp",
        asset="points",
        units=1,
        at=AT,
        catalog_version="v1",
        reason="claim",
        charges=check.charges,
    )
    ledger.apply(EntryBatch.of(key, [entry]))


def test_blacklist_names_the_control_and_tags() -> None:
    policy = RiskPolicy("p", blacklist_tags={"fraud_suspect", "chargeback"})
    subject = RiskSubject("c1", tags={"chargeback", "vip"})
    check = assess(policy, subject, action="camp", at=AT, view=MemoryLedger())
    assert not check.allowed
    assert check.control is Control.BLACKLIST
    assert check.charges == ()
    assert check.render("zh_CN") == "风控「黑名单」拒绝：客户带有标签 chargeback"
    assert "blacklist" in check.render("en")


def test_clean_subject_passes_with_rendered_reason() -> None:
    check = assess(RiskPolicy("p"), RiskSubject("c1"), action="camp", at=AT, view=MemoryLedger())
    assert check.allowed
    assert check.control is None
    assert check.render("en") == "Risk checks passed (policy p)"


def test_one_per_person_across_cards() -> None:
    policy = RiskPolicy("p", one_per_person=True)
    ledger = MemoryLedger()
    card_a = RiskSubject("card-a", person_id="ID-110101")
    card_b = RiskSubject("card-b", person_id="ID-110101")
    first = assess(policy, card_a, action="camp", at=AT, view=ledger)
    assert first.allowed
    claim(ledger, first, card_a, "k1")
    second = assess(policy, card_b, action="camp", at=AT, view=ledger)
    assert not second.allowed
    assert second.control is Control.ONE_PER_PERSON
    assert "ID-110101" in second.render("en")
    # Another campaign (action) is counted separately.
    assert assess(policy, card_b, action="other", at=AT, view=ledger).allowed


def test_velocity_per_device_resets_at_beijing_midnight() -> None:
    policy = RiskPolicy("p", velocity=[VelocityLimit(Scope.DEVICE, 2, Window.DAY)])
    ledger = MemoryLedger()
    for i in range(2):
        subject = RiskSubject(f"c{i}", device_id="dev-1")
        check = assess(policy, subject, action="camp", at=AT, view=ledger)
        assert check.allowed
        claim(ledger, check, subject, f"k{i}")
    third = assess(policy, RiskSubject("c9", device_id="dev-1"), action="camp", at=AT, view=ledger)
    assert (third.allowed, third.control) == (False, Control.VELOCITY)
    assert third.render("en") == (
        'Refused by risk control "velocity": device dev-1 claimed 2 times in the day (limit 2)'
    )
    assert third.render("zh_CN") == "风控「频次限制」拒绝：设备 dev-1 在 当天 内已领取 2 次（上限 2）"
    # 15:59:59 UTC is 23:59:59 in Beijing: same day; 16:00 UTC is the next day.
    late = pendulum.datetime(2026, 11, 23, 15, 59, 59, tz="UTC")
    assert not assess(
        policy, RiskSubject("c9", device_id="dev-1"), action="camp", at=late, view=ledger
    ).allowed
    next_day = pendulum.datetime(2026, 11, 23, 16, 0, tz="UTC")
    assert assess(
        policy, RiskSubject("c9", device_id="dev-1"), action="camp", at=next_day, view=ledger
    ).allowed
    # A claim without a device is not counted by a device limit.
    assert assess(policy, RiskSubject("c9"), action="camp", at=AT, view=ledger).charges == ()


def test_all_fired_controls_are_listed_first_one_wins() -> None:
    policy = RiskPolicy(
        "p",
        blacklist_tags={"bad"},
        one_per_person=True,
        velocity=[VelocityLimit("customer", 1, "hour")],
    )
    ledger = MemoryLedger()
    subject = RiskSubject("c1", person_id="P")
    ok = assess(policy, subject, action="camp", at=AT, view=ledger)
    claim(ledger, ok, subject, "k")
    bad = RiskSubject("c1", person_id="P", tags={"bad"})
    check = assess(policy, bad, action="camp", at=AT, view=ledger)
    assert check.fired == (Control.BLACKLIST, Control.ONE_PER_PERSON, Control.VELOCITY)
    assert check.control is Control.BLACKLIST


def test_ledger_refusal_maps_back_to_the_control() -> None:
    policy = RiskPolicy("p", velocity=[VelocityLimit("person", 1, "week")])
    ledger = MemoryLedger()
    subject = RiskSubject("c1", person_id="P")
    # Two checks read the same state (a race), both pass the pre-check...
    first = assess(policy, subject, action="camp", at=AT, view=ledger)
    second = assess(policy, subject, action="camp", at=AT, view=ledger)
    claim(ledger, first, subject, "k1")
    # ...but the ledger refuses the second atomically, and the counter names the control.
    with pytest.raises(LimitExceededError) as info:
        claim(ledger, second, subject, "k2")
    assert control_of_counter(info.value.path or "") is Control.VELOCITY


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"velocity": [("device", 1, "day")]}, "velocity[0]"),
        ({"blacklist_tags": "bad"}, "tags"),
        ({"zone": "Mars/Olympus"}, "zone"),
    ],
)
def test_policy_validation_names_the_path(kwargs: dict[str, object], path: str) -> None:
    with pytest.raises(CatalogError) as info:
        RiskPolicy("p", **kwargs)  # type: ignore[arg-type]
    assert info.value.path == path


def test_velocity_limit_validation() -> None:
    with pytest.raises(CatalogError):
        VelocityLimit("device", 0, "day")
    with pytest.raises(ValueError, match="fortnight"):
        VelocityLimit("device", 1, "fortnight")


@settings(max_examples=60, deadline=None)
@given(
    limit=st.integers(1, 4),
    claims=st.lists(st.tuples(st.sampled_from(["c1", "c2", "c3"]), st.integers(0, 47)), max_size=30),
)
def test_velocity_never_exceeded(limit: int, claims: list[tuple[str, int]]) -> None:
    """Whatever the claims, no device gets more than ``limit`` claims in any Beijing day."""
    policy = RiskPolicy("p", velocity=[VelocityLimit("device", limit, "day")])
    ledger = MemoryLedger()
    per_day: dict[str, int] = {}
    for index, (customer, hour) in enumerate(claims):
        at = AT.start_of("day").add(hours=hour)
        subject = RiskSubject(customer, device_id="shared-phone")
        check = assess(policy, subject, action="camp", at=at, view=ledger)
        if check.allowed:
            claim(ledger, check, subject, f"k{index}")
            day = at.in_timezone("Asia/Shanghai").to_date_string()
            per_day[day] = per_day.get(day, 0) + 1
        else:
            assert check.control is Control.VELOCITY
    assert all(count <= limit for count in per_day.values())
