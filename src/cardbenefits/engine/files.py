"""Catalog file sections for reward programmes: ``programmes``, ``ladders``, ``group_rewards``.

Registered with :func:`cardbenefits.catalog.register_section` when :mod:`cardbenefits.engine`
is imported. The models are strict and forbid unknown keys like the rest of the catalog file;
rules are parsed against the catalog's field schema, ``benefit_id`` must name a benefit of the
library and a multiplier's ``base`` a programme. A transaction programme's ``kind`` says what it
pays (``fixed``, ``percent``, ``accrual``, ``multiplier``).

>>> from cardbenefits.catalog import dumps, loads
>>> text = '''
... id: demo
... version: "1"
... programmes:
...   - id: cashback50
...     kind: fixed
...     amount: "5"
...     qualifier: {min_amount: "50", excluded_mccs: ["6513", "9311"]}
...     limits: [{id: monthly, maximum: 5, period: month}]
...   - {id: double, kind: multiplier, base: pointz, factor: 2, eligibility: 'age >= 18'}
... '''
>>> loads(text)
Traceback (most recent call last):
  ...
cardbenefits.catalog.issues.CatalogValidationError: catalog has 1 error:
  programmes[1].base: unknown programme id (got 'pointz')
>>> catalog = loads(text.replace("pointz", "cashback50"))
>>> catalog.section("programmes")["cashback50"].limits[0].period
<PeriodUnit.MONTH: 'month'>
>>> loads(dumps(catalog)) == catalog
True
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from cardbenefits.catalog.eligibility import Eligibility
from cardbenefits.catalog.files import (
    DecimalValue,
    FileModel,
    Id,
    InstantValue,
    MoneyValue,
    RuleValue,
)
from cardbenefits.catalog.issues import CatalogIssue, format_path
from cardbenefits.catalog.sections import (
    CheckContext,
    Ref,
    Section,
    discriminator_tags,
    register_check,
    register_section,
)
from cardbenefits.facts import Channel, TransactionKind
from cardbenefits.money import Money, Rounding
from cardbenefits.programmes import (
    AccrualReward,
    ActivationLadder,
    BonusMultiplier,
    FixedReward,
    GroupReward,
    ItemReward,
    Limit,
    PercentReward,
    Qualifier,
    Tier,
    TransactionProgramme,
)
from cardbenefits.rules import Rule

__all__ = [
    "AccrualProgrammeFile",
    "FixedProgrammeFile",
    "GroupRewardFile",
    "ItemRewardFile",
    "LadderFile",
    "LimitFile",
    "MultiplierProgrammeFile",
    "PercentProgrammeFile",
    "ProgrammeItem",
    "QualifierFile",
    "TierFile",
]

Mcc = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")]
Asset = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*(:[A-Za-z0-9_.\-]+)?$")]
KindName = Literal[
    "purchase", "cash_advance", "fee", "interest", "balance_transfer", "refund", "reversal", "repayment"
]
ChannelName = Literal["wechat_pay", "alipay", "unionpay_quickpass", "pos", "online", "atm", "app", "branch"]
# the file vocabulary is the facts layer's (checked at import)
assert set(KindName.__args__) == {k.value for k in TransactionKind}  # type: ignore[attr-defined]
assert set(ChannelName.__args__) == {c.value for c in Channel}  # type: ignore[attr-defined]
PeriodName = Literal["day", "month", "statement", "campaign"]
BenefitRef = Annotated[str, Ref("benefits")]


def _sorted(values: Iterable[str] | None) -> list[str] | None:
    return None if values is None else sorted(values)


def _rule(value: Eligibility | None) -> Rule | None:
    return None if value is None else value.rule


def _eligibility(rule: Rule | None) -> Eligibility | None:
    return None if rule is None else Eligibility(rule.text, rule)


def _money_or_none(value: Money) -> Money | None:
    return None if value.is_zero() else value


class QualifierFile(BaseModel):
    """``qualifier:`` — what counts: kinds, MCCs (designated / excluded), merchants, channels."""

    model_config = FileModel.model_config
    kinds: list[KindName] = Field(default_factory=lambda: list[KindName](["purchase"]), min_length=1)
    mccs: list[Mcc] | None = None
    excluded_mccs: list[Mcc] = Field(default_factory=list)
    merchants: list[str] | None = None
    channels: list[ChannelName] | None = None
    min_amount: MoneyValue | None = None
    time_basis: Literal["transaction", "posting"] = "transaction"

    def to_domain(self) -> Qualifier:
        """The :class:`~cardbenefits.programmes.Qualifier`."""
        return Qualifier(
            kinds=self.kinds,
            mccs=self.mccs,
            excluded_mccs=self.excluded_mccs,
            merchants=self.merchants,
            channels=self.channels,
            min_amount=self.min_amount,
            time_basis=self.time_basis,
        )

    @classmethod
    def of(cls, q: Qualifier) -> QualifierFile:
        """The file form of ``q``."""
        return cls.model_validate(
            {
                "kinds": sorted(q.kinds),
                "mccs": _sorted(q.mccs),
                "excluded_mccs": sorted(q.excluded_mccs),
                "merchants": _sorted(q.merchants),
                "channels": _sorted(q.channels),
                "min_amount": q.min_amount,
                "time_basis": q.time_basis.value,
            }
        )


class LimitFile(BaseModel):
    """One cap, budget or stock: ``{id, maximum, scope, measure, period}``."""

    model_config = FileModel.model_config
    id: Id
    maximum: DecimalValue
    scope: Literal["customer", "person", "global"] = "customer"
    measure: Literal["count", "amount", "cost"] = "count"
    period: PeriodName = "campaign"

    def to_domain(self) -> Limit:
        """The :class:`~cardbenefits.programmes.Limit`."""
        return Limit(self.id, self.maximum, self.scope, self.measure, self.period)

    @classmethod
    def of(cls, limit: Limit) -> LimitFile:
        """The file form of ``limit``."""
        return cls.model_validate(
            {
                "id": limit.id,
                "maximum": limit.maximum,
                "scope": limit.scope.value,
                "measure": limit.measure.value,
                "period": limit.period.value,
            }
        )


class _ProgrammeFile(FileModel):
    """Keys every transaction programme has."""

    id: Id
    name: str = ""
    benefit_id: BenefitRef | None = None
    qualifier: QualifierFile = QualifierFile()
    limits: list[LimitFile] = Field(default_factory=list)
    eligibility: RuleValue | None = None
    period: PeriodName = "month"
    valid_from: InstantValue | None = None
    valid_until: InstantValue | None = None
    cost_per_unit: MoneyValue | None = None

    def _reward(self) -> Any:
        raise NotImplementedError

    def to_domain(self) -> TransactionProgramme:
        """The :class:`~cardbenefits.programmes.TransactionProgramme`."""
        return TransactionProgramme(
            id=self.id,
            qualifier=self.qualifier.to_domain(),
            reward=self._reward(),
            limits=tuple(lim.to_domain() for lim in self.limits),
            eligibility=_rule(self.eligibility),
            period=self.period,
            valid_from=self.valid_from,
            valid_until=self.valid_until,
            cost_per_unit=self.cost_per_unit if self.cost_per_unit is not None else Money.zero(),
            benefit_id=self.benefit_id,
            name=self.name,
        )

    @staticmethod
    def _common(p: TransactionProgramme) -> dict[str, Any]:
        return {
            "id": p.id,
            "name": p.name,
            "benefit_id": p.benefit_id,
            "qualifier": QualifierFile.of(p.qualifier),
            "limits": [LimitFile.of(lim) for lim in p.limits],
            "eligibility": _eligibility(p.eligibility),
            "period": p.period.value,
            "valid_from": p.valid_from,
            "valid_until": p.valid_until,
            "cost_per_unit": _money_or_none(p.cost_per_unit),
        }


class FixedProgrammeFile(_ProgrammeFile):
    """``kind: fixed`` — a fixed ``amount`` (cashback) or ``units`` of ``asset`` per transaction."""

    kind: Literal["fixed"]
    amount: MoneyValue | None = None
    units: DecimalValue | None = None
    asset: Asset = "cashback"

    def _reward(self) -> FixedReward:
        return FixedReward(amount=self.amount, asset=self.asset, units=self.units or Decimal(0))

    @classmethod
    def of(cls, p: TransactionProgramme) -> FixedProgrammeFile:
        """The file form of ``p``."""
        r = p.reward
        assert isinstance(r, FixedReward)
        units = None if r.units == 0 else r.units
        return cls.model_validate(
            {**cls._common(p), "kind": "fixed", "amount": r.amount, "units": units, "asset": r.asset}
        )


class PercentProgrammeFile(_ProgrammeFile):
    """``kind: percent`` — ``rate`` percent cashback, rounded to the fen, capped per transaction."""

    kind: Literal["percent"]
    rate: DecimalValue
    per_transaction_cap: MoneyValue | None = None
    rounding: Literal[tuple(r.value for r in Rounding)] = Rounding.HALF_UP.value  # type: ignore[valid-type]

    def _reward(self) -> PercentReward:
        return PercentReward(
            rate=self.rate, per_transaction_cap=self.per_transaction_cap, rounding=self.rounding
        )

    @classmethod
    def of(cls, p: TransactionProgramme) -> PercentProgrammeFile:
        """The file form of ``p``."""
        r = p.reward
        assert isinstance(r, PercentReward)
        return cls.model_validate(
            {
                **cls._common(p),
                "kind": "percent",
                "rate": r.rate,
                "per_transaction_cap": r.per_transaction_cap,
                "rounding": r.rounding.value,
            }
        )


class AccrualProgrammeFile(_ProgrammeFile):
    """``kind: accrual`` — ``units`` of ``asset`` per ``per`` spent, times ``multiplier``, floored."""

    kind: Literal["accrual"]
    asset: Asset
    per: MoneyValue
    units: DecimalValue = Decimal(1)
    multiplier: DecimalValue = Decimal(1)
    flooring: Literal["transaction", "period"] = "transaction"

    def _reward(self) -> AccrualReward:
        return AccrualReward(self.asset, self.per, self.units, self.multiplier, self.flooring)

    @classmethod
    def of(cls, p: TransactionProgramme) -> AccrualProgrammeFile:
        """The file form of ``p``."""
        r = p.reward
        assert isinstance(r, AccrualReward)
        return cls.model_validate(
            {
                **cls._common(p),
                "kind": "accrual",
                "asset": r.asset,
                "per": r.per,
                "units": r.units,
                "multiplier": r.multiplier,
                "flooring": r.flooring.value,
            }
        )


class MultiplierProgrammeFile(_ProgrammeFile):
    """``kind: multiplier`` — 积分加倍: ``factor`` times what programme ``base`` earns."""

    kind: Literal["multiplier"]
    base: Annotated[str, Ref("programmes")]
    factor: DecimalValue

    def _reward(self) -> BonusMultiplier:
        return BonusMultiplier(self.base, self.factor)

    @classmethod
    def of(cls, p: TransactionProgramme) -> MultiplierProgrammeFile:
        """The file form of ``p``."""
        r = p.reward
        assert isinstance(r, BonusMultiplier)
        return cls.model_validate(
            {**cls._common(p), "kind": "multiplier", "base": r.base, "factor": r.factor}
        )


ProgrammeItem = Annotated[
    FixedProgrammeFile | PercentProgrammeFile | AccrualProgrammeFile | MultiplierProgrammeFile,
    Field(discriminator="kind"),
]
"""One entry of ``programmes:``, chosen by its ``kind``."""

_PROGRAMME_FILES: dict[type, Any] = {
    FixedReward: FixedProgrammeFile,
    PercentReward: PercentProgrammeFile,
    AccrualReward: AccrualProgrammeFile,
    BonusMultiplier: MultiplierProgrammeFile,
}


def _programme_to_file(p: TransactionProgramme) -> BaseModel:
    model: BaseModel = _PROGRAMME_FILES[type(p.reward)].of(p)
    return model


class ItemRewardFile(BaseModel):
    """What a tier or group reward grants: an ``amount`` of money or ``units`` of an item."""

    model_config = FileModel.model_config
    asset: Asset
    amount: MoneyValue | None = None
    units: DecimalValue | None = None
    cost: MoneyValue | None = None
    benefit_id: BenefitRef | None = None
    on_clawback: Literal["reverse", "charge", "keep"] = "reverse"
    charge: MoneyValue | None = None

    def to_domain(self) -> ItemReward:
        """The :class:`~cardbenefits.programmes.ItemReward`."""
        return ItemReward(
            self.asset,
            self.amount,
            self.units or Decimal(0),
            self.cost,
            self.benefit_id,
            self.on_clawback,
            self.charge,
        )

    @classmethod
    def of(cls, r: ItemReward) -> ItemRewardFile:
        """The file form of ``r``."""
        return cls.model_validate(
            {
                "asset": r.asset,
                "amount": r.amount,
                "units": None if r.units == 0 else r.units,
                "cost": r.cost,
                "benefit_id": r.benefit_id,
                "on_clawback": r.on_clawback.value,
                "charge": r.charge,
            }
        )


class TierFile(BaseModel):
    """One rung of a ladder: thresholds per period (or within N days) and its reward."""

    model_config = FileModel.model_config
    id: Id
    name: str = ""
    reward: ItemRewardFile
    min_spend: MoneyValue | None = None
    min_count: Annotated[int, Field(ge=0)] = 0
    first_period: Annotated[int, Field(ge=0)] = 0
    periods: Annotated[int, Field(ge=1)] = 1
    within_days: Annotated[int, Field(ge=1)] | None = None

    def to_domain(self) -> Tier:
        """The :class:`~cardbenefits.programmes.Tier`."""
        return Tier(
            self.id,
            self.reward.to_domain(),
            self.min_spend if self.min_spend is not None else Money.zero(),
            self.min_count,
            self.first_period,
            self.periods,
            self.within_days,
            self.name,
        )

    @classmethod
    def of(cls, t: Tier) -> TierFile:
        """The file form of ``t``."""
        return cls.model_validate(
            {
                "id": t.id,
                "name": t.name,
                "reward": ItemRewardFile.of(t.reward),
                "min_spend": _money_or_none(t.min_spend),
                "min_count": t.min_count,
                "first_period": t.first_period,
                "periods": t.periods,
                "within_days": t.within_days,
            }
        )


class LadderFile(FileModel):
    """One activation ladder (阶梯式激活): tiers counted per month or statement cycle of a card."""

    id: Id
    name: str = ""
    tiers: Annotated[list[TierFile], Field(min_length=1)]
    qualifier: QualifierFile = QualifierFile()
    anchor: Literal["approval", "activation"] = "approval"
    basis: Literal["month", "statement"] = "month"
    one_per_person: bool = True
    eligibility: RuleValue | None = None
    limits: list[LimitFile] = Field(default_factory=list)

    def to_domain(self) -> ActivationLadder:
        """The :class:`~cardbenefits.programmes.ActivationLadder`."""
        return ActivationLadder(
            self.id,
            tuple(t.to_domain() for t in self.tiers),
            self.qualifier.to_domain(),
            self.anchor,
            self.basis,
            self.one_per_person,
            _rule(self.eligibility),
            tuple(lim.to_domain() for lim in self.limits),
            self.name,
        )

    @classmethod
    def of(cls, ladder: ActivationLadder) -> LadderFile:
        """The file form of ``ladder``."""
        return cls.model_validate(
            {
                "id": ladder.id,
                "name": ladder.name,
                "tiers": [TierFile.of(t) for t in ladder.tiers],
                "qualifier": QualifierFile.of(ladder.qualifier),
                "anchor": ladder.anchor.value,
                "basis": ladder.basis.value,
                "one_per_person": ladder.one_per_person,
                "eligibility": _eligibility(ladder.eligibility),
                "limits": [LimitFile.of(lim) for lim in ladder.limits],
            }
        )


class GroupRewardFile(FileModel):
    """One group reward (团队达标奖): ``rate`` of a company's members activated by ``deadline``."""

    id: Id
    name: str = ""
    reward: ItemRewardFile
    rate: DecimalValue = Decimal("0.8")
    min_members: Annotated[int, Field(ge=1)] = 1
    deadline: InstantValue | None = None
    limits: list[LimitFile] = Field(default_factory=list)

    def to_domain(self) -> GroupReward:
        """The :class:`~cardbenefits.programmes.GroupReward`."""
        return GroupReward(
            self.id,
            self.reward.to_domain(),
            self.rate,
            self.min_members,
            self.deadline,
            tuple(lim.to_domain() for lim in self.limits),
            self.name,
        )

    @classmethod
    def of(cls, g: GroupReward) -> GroupRewardFile:
        """The file form of ``g``."""
        return cls.model_validate(
            {
                "id": g.id,
                "name": g.name,
                "reward": ItemRewardFile.of(g.reward),
                "rate": g.rate,
                "min_members": g.min_members,
                "deadline": g.deadline,
                "limits": [LimitFile.of(lim) for lim in g.limits],
            }
        )


