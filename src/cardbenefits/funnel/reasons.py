"""Reasons: why a funnel, referral or risk decision came out as it did, as data first.

A :class:`Reason` is a message code plus parameters; :meth:`Reason.render` turns it into
``zh_CN`` or ``en`` text (any ``zh*`` locale reads Chinese, anything else English). Money
parameters are formatted like the engine's explanations (``¥30.00``). Decisions keep reasons
as data so reports can count them ("how many draws fell back to 谢谢参与?") and render them later.

>>> from cardbenefits.money import Money
>>> r = Reason.of("draw_won", prize="满100减20", prize_en="¥20 off ¥100")
>>> r.render("zh_CN"), r.render("en")
('抽中 满100减20', 'Won ¥20 off ¥100')
>>> Reason.of("risk_blacklist", tags="fraud_suspect").render("en")
'Refused by risk control "blacklist": customer has tag(s) fraud_suspect'
>>> Reason.of("pay_below_minimum", amount=Money.of("30"), minimum=Money.of("50")).render("zh_CN")
'支付金额 ¥30.00 低于 ¥50.00，不计入支付消费'
>>> Reason.of("nonsense")
Traceback (most recent call last):
  ...
cardbenefits.errors.EngineError: reason: unknown reason code (got 'nonsense')
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Final

import attrs

from cardbenefits.errors import EngineError
from cardbenefits.money import Money

__all__ = ["MESSAGES", "Reason", "render_all", "render_money"]

#: code -> locale -> template. Parameters ending in ``_en`` replace their base name in English.
MESSAGES: Final[Mapping[str, Mapping[str, str]]] = {
    # -- funnel ---------------------------------------------------------------------------
    "campaign_closed": {
        "zh_CN": "活动「{campaign}」不在活动时间内（{starts} 至 {ends}）",
        "en": 'Campaign "{campaign}" is not running ({starts} to {ends})',
    },
    "state_refused": {
        "zh_CN": "当前阶段为「{state}」，不能进行「{event}」（允许：{allowed}）",
        "en": 'Participant is in state "{state}": event "{event}" is not allowed (allowed: {allowed})',
    },
    "channel_refused": {
        "zh_CN": "渠道 {channel} 不参与本活动（可用渠道：{channels}）",
        "en": "Channel {channel} is not part of this campaign (channels: {channels})",
    },
    "stage_ineligible": {
        "zh_CN": "不满足「{stage}」阶段的参与条件：{rule}",
        "en": 'Not eligible for the "{stage}" stage: {rule}',
    },
    "followed": {"zh_CN": "已关注活动（渠道 {channel}）", "en": "Followed the campaign (channel {channel})"},
    "draw_limit_day": {
        "zh_CN": "今日抽奖次数已用完（每人每天 {limit} 次，{day}）",
        "en": "No draws left today ({limit} per person per day, {day})",
    },
    "draw_limit_campaign": {
        "zh_CN": "本活动抽奖次数已用完（每人限 {limit} 次）",
        "en": "No draws left in this campaign ({limit} per person)",
    },
    "draw_won": {"zh_CN": "抽中 {prize}", "en": "Won {prize}"},
    "draw_blank": {"zh_CN": "{blank}", "en": "{blank}"},
    "draw_out_of_stock_blank": {
        "zh_CN": "抽中 {prize}，但已无库存（{scope}），按规则改为 {blank}",
        "en": "Drew {prize} but it is out of stock ({scope}); by the pool's rule the result is {blank}",
    },
    "draw_out_of_stock_redraw": {
        "zh_CN": "抽中 {prize}，但已无库存（{scope}），按规则在有库存的奖项中重抽",
        "en": "Drew {prize} but it is out of stock ({scope}); by the pool's rule it was re-drawn "
        "among prizes in stock",
    },
    "draw_random": {
        "zh_CN": "随机数 {random}（算法 {algorithm}，落点 {point}/{total}）",
        "en": "Random number {random} ({algorithm}, point {point} of {total})",
    },
    "coupon_issued": {
        "zh_CN": "优惠券 {template} 已放入卡包",
        "en": "Coupon {template} added to the wallet",
    },
    "pay_completed": {
        "zh_CN": "使用活动优惠券 {template} 支付，完成支付消费阶段",
        "en": "Paid with campaign coupon {template}: pay stage completed",
    },
    "pay_not_campaign_coupon": {
        "zh_CN": "核销的优惠券不是本活动抽中的券，不计入支付消费",
        "en": "The redeemed coupon was not won in this campaign; it does not count as the pay stage",
    },
    "pay_below_minimum": {
        "zh_CN": "支付金额 {amount} 低于 {minimum}，不计入支付消费",
        "en": "Payment {amount} is below {minimum}; it does not count as the pay stage",
    },
    "limit_conflict": {
        "zh_CN": "计数器 {counter} 已达上限 {limit}（并发写入时由账本拒绝）",
        "en": "Counter {counter} reached its limit {limit} (refused by the ledger)",
    },
    # -- referrals ------------------------------------------------------------------------
    "referral_self_invite": {
        "zh_CN": "邀请无效：不能邀请自己",
        "en": "Invalid invitation: customers cannot invite themselves",
    },
    "referral_same_person": {
        "zh_CN": "邀请无效：邀请人与被邀请人为同一证件号",
        "en": "Invalid invitation: inviter and invitee share the same ID number",
    },
    "referral_same_device": {
        "zh_CN": "邀请无效：邀请人与被邀请人使用同一设备 {device}",
        "en": "Invalid invitation: inviter and invitee used the same device {device}",
    },
    "referral_already_invited": {
        "zh_CN": "被邀请人已被 {inviter} 邀请，每位被邀请人只计一次",
        "en": "The invitee was already invited by {inviter}; an invitee counts once",
    },
    "referral_not_triggered": {
        "zh_CN": "尚未达成奖励条件：{trigger}",
        "en": "Reward condition not met yet: {trigger}",
    },
    "referral_inviter_cap": {
        "zh_CN": "邀请人奖励已达上限（{limit} 人）",
        "en": "Inviter reward cap reached ({limit} invitees)",
    },
    "referral_rewarded": {
        "zh_CN": "{side} 获得奖励 {reward}",
        "en": "{side} rewarded with {reward}",
    },
    "referral_window": {
        "zh_CN": "被邀请人需在受邀后 {days} 天内达成条件",
        "en": "The invitee must qualify within {days} days of the invitation",
    },
    # -- risk -----------------------------------------------------------------------------
    "risk_passed": {"zh_CN": "风险检查通过（策略 {policy}）", "en": "Risk checks passed (policy {policy})"},
    "risk_blacklist": {
        "zh_CN": "风控「黑名单」拒绝：客户带有标签 {tags}",
        "en": 'Refused by risk control "blacklist": customer has tag(s) {tags}',
    },
    "risk_one_per_person": {
        "zh_CN": "风控「每人限一次」拒绝：证件号 {person} 已在其他卡上领取",
        "en": 'Refused by risk control "one per person": person {person} already claimed (on any card)',
    },
    "risk_velocity": {
        "zh_CN": "风控「频次限制」拒绝：{scope} {subject} 在 {window} 内已领取 {usage} 次（上限 {limit}）",
        "en": 'Refused by risk control "velocity": {scope_en} {subject} claimed {usage} times in {window} '
        "(limit {limit})",
    },
}

_SIDE_NAMES = {
    "zh_CN": {"inviter": "邀请人", "invitee": "被邀请人"},
    "en": {"inviter": "Inviter", "invitee": "Invitee"},
}


def render_money(money: Money, locale: str) -> str:
    """Money in reasons: ``¥30.00`` in both locales, as the engine's explanations write it.

    >>> render_money(Money.of("1234.5"), "en")
    '¥1,234.50'
    """
    return money.format("zh_CN" if locale.lower().startswith("zh") else "en").replace("CN¥", "¥")


def _locale(locale: str) -> str:
    return "zh_CN" if locale.lower().startswith("zh") else "en"


def _format(value: object, locale: str) -> str:
    if isinstance(value, Money):
        return render_money(value, locale)
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral_value() else str(value)
    return str(value)


@attrs.frozen
class Reason:
    """A reason code and its parameters (kept in key order for stable equality)."""

    code: str
    params: tuple[tuple[str, object], ...] = ()

    @classmethod
    def of(cls, code: str, **params: object) -> Reason:
        """Build a reason, checking the code is known."""
        if code not in MESSAGES:
            raise EngineError("unknown reason code", path="reason", value=code)
        return cls(code, tuple(sorted(params.items())))

    def param(self, name: str) -> object:
        """The parameter ``name`` (``KeyError`` if absent)."""
        return dict(self.params)[name]

    def render(self, locale: str = "zh_CN") -> str:
        """The reason as text in ``locale`` (``zh*`` → Chinese, else English)."""
        loc = _locale(locale)
        values = {name: _format(value, locale) for name, value in self.params}
        if loc == "en":
            for name in list(values):
                if name.endswith("_en"):
                    values[name[:-3]] = values[name]
        if "side" in values:
            values["side"] = _SIDE_NAMES[loc].get(values["side"], values["side"])
        return MESSAGES[self.code][loc].format_map(_Defaulting(values))


class _Defaulting(dict[str, str]):
    def __missing__(self, key: str) -> str:
        # An English-only parameter (scope_en) falls back to its base value.
        if key.endswith("_en") and key[:-3] in self:
            return self[key[:-3]]
        return "?"


def render_all(reasons: tuple[Reason, ...], locale: str = "zh_CN") -> str:
    """Render reasons one per line.

    >>> reasons = (Reason.of("followed", channel="wechat"), Reason.of("draw_blank", blank="谢谢参与"))
    >>> print(render_all(reasons))
    已关注活动（渠道 wechat）
    谢谢参与
    """
    return "\n".join(reason.render(locale) for reason in reasons)
