"""Catalog file sections for funnels, referrals and risk: ``campaigns``, ``referral_programmes``,
``risk_policies`` (pydantic models at the file edge, building the frozen domain objects).

Importing this module registers the sections with :mod:`cardbenefits.catalog.sections`
(``cardbenefits/__init__.py`` should import it so every catalog knows them). A campaign holds
its prize pool inline (``pool:``), so a campaign is self-contained and its domain object needs
no lookup.

>>> from cardbenefits.catalog.sections import section
>>> from cardbenefits.funnel.campaign import Stage
>>> campaign = section("campaigns").item_type.model_validate({
...     "id": "e-life-eat", "name": "e生活 · 餐饮美食", "seed": "s3cret",
...     "starts_at": "2026-11-01", "ends_at": "2026-12-01",
...     "draw_limits": {"per_day": 1, "per_campaign": 3},
...     "pool": {"id": "eat-pool", "blank_weight": 50, "on_out_of_stock": "redraw",
...              "prizes": [{"id": "cut20", "name": "满100减20", "coupon_template": "cut20", "weight": 10,
...                          "stock": 100, "daily_stock": 10}]},
...     "eligibility": {"draw": "not delinquent"},
... }, context={"timezone": "Asia/Shanghai"}).to_domain()
>>> campaign.pool.prizes[0].daily_stock, campaign.pool.on_out_of_stock, campaign.starts_at.isoformat()
(10, <OutOfStock.REDRAW: 'redraw'>, '2026-11-01T00:00:00+08:00')
>>> campaign.eligibility[Stage.DRAW].text
'not delinquent'
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from cardbenefits.catalog.files import (
    FileModel,
    Id,
    InstantValue,
    MoneyValue,
    NonNegativeInt,
    PositiveInt,
    RuleValue,
)
from cardbenefits.catalog.sections import Ref, Section, register_section
from cardbenefits.funnel.campaign import DrawLimits, FunnelCampaign, Prize, PrizePool
from cardbenefits.referrals import ReferralProgramme, ReferralReward
from cardbenefits.risk import RiskPolicy, VelocityLimit

__all__ = [
    "CampaignFile",
    "DrawLimitsFile",
    "PrizeFile",
    "PrizePoolFile",
    "ReferralProgrammeFile",
    "ReferralRewardFile",
    "RiskPolicyFile",
    "VelocityLimitFile",
]


class PrizeFile(FileModel):
    """``pool.prizes[i]``: a coupon prize with its weight and stock (``null`` = unlimited)."""

    domain = Prize
    id: Id
    name: str
    name_en: str | None = None
    coupon_template: Id
    weight: PositiveInt
    stock: NonNegativeInt | None = None
    daily_stock: NonNegativeInt | None = None


class PrizePoolFile(FileModel):
    """``pool:`` of a campaign: prizes, the 谢谢参与 weight and the out-of-stock rule."""

    domain = PrizePool
    id: Id
    prizes: list[PrizeFile] = Field(min_length=1)
    blank_weight: NonNegativeInt = 0
    on_out_of_stock: Literal["blank", "redraw"] = "blank"
    blank_name: str = "谢谢参与"
    blank_name_en: str = "Thanks for taking part"


class DrawLimitsFile(FileModel):
    """``draw_limits:``: per person per day (campaign zone) and per campaign."""

    domain = DrawLimits
    per_day: NonNegativeInt | None = None
    per_campaign: NonNegativeInt | None = None


class CampaignFile(FileModel):
    """One funnel campaign (漏斗型促销): follow → draw → pay."""

    domain = FunnelCampaign
    id: Id
    name: str
    name_en: str | None = None
    seed: str = Field(min_length=1)
    starts_at: InstantValue
    ends_at: InstantValue
    pool: PrizePoolFile
    draw_limits: DrawLimitsFile = DrawLimitsFile()
    eligibility: dict[Literal["follow", "draw", "pay"], RuleValue] = Field(default_factory=dict)
    channels: list[str] | None = None
    pay_min_amount: MoneyValue | None = None
    zone: str = "Asia/Shanghai"
    risk_policy: Annotated[str, Ref("risk_policies")] | None = None

    @classmethod
    def from_domain(cls, obj: Any) -> FileModel:
        """The file model of a :class:`FunnelCampaign`."""
        campaign: FunnelCampaign = obj
        data = {
            "id": campaign.id,
            "name": campaign.name,
            "name_en": campaign.name_en,
            "seed": campaign.seed,
            "starts_at": campaign.starts_at,
            "ends_at": campaign.ends_at,
            "pool": PrizePoolFile.from_domain(campaign.pool),
            "draw_limits": DrawLimitsFile.from_domain(campaign.draw_limits),
            "eligibility": {str(stage): rule for stage, rule in campaign.eligibility.items()},
            "channels": sorted(campaign.channels) if campaign.channels is not None else None,
            "pay_min_amount": campaign.pay_min_amount,
            "zone": campaign.zone,
            "risk_policy": campaign.risk_policy,
        }
        return cls.model_validate(data)


class ReferralRewardFile(FileModel):
    """An inviter or invitee reward: ``amount`` for money assets, else ``units``."""

    domain = ReferralReward
    asset: str
    amount: MoneyValue | None = None
    units: PositiveInt | None = None

    def to_domain(self) -> Any:
        """The :class:`ReferralReward`."""
        if self.amount is not None:
            return ReferralReward(self.asset, amount=self.amount)
        return ReferralReward(self.asset, units=self.units or 0)

    @classmethod
    def from_domain(cls, obj: Any) -> FileModel:
        """The file model of a :class:`ReferralReward`."""
        reward: ReferralReward = obj
        if reward.amount is not None:
            return cls.model_validate({"asset": reward.asset, "amount": reward.amount})
        return cls.model_validate({"asset": reward.asset, "units": int(reward.units)})


class ReferralProgrammeFile(FileModel):
    """A share-and-invite programme (分享裂变)."""

    domain = ReferralProgramme
    id: Id
    name: str
    trigger: Literal["joined", "activated", "first_spend"]
    inviter_reward: ReferralRewardFile | None = None
    invitee_reward: ReferralRewardFile | None = None
    inviter_cap: PositiveInt | None = None
    window_days: PositiveInt | None = None
    starts_at: InstantValue | None = None
    ends_at: InstantValue | None = None
    risk_policy: Annotated[str, Ref("risk_policies")] | None = None


class VelocityLimitFile(FileModel):
    """``velocity[i]``: at most ``limit`` claims per ``scope`` per calendar ``window``."""

    domain = VelocityLimit
    scope: Literal["customer", "device", "person"]
    limit: PositiveInt
    window: Literal["hour", "day", "week", "month"]


class RiskPolicyFile(FileModel):
    """A risk policy (活动风险): blacklist tags, velocity limits, one claim per person."""

    domain = RiskPolicy
    id: Id
    blacklist_tags: list[str] = Field(default_factory=list)
    velocity: list[VelocityLimitFile] = Field(default_factory=list)
    one_per_person: bool = False
    zone: str = "Asia/Shanghai"

    @classmethod
    def from_domain(cls, obj: Any) -> FileModel:
        """The file model of a :class:`RiskPolicy` (tags sorted for stable dumps)."""
        policy: RiskPolicy = obj
        return cls.model_validate(
            {
                "id": policy.id,
                "blacklist_tags": sorted(policy.blacklist_tags),
                "velocity": [VelocityLimitFile.from_domain(v) for v in policy.velocity],
                "one_per_person": policy.one_per_person,
                "zone": policy.zone,
            }
        )


register_section(
    Section(
        key="risk_policies",
        item_type=RiskPolicyFile,
        to_domain=lambda model: model.to_domain(),
        to_file=RiskPolicyFile.from_domain,
        description="Campaign risk policies (活动风险).",
        order=60,
    )
)
register_section(
    Section(
        key="campaigns",
        item_type=CampaignFile,
        to_domain=lambda model: model.to_domain(),
        to_file=CampaignFile.from_domain,
        description="Funnel campaigns with their prize pools (漏斗型促销, 奖池).",
        order=70,
    )
)
register_section(
    Section(
        key="referral_programmes",
        item_type=ReferralProgrammeFile,
        to_domain=lambda model: model.to_domain(),
        to_file=ReferralProgrammeFile.from_domain,
        description="Share-and-invite programmes (分享裂变).",
        order=80,
    )
)