register_section(
    Section(
        key="programmes",
        item_type=ProgrammeItem,
        to_domain=lambda model: model.to_domain(),
        to_file=_programme_to_file,
        description="Transaction reward programmes: cashback, points, miles, multipliers.",
        order=40,
        tags=discriminator_tags(ProgrammeItem),
    )
)
register_section(
    Section(
        key="ladders",
        item_type=LadderFile,
        to_domain=lambda model: model.to_domain(),
        to_file=LadderFile.of,
        description="Tiered activation ladders (阶梯式激活权益).",
        order=41,
    )
)
register_section(
    Section(
        key="group_rewards",
        item_type=GroupRewardFile,
        to_domain=lambda model: model.to_domain(),
        to_file=GroupRewardFile.of,
        description="Group rewards (团队达标奖).",
        order=42,
    )
)


def _limit_issues(key: str, i: int, limits: list[LimitFile], periodic: bool) -> Iterator[CatalogIssue]:
    first: dict[str, int] = {}
    for j, lim in enumerate(limits):
        path = format_path([key, i, "limits", j])
        if lim.id in first:
            yield CatalogIssue(f"{path}.id", f"duplicate limit id (first at limits[{first[lim.id]}])", lim.id)
        first.setdefault(lim.id, j)
        if periodic and lim.measure == "count":
            yield CatalogIssue(f"{path}.measure", "count limits need per-transaction flooring", lim.measure)


