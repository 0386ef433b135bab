"""Share-and-invite: triggers, one reward per invitee person, inviter caps, abuse checks."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardbenefits.errors import CatalogError, FactError, LimitExceededError
from cardbenefits.facts import Customer, Referral
from cardbenefits.ledger.entries import EntryKind
from cardbenefits.ledger.memory import MemoryLedger
from cardbenefits.money import Money
from cardbenefits.referrals import (
    Abuse,
    ReferralDecision,
    ReferralProgramme,
    ReferralReward,
    decide_referral,
)
from cardbenefits.risk import RiskPolicy

sys.path.insert(0, str(Path(__file__).parent / "funnel"))
from funnel_support import issue_coupon

AT = pendulum.datetime(2026, 11, 5, 10, tz="Asia/Shanghai")
V = "v1"


def programme(**kwargs: object) -> ReferralProgramme:
    options: dict[str, object] = {
        "trigger": "first_spend",
        "inviter_reward": ReferralReward("cashback", amount=Money.of(20)),
        "invitee_reward": ReferralReward("points", units=500),
        "inviter_cap": 2,
    }
    options.update(kwargs)
    return ReferralProgramme("share", "超级分享日", **options)  # type: ignore[arg-type]


INVITER = Customer("inv", "P-inv", device_id="d-inv")


def invitee(n: int, **kwargs: object) -> Customer:
    return Customer(f"c{n}", f"P{n}", device_id=f"d{n}", **kwargs)  # type: ignore[arg-type]


def step(
    ledger: MemoryLedger, prog: ReferralProgramme, who: Customer, stage: str, *, at: pendulum.DateTime = AT,
    inviter: Customer = INVITER, **kwargs: object,
) -> ReferralDecision:  # fmt: skip
    event = Referral(f"{who.id}-{stage}-{inviter.id}", prog.id, inviter.id, who.id, stage, at)
    decision = decide_referral(prog, inviter, who, event, view=ledger, catalog_version=V, **kwargs)  # type: ignore[arg-type]
    if decision.batch is not None:
        ledger.apply(decision.batch)
    return decision


def test_rewards_only_at_the_trigger_stage_and_once() -> None:
    ledger = MemoryLedger()
    prog = programme()
    joined = step(ledger, prog, invitee(1), "joined")
    assert joined.accepted
    assert joined.rewarded == ()
    assert joined.render("en") == "Reward condition not met yet: invitee's first spend"
    assert step(ledger, prog, invitee(1), "activated").rewarded == ()
    spent = step(ledger, prog, invitee(1), "first_spend")
    assert spent.rewarded == ("inviter", "invitee")
    assert spent.render("zh_CN") == "邀请人 获得奖励 ¥20.00 cashback\n被邀请人 获得奖励 500 points"
    dup = Referral("dup", "share", "inv", "c1", "first_spend", AT)
    again = decide_referral(prog, INVITER, invitee(1), dup, view=ledger, catalog_version=V)
    assert again.rewarded == ()
    assert ledger.balance("inv", "cashback") == Decimal(20)
    assert ledger.balance("c1", "points") == Decimal(500)


def test_inviter_cap_stops_inviter_but_not_invitee() -> None:
    ledger = MemoryLedger()
    prog = programme(trigger="joined")
    assert [step(ledger, prog, invitee(n), "joined").rewarded for n in range(3)] == [
        ("inviter", "invitee"),
        ("inviter", "invitee"),
        ("invitee",),
    ]
    third = ledger.entries(programme_id="share", customer_id="c2")
    assert third
    assert ledger.balance("inv", "cashback") == Decimal(40)
    decision = step(ledger, prog, invitee(3), "joined")
    assert "Inviter reward cap reached (2 invitees)" in decision.render("en")


SAME_ID = "Invalid invitation: inviter and invitee share the same ID number"
SAME_DEVICE = "Invalid invitation: inviter and invitee used the same device d-inv"


@pytest.mark.parametrize(
    ("who", "event_device", "abuse", "text"),
    [
        (Customer("twin", "P-inv"), None, Abuse.SAME_PERSON, SAME_ID),
        (Customer("c1", "P1", device_id="d-inv"), None, Abuse.SAME_DEVICE, SAME_DEVICE),
        (Customer("c1", "P1"), "d-inv", Abuse.SAME_DEVICE, SAME_DEVICE),
    ],
)  # fmt: skip
def test_abuse_checks(who: Customer, event_device: str | None, abuse: Abuse, text: str) -> None:
    ledger = MemoryLedger()
    event = Referral("e", "share", "inv", who.id, "joined", AT, device_id=event_device)
    decision = decide_referral(programme(), INVITER, who, event, view=ledger, catalog_version=V)
    assert not decision.accepted
    assert decision.abuse is abuse
    assert decision.batch is None
    assert decision.render("en") == text


def test_self_invite_is_refused() -> None:
    with pytest.raises(FactError):
        Referral("e", "share", "inv", "inv", "joined", AT)


def test_invitee_belongs_to_the_first_inviter_per_person() -> None:
    ledger = MemoryLedger()
    prog = programme(trigger="joined")
    step(ledger, prog, invitee(1), "joined")
    other = Customer("inv2", "P-inv2", device_id="d-inv2")
    stolen = step(ledger, prog, invitee(1), "joined", inviter=other)
    assert stolen.abuse is Abuse.ALREADY_INVITED
    assert stolen.render("zh_CN") == "被邀请人已被 inv 邀请，每位被邀请人只计一次"
    # The same person with a second card is not a new invitee either.
    second_card = Customer("c1b", "P1", device_id="d1b")
    assert step(ledger, prog, second_card, "joined").rewarded == ()


def test_window_from_joining() -> None:
    ledger = MemoryLedger()
    prog = programme(window_days=30)
    step(ledger, prog, invitee(1), "joined")
    late = step(ledger, prog, invitee(1), "first_spend", at=AT.add(days=31))
    assert late.rewarded == ()
    assert late.render("en") == "The invitee must qualify within 30 days of the invitation"
    step(ledger, prog, invitee(2), "joined")
    assert step(ledger, prog, invitee(2), "first_spend", at=AT.add(days=29)).rewarded == (
        "inviter",
        "invitee",
    )


def test_risk_policy_on_inviter() -> None:
    ledger = MemoryLedger()
    prog = programme(trigger="joined")
    flagged = Customer("inv", "P-inv", tags={"farm_account"})
    decision = step(
        ledger,
        prog,
        invitee(1),
        "joined",
        inviter=flagged,
        risk=RiskPolicy("r", blacklist_tags={"farm_account"}),
    )
    assert not decision.accepted
    assert decision.render("en").startswith('Refused by risk control "blacklist"')


def test_coupon_reward_goes_through_the_issuer() -> None:
    ledger = MemoryLedger()
    prog = programme(trigger="joined", invitee_reward=ReferralReward("coupon:welcome10", units=1))
    decision = step(ledger, prog, invitee(1), "joined", issuer=issue_coupon)
    assert decision.rewarded == ("inviter", "invitee")
    issued = [e for e in ledger.entries(customer_id="c1") if e.kind is EntryKind.ISSUE]
    assert [e.asset for e in issued] == ["coupon:welcome10"]


def test_reward_validation() -> None:
    with pytest.raises(CatalogError):
        ReferralReward("cashback")
    with pytest.raises(CatalogError):
        ReferralReward("points", amount=Money.of(1))
    with pytest.raises(CatalogError):
        ReferralProgramme("p", "p", trigger="joined")
    with pytest.raises(ValueError, match="signup"):
        programme(trigger="signup")


def test_concurrent_decisions_cannot_pass_the_cap() -> None:
    ledger = MemoryLedger()
    prog = programme(trigger="joined", inviter_cap=1)
    events = [Referral(f"e{n}", "share", "inv", f"c{n}", "joined", AT) for n in (1, 2)]
    # Both decided on the same (empty) state: each thinks it is the first.
    decisions = [decide_referral(prog, INVITER, invitee(n), e, view=ledger, catalog_version=V)
                 for n, e in zip((1, 2), events, strict=True)]  # fmt: skip
    assert decisions[0].batch is not None
    assert decisions[1].batch is not None
    ledger.apply(decisions[0].batch)
    with pytest.raises(LimitExceededError):
        ledger.apply(decisions[1].batch)


@settings(max_examples=40, deadline=None)
@given(
    cap=st.integers(1, 3),
    events=st.lists(
        st.tuples(
            st.integers(0, 2), st.integers(0, 5), st.sampled_from(["joined", "activated", "first_spend"])
        ),
        max_size=25,
    ),
)
def test_caps_and_once_per_invitee_hold(cap: int, events: list[tuple[int, int, str]]) -> None:
    ledger = MemoryLedger()
    prog = programme(trigger="activated", inviter_cap=cap)
    inviters = [Customer(f"inv{i}", f"P-inv{i}", device_id=f"d-inv{i}") for i in range(3)]
    for index, (i, n, stage) in enumerate(events):
        who = Customer(f"c{n}", f"P{n % 4}", device_id=f"d{n}")  # c0 and c4 are the same person
        event = Referral(f"e{index}", "share", inviters[i].id, who.id, stage, AT.add(hours=index))
        decision = decide_referral(prog, inviters[i], who, event, view=ledger, catalog_version=V)
        if decision.batch is not None:
            ledger.apply(decision.batch)
    for inviter in inviters:
        assert ledger.balance(inviter.id, "cashback") <= 20 * cap
    per_person: dict[str, Decimal] = {}
    for entry in ledger.entries(programme_id="share"):
        if entry.asset == "points":
            assert entry.person_id is not None
            per_person[entry.person_id] = per_person.get(entry.person_id, Decimal(0)) + entry.units
    assert all(total == 500 for total in per_person.values())
