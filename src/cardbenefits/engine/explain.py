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

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import TypeAlias

import attrs

from cardbenefits.money import Money
from cardbenefits.rules import Explanation, Rule, explain

__all__ = [
    "CapHit",
    "Earned",
    "GroupRate",
    "Ineligible",
    "NotQualified",
    "OnePerPerson",
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
    "currency": "币种不计入",
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
    "currency": "currency does not count",
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
    """The customer fails an eligibility rule; the clause-by-clause trace is computed on request.

    Deciding only evaluates the compiled rule; :meth:`explanation` (and :meth:`render`) run
    the explainer when somebody asks why, so refusals cost nothing until read.

    >>> import pendulum
    >>> from cardbenefits.rules import parse
    >>> reason = Ineligible.of(parse("age >= 18"), {"age": 16}, pendulum.datetime(2026, 11, 1))
    >>> print(reason.render("en"))
    not eligible: age >= 18
    Not eligible: age >= 18
    ✗ age >= 18 — age is 16, needs ≥ 18: 2 more [decisive]
    """

    rule: str
    source: tuple[Rule, Mapping[str, object], datetime] | None = attrs.field(
        default=None, eq=False, repr=False
    )

    @classmethod
    def of(cls, rule: Rule, record: Mapping[str, object], at: datetime) -> Ineligible:
        """The refusal of ``rule`` for ``record`` at ``at`` (trace computed lazily)."""
        return cls(rule.text, (rule, record, at))

    def explanation(self) -> Explanation | None:
        """The rule's explanation for the record (None when built without a source)."""
        if self.source is None:
            return None
        rule, record, at = self.source
        return explain(rule, record, at)

    @property
    def trace(self) -> str:
        """The English trace (empty without a source)."""
        found = self.explanation()
        return "" if found is None else found.render("en")

    def render(self, locale: str = "zh_CN") -> str:
        """Localized text: the rule, then the clause trace."""
        head = f"不符合参与条件：{self.rule}" if _zh(locale) else f"not eligible: {self.rule}"
        found = self.explanation()
        return f"{head}\n{found.render(locale)}" if found is not None else head


@attrs.frozen
class OnePerPerson:
    """每人限一次: the person (ID number) already received this reward, on this or another card."""

    person_id: str
    reward: str
    granted_on: str | None = None
    """The card (or customer) that received it, when known."""

    def render(self, locale: str = "zh_CN") -> str:
        """Localized text."""
        where = f"（{self.granted_on}）" if _zh(locale) and self.granted_on else ""
        if _zh(locale):
            return f"每人限领一次：{self.reward} 已发放给该客户{where}"
        on = f" (on {self.granted_on})" if self.granted_on else ""
        return f"one per person: {self.reward} already granted to this person{on}"


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
class GroupRate:
    """团队达标: ``activated`` of ``members`` activated; ``required`` are needed (the rate's ceiling).

    >>> GroupRate(3, 5, 4, Decimal("0.8")).render("en")
    'group activation 3/5 (need 4, 80%)'
    """

    activated: int
    members: int
    required: int
    rate: Decimal

    @property
    def reached(self) -> bool:
        """True when enough members activated."""
        return self.members > 0 and self.activated >= self.required

    def render(self, locale: str = "zh_CN") -> str:
        """Localized text."""
        pct = f"{(self.rate * 100).normalize():f}%"
        if _zh(locale):
            return f"团队激活 {self.activated}/{self.members}（需 {self.required} 人，{pct}）"
        return f"group activation {self.activated}/{self.members} (need {self.required}, {pct})"


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


Reason: TypeAlias = (
    NotQualified
    | Ineligible
    | OnePerPerson
    | GroupRate
    | CapHit
    | ThresholdDistance
    | Earned
    | Reversed
    | RaceLost
)