def _reward_issues(path: list[str | int], reward: ItemRewardFile) -> Iterator[CatalogIssue]:
    if (reward.amount is None) == (reward.units is None or reward.units == 0):
        yield CatalogIssue(format_path(path), "a reward needs exactly one of amount or units")
    if reward.on_clawback == "charge" and reward.charge is None:
        yield CatalogIssue(format_path([*path, "charge"]), "a 'charge' clawback needs a charge amount")


def _check_programmes(ctx: CheckContext) -> Iterator[CatalogIssue]:
    """Ids distinct across the three sections; limits, multipliers, tiers and rewards consistent."""
    earlier: list[str] = []
    for key in ("programmes", "ladders", "group_rewards"):
        for i, item in ctx.items.get(key, ()):
            item_id = getattr(item, "id", "")
            clash = next((k for k in earlier if item_id in ctx.ids.get(k, frozenset())), None)
            if clash is not None:
                yield CatalogIssue(format_path([key, i, "id"]), f"id already used in {clash}", item_id)
        earlier.append(key)
    programmes: Mapping[str, Any] = {m.id: m for _i, m in ctx.items.get("programmes", ())}  # type: ignore[attr-defined]
    for i, p in ctx.items.get("programmes", ()):
        periodic = isinstance(p, AccrualProgrammeFile) and p.flooring == "period"
        yield from _limit_issues("programmes", i, p.limits, periodic)  # type: ignore[attr-defined]
        if isinstance(p, FixedProgrammeFile) and (p.amount is None) == (p.units is None or p.units == 0):
            yield CatalogIssue(
                format_path(["programmes", i]), "a fixed reward needs exactly one of amount or units"
            )
        if isinstance(p, MultiplierProgrammeFile):
            base = programmes.get(p.base)
            if isinstance(base, MultiplierProgrammeFile):
                yield CatalogIssue(
                    format_path(["programmes", i, "base"]),
                    "a multiplier's base cannot be a multiplier",
                    p.base,
                )
            if p.factor <= 1:
                yield CatalogIssue(
                    format_path(["programmes", i, "factor"]), "a multiplier factor must be above 1", p.factor
                )
    for i, ladder in ctx.items.get("ladders", ()):
        assert isinstance(ladder, LadderFile)
        yield from _limit_issues("ladders", i, ladder.limits, False)
        seen: dict[str, int] = {}
        for j, tier in enumerate(ladder.tiers):
            path: list[str | int] = ["ladders", i, "tiers", j]
            if tier.id in seen:
                yield CatalogIssue(
                    format_path([*path, "id"]),
                    f"duplicate tier id (first at tiers[{seen[tier.id]}])",
                    tier.id,
                )
            seen.setdefault(tier.id, j)
            if (tier.min_spend is None or tier.min_spend.is_zero()) and tier.min_count == 0:
                yield CatalogIssue(format_path(path), "a tier needs min_spend or min_count")
            if tier.within_days is not None and (tier.periods != 1 or tier.first_period):
                yield CatalogIssue(
                    format_path([*path, "within_days"]), "within_days needs a single window", tier.within_days
                )
            yield from _reward_issues([*path, "reward"], tier.reward)
    for i, group in ctx.items.get("group_rewards", ()):
        assert isinstance(group, GroupRewardFile)
        if not Decimal(0) < group.rate <= 1:
            yield CatalogIssue(
                format_path(["group_rewards", i, "rate"]), "rate must be in (0, 1]", group.rate
            )
        yield from _limit_issues("group_rewards", i, group.limits, False)
        yield from _reward_issues(["group_rewards", i, "reward"], group.reward)


register_check(_check_programmes)
