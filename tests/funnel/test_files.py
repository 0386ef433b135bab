"""Catalog sections: campaigns, referral_programmes, risk_policies load, validate and round-trip."""

from __future__ import annotations

import textwrap

import pytest

import cardbenefits.funnel.files  # noqa: F401  (registers the sections)
from cardbenefits.catalog import CatalogValidationError, dumps, loads
from cardbenefits.funnel.campaign import FunnelCampaign, OutOfStock, Stage
from cardbenefits.money import Money
from cardbenefits.referrals import ReferralProgramme, ReferralTrigger
from cardbenefits.risk import RiskPolicy, Scope, Window

CATALOG = textwrap.dedent(
    """
    id: icbc-e-life
    version: "2026.11"
    risk_policies:
      - id: e-life-risk
        blacklist_tags: [farm_account]
        velocity:
          - {scope: device, limit: 3, window: day}
        one_per_person: true
    campaigns:
      - id: e-life-dining
        name: 工银e生活 · 餐饮美食
        name_en: ICBC e-Life dining
        seed: icbc-dining-2026-11
        starts_at: "2026-11-20"
        ends_at: "2026-11-27"
        risk_policy: e-life-risk
        channels: [wechat_official, e_life_app]
        pay_min_amount: "30"
        draw_limits: {per_day: 1, per_campaign: 3}
        eligibility:
          draw: not delinquent
        pool:
          id: dining-pool
          blank_weight: 50
          on_out_of_stock: redraw
          prizes:
            - {id: cut20, name: 满100减20元券, coupon_template: dining-cut20, weight: 20, stock: 4,
               daily_stock: 2}
            - {id: ljj5, name: 5元立减金, coupon_template: dining-ljj5, weight: 30}
    referral_programmes:
      - id: super-day
        name: 超级分享日
        trigger: first_spend
        inviter_reward: {asset: cashback, amount: "20"}
        invitee_reward: {asset: points, units: 500}
        inviter_cap: 10
        window_days: 30
        risk_policy: e-life-risk
    """
)


def test_sections_load_into_domain_objects() -> None:
    catalog = loads(CATALOG)
    campaign = catalog.get("campaigns", "e-life-dining")
    assert isinstance(campaign, FunnelCampaign)
    assert campaign.pool.on_out_of_stock is OutOfStock.REDRAW
    assert campaign.pool.prize("cut20").daily_stock == 2
    assert campaign.pay_min_amount == Money.of("30")
    assert campaign.channels == frozenset({"wechat_official", "e_life_app"})
    assert campaign.eligibility[Stage.DRAW].holds({"delinquent": False}, campaign.starts_at)
    assert campaign.risk_policy == "e-life-risk"
    policy = catalog.get("risk_policies", "e-life-risk")
    assert isinstance(policy, RiskPolicy)
    assert policy.velocity[0].scope is Scope.DEVICE
    assert policy.velocity[0].window is Window.DAY
    programme = catalog.get("referral_programmes", "super-day")
    assert isinstance(programme, ReferralProgramme)
    assert programme.trigger is ReferralTrigger.FIRST_SPEND
    assert programme.inviter_reward is not None
    assert programme.inviter_reward.amount == Money.of(20)
    assert programme.risk_policy == "e-life-risk"


def test_dump_and_reload_is_equal() -> None:
    catalog = loads(CATALOG)
    again = loads(dumps(catalog))
    for key in ("campaigns", "risk_policies", "referral_programmes"):
        assert dict(again.section(key)) == dict(catalog.section(key))
    rules = again.get("campaigns", "e-life-dining").eligibility
    assert {stage: rule.text for stage, rule in rules.items()} == {Stage.DRAW: "not delinquent"}


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        ("risk_policy: e-life-risk", "risk_policy: e-life-risks", "campaigns[0].risk_policy"),
        ("weight: 20", "weight: 0", "campaigns[0].pool.prizes[0].weight"),
        ("on_out_of_stock: redraw", "on_out_of_stock: retry", "campaigns[0].pool.on_out_of_stock"),
        ("trigger: first_spend", "trigger: signup", "referral_programmes[0].trigger"),
        (
            "window_days: 30\n    risk_policy: e-life-risk",
            "window_days: 30\n    risk_policy: nope",
            "referral_programmes[0].risk_policy",
        ),
        ("window: day", "window: fortnight", "risk_policies[0].velocity[0].window"),
        ("draw: not delinquent", "draw: not delinqent", "campaigns[0].eligibility.draw"),
    ],
)
def test_errors_name_the_path(old: str, new: str, path: str) -> None:
    with pytest.raises(CatalogValidationError) as info:
        loads(CATALOG.replace(old, new))
    assert path in str(info.value)


def test_a_referral_programme_is_checked_against_its_risk_policy() -> None:
    from cardbenefits.facts import CardHolding, Customer, Referral
    from cardbenefits.simulate.replay import Simulation

    catalog = loads(CATALOG.replace("trigger: first_spend", "trigger: joined"))
    card = CardHolding("k", "p", "classic", "2026-01-01T09:00+08:00")
    people = {
        "inv": Customer("inv", "P-inv", tags={"farm_account"}, cards=(card,)),
        "new": Customer("new", "P-new", cards=(card,)),
    }
    events = [Referral("r1", "super-day", "inv", "new", "joined", "2026-11-21T10:00+08:00")]
    result = Simulation.from_catalog(catalog).run(people, events)
    assert result.metrics.programmes["super-day"].refusals == {"risk_blacklist": 1}
