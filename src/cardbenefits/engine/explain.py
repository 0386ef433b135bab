"""Why the engine granted or refused something: explanation data first, text second.

Each reason is a frozen attrs object with ``render(locale)`` in ``zh_CN`` and ``en``; money
is formatted through :meth:`~cardbenefits.money.Money.format`.

>>> from cardbenefits.money import Money
>>> hit = CapHit(limit_id="monthly", kind="cap", counter="cap:cashback50:monthly:c1:2026-11",
...              used=Decimal(5), maximum=Decimal(5), period="2026-11")
>>> hit.render("en")
'cap monthly reached: 5 of 5 used in 2026-11'
>>> hit.render("zh_CN")
'已达上限 monthly：2026-11 已用 5 / 5'
>>> ThresholdDistance(required=Money.of(1000), actual=Money.of(680), deadline="2026-11-30").render("en")
'spend ¥320.00 more by 2026-11-30'
"""

from __future__ import annotations

from decimal import Decimal
from typing import TypeAlias

import attrs

from cardbenefits.money import Money

__all__ = [
    "CapHit",
    "Earned",
    "Ineligible",
    "NotQualified",
    "RaceLost",
    "Reason",
    "Reversed",
    "ThresholdDistance",
    "render_money",
]


def render_money(money: Money, locale: str) -> str:
    """Money for explanations: ``¥320.00`` in both locales (the engine's currency is CNY)."""
    text = money.format("zh_CN" if locale.startswith("zh") else "en")
    return text.replace("CN¥", "¥")


def _zh(locale: str) -> bool:
    return locale.startswith("zh")


_QUALIFIER_ZH = {
    "kind": "交易类型不计入",
    "mcc_excluded": "商户类别码不计入",
    "mcc": "非指定商户类别",
    "merchant": "非指定商户",
    "channel": "非指定渠道",
    "min_amount": "未达单笔最低金额",
    "validity": "不在活动有效期内",
    "not_reward": "无可计奖励",
}
_QUALIFIER_EN = {
    "kind": "transaction kind does not count",
    "mcc_excluded": "merchant category excluded",
    "mcc": "not a designated merchant category",
    "merchant": "not a designated merchant",
    "channel": "not a designated channel",
    "min_amount": "below the minimum single amount",
    "validity": "outside the programme's validity",
    "not_reward": "nothing to earn",
}


@attrs.frozen
class NotQualified:
    """The transaction does not count for the programme (``code`` from the qualifier)."""

    code: str
    detail: str = ""

    def render(self, locale: str = "zh_CN") -> str:
        """Localized text."""
        table = _QUALIFIER_ZH if _zh(locale) else _QUALIFIER_EN
        base = table.get(self.code, self.code)
        return (
            f"{base}（{self.detail}）"
            if _zh(locale) and self.detail
            else (f"{base} ({self.detail})" if self.detail else base)
        )


@attrs.frozen
class Ineligible:
    """The customer fails the programme's eligibility rule; ``trace`` is the rule's explanation."""

    rule: str
    trace: str = ""

    def render(self, locale: str = "zh_CN") -> str:
        """Localized text."""
        head = f"不符合参与条件：{self.rule}" if _zh(locale) else f"not eligible: {self.rule}"
        return f"{head}\n{self.trace}" if self.trace else head


@attrs.frozen
class CapHit:
    """A cap, budget or stock stopped (or truncated) a grant."""

    limit_id: str
    kind: str
    counter: str
    used: Decimal
    maximum: Decimal
    period: str
    truncated: bool = False

    def render(self, locale: str = "zh_CN") -> str:
        """Localized text, e.g. ``cap monthly reached: 5 of 5 used in 2026-11``."""
        where = "" if self.period == "all" else self.period
        if _zh(locale):
            noun = {"cap": "上限", "budget": "预算", "stock": "库存"}.get(self.kind, self.kind)
            verb = "部分发放，" if self.truncated else ""
            span = f"{where} " if where else ""
            return f"{verb}已达{noun} {self.limit_id}：{span}已用 {self.used} / {self.maximum}"
        verb = "reached (granted what fitted)" if self.truncated else "reached"
        tail = f" in {where}" if where else ""
        return f"{self.kind} {self.limit_id} {verb}: {self.used} of {self.maximum} used{tail}"


@attrs.frozen
class ThresholdDistance:
    """How far spend is from a threshold ("¥320 more by 30 Nov")."""

    required: Money
    actual: Money
    deadline: str | None = None

    @property
    def remaining(self) -> Money:
        """What is still missing (zero when reached)."""
        return (self.required - self.actual).max(Money.zero(self.required.currency))

    def render(self, locale: str = "zh_CN") -> str:
        """Localized text."""
        more = render_money(self.remaining, locale)
        if _zh(locale):
            return f"{self.deadline}前再消费{more}" if self.deadline else f"再消费{more}"
        return f"spend {more} more by {self.deadline}" if self.deadline else f"spend {more} more"


@attrs.frozen
class Earned:
    """What a grant is for: the rule that earned it and the quantity before and after limits."""

    rule: str
    earned: Decimal
    granted: Decimal
    asset: str

    def render(self, locale: str = "zh_CN") -> str:
        """Localized text."""
        if _zh(locale):
            return f"{self.rule}：应得 {self.earned}，发放 {self.granted} {self.asset}"
        return f"{self.rule}: earned {self.earned}, granted {self.granted} {self.asset}"


@attrs.frozen
class Reversed:
    """A clawback: the refund left ``kept`` of the original ``granted``."""

    original: str
    granted: Decimal
    kept: Decimal
    asset: str

    def render(self, locale: str = "zh_CN") -> str:
        """Localized text."""
        back = self.granted - self.kept
        if _zh(locale):
            return f"退款扣回 {back} {self.asset}（原交易 {self.original}，保留 {self.kept}）"
        return f"refund clawback of {back} {self.asset} (original {self.original}, {self.kept} kept)"


@attrs.frozen
class RaceLost:
    """Another writer used the last headroom of ``counter`` between decision and apply."""

    counter: str
    limit: Decimal
    usage: Decimal

    def render(self, locale: str = "zh_CN") -> str:
        """Localized text."""
        if _zh(locale):
            return f"并发占用：{self.counter} 已用 {self.usage} / {self.limit}"
        return f"lost a race: {self.counter} at {self.usage} of {self.limit}"


Reason: TypeAlias = NotQualified | Ineligible | CapHit | ThresholdDistance | Earned | Reversed | RaceLost
