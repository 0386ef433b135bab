"""Share-and-invite programmes (分享裂变): rewards for inviter and invitee, caps, abuse checks.

A :class:`ReferralProgramme` rewards both sides when the invitee reaches the programme's
trigger stage — ``joined`` (注册/参与), ``activated`` (激活) or ``first_spend`` (首刷) — as
reported by :class:`~cardbenefits.facts.Referral` events. :func:`decide_referral` is pure:

1. **Abuse checks** (refusal, nothing recorded): self-invite, inviter and invitee with the
   same person id (证件号), the same device.
2. **One inviter per invitee**: the first inviter whose invitation is recorded owns the
   invitee (counted per person, so a second card of the same person is not a new invitee).
3. **Window**: with ``window_days``, the trigger must come within that many days of the
   invitee joining.
4. **Rewards** when the stage reaches the trigger, once per invitee person (a ledger counter
   with limit 1); the inviter's reward stops at ``inviter_cap`` rewarded invitees (a counter
   with that limit), while the invitee is still rewarded.

Every stage is recorded as a zero-value ``grant`` of asset ``referral:<programme>:<stage>``
for the invitee (meta ``referral.inviter``), so the binding and progress are in the ledger.

>>> import pendulum
>>> from cardbenefits.facts import Customer, Referral
>>> from cardbenefits.ledger.memory import MemoryLedger
>>> from cardbenefits.money import Money
>>> programme = ReferralProgramme(
...     "share-2026", "超级分享日", trigger="first_spend", inviter_cap=2,
...     inviter_reward=ReferralReward("cashback", amount=Money.of(20)),
...     invitee_reward=ReferralReward("points", units=500),
... )
>>> ann, bob = Customer("c1", "P1", device_id="d1"), Customer("c2", "P2", device_id="d2")
>>> ledger = MemoryLedger()
>>> at = pendulum.datetime(2026, 11, 5, 10, tz="Asia/Shanghai")
>>> for stage in ("joined", "first_spend"):
...     d = decide_referral(programme, ann, bob, Referral(f"r-{stage}", "share-2026", "c1", "c2", stage, at),
...                         view=ledger, catalog_version="v1")
...     _ = ledger.apply(d.batch)
>>> print(d.render("en"))
Inviter rewarded with ¥20.00 cashback
Invitee rewarded with 500 points
>>> ledger.balance("c1", "cashback"), ledger.balance("c2", "points")
(Decimal('20'), Decimal('500'))
>>> twin = Customer("c3", "P1")
>>> decide_referral(programme, ann, twin, Referral("r9", "share-2026", "c1", "c3", "joined", at),
...                 view=ledger, catalog_version="v1").render("zh_CN")
'邀请无效：邀请人与被邀请人为同一证件号'
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cached_property

import attrs

from cardbenefits.errors import CatalogError, EngineError
from cardbenefits.facts import REFERRAL_STAGES, Customer, Referral
from cardbenefits.funnel.decide import CouponIssuer, lazy_record
from cardbenefits.funnel.reasons import Reason, render_money
from cardbenefits.ledger.entries import Charge, EntryBatch, EntryKind, LedgerEntry, is_money_asset
from cardbenefits.ledger.protocol import LedgerView
from cardbenefits.money import Money, to_decimal
from cardbenefits.risk import RiskPolicy, RiskSubject, assess

__all__ = [
    "Abuse",
    "ReferralDecision",
    "ReferralProgramme",
    "ReferralReward",
    "ReferralTrigger",
    "decide_referral",
]


class ReferralTrigger(enum.StrEnum):
    """The invitee stage that earns the rewards, in order."""

    JOINED = "joined"
    ACTIVATED = "activated"
    FIRST_SPEND = "first_spend"

    @property
    def rank(self) -> int:
        """0, 1, 2 in funnel order (matches ``cardbenefits.facts.REFERRAL_STAGES``)."""
        return REFERRAL_STAGES.index(self.value)


_TRIGGER_ZH = {ReferralTrigger.JOINED: "被邀请人参与", ReferralTrigger.ACTIVATED: "被邀请人激活",
               ReferralTrigger.FIRST_SPEND: "被邀请人首刷"}  # fmt: skip
_TRIGGER_EN = {ReferralTrigger.JOINED: "invitee joins", ReferralTrigger.ACTIVATED: "invitee activates",
               ReferralTrigger.FIRST_SPEND: "invitee's first spend"}  # fmt: skip


class Abuse(enum.StrEnum):
    """Which abuse check refused a referral."""

    SELF_INVITE = "self_invite"
    SAME_PERSON = "same_person"
    SAME_DEVICE = "same_device"
    ALREADY_INVITED = "already_invited"


def _units(value: object) -> Decimal:
    return to_decimal(value, path="units")


@attrs.frozen
class ReferralReward:
    """What one side gets: money (``amount``, for ``cashback``/``fund:*``) or ``units`` of another
    asset (``points``, ``miles``, ``coupon:<template>`` — coupons go through the coupon issuer).

    >>> ReferralReward("points", units=0)
    Traceback (most recent call last):
      ...
    cardbenefits.errors.CatalogError: units: a reward must be positive (got Decimal('0'))
    """

    asset: str
    amount: Money | None = attrs.field(default=None, kw_only=True)
    units: Decimal = attrs.field(default=Decimal(0), kw_only=True, converter=_units)

    def __attrs_post_init__(self) -> None:
        if is_money_asset(self.asset):
            if self.amount is None or self.amount.amount <= 0:
                raise CatalogError("a money reward needs a positive amount", path="amount", value=self.amount)
        elif self.amount is not None:
            raise CatalogError(f"{self.asset} is counted in units", path="amount", value=self.amount)
        elif self.units <= 0:
            raise CatalogError("a reward must be positive", path="units", value=self.units)

    def label(self, locale: str) -> str:
        """``¥20.00 cashback`` / ``500 points`` (the asset name is kept as is)."""
        # Every rewarded referral names its rewards in both locales: each is formatted once.
        return self._label_zh if locale.lower().startswith("zh") else self._label_en

    @cached_property
    def _label_zh(self) -> str:
        return self._label("zh_CN")

    @cached_property
    def _label_en(self) -> str:
        return self._label("en")

    def _label(self, locale: str) -> str:
        if self.amount is not None:
            return f"{render_money(self.amount, locale)} {self.asset}"
        return f"{self.units.normalize():f} {self.asset}"


def _check_id(_instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value or ":" in value or value != value.strip():
        raise CatalogError("must be a non-empty id without ':'", path=attribute.name, value=value)


def _optional_positive(_instance: object, attribute: attrs.Attribute[int | None], value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise CatalogError("must be a positive integer or null", path=attribute.name, value=value)


@attrs.frozen
class ReferralProgramme:
    """A share-and-invite programme (分享裂变活动).

    ``risk_policy`` names the catalog's risk policy its rewards are checked against (blacklist,
    velocity per inviter, one per person); without it a simulation uses its default policy.
    """

    id: str = attrs.field(validator=_check_id)
    name: str = attrs.field(validator=attrs.validators.instance_of(str))
    trigger: ReferralTrigger = attrs.field(kw_only=True, converter=ReferralTrigger)
    inviter_reward: ReferralReward | None = attrs.field(default=None, kw_only=True)
    invitee_reward: ReferralReward | None = attrs.field(default=None, kw_only=True)
    inviter_cap: int | None = attrs.field(default=None, kw_only=True, validator=_optional_positive)
    window_days: int | None = attrs.field(default=None, kw_only=True, validator=_optional_positive)
    starts_at: datetime | None = attrs.field(default=None, kw_only=True)
    ends_at: datetime | None = attrs.field(default=None, kw_only=True)
    risk_policy: str | None = attrs.field(default=None, kw_only=True)

    def __attrs_post_init__(self) -> None:
        if self.inviter_reward is None and self.invitee_reward is None:
            raise CatalogError(
                "a referral programme needs at least one reward", path="inviter_reward", value=None
            )

    def is_open(self, at: datetime) -> bool:
        """Whether ``at`` is inside the programme window (open-ended sides always are)."""
        return (self.starts_at is None or self.starts_at <= at) and (
            self.ends_at is None or at < self.ends_at
        )


@attrs.frozen
class ReferralDecision:
    """The answer to one referral event.

    ``accepted`` is false for an abuse refusal (``abuse`` says which check; ``batch`` is
    ``None``). An accepted event always records the stage; ``rewarded`` lists the sides
    (``inviter``/``invitee``) that got a reward in this decision.
    """

    programme_id: str
    event_id: str
    accepted: bool
    reasons: tuple[Reason, ...]
    batch: EntryBatch | None = None
    rewarded: tuple[str, ...] = ()
    abuse: Abuse | None = None

    def render(self, locale: str = "zh_CN") -> str:
        """One line per reason."""
        return "\n".join(reason.render(locale) for reason in self.reasons)


def _abuse(inviter: Customer, invitee: Customer, event: Referral) -> tuple[Abuse, Reason] | None:
    if inviter.id == invitee.id:
        return Abuse.SELF_INVITE, Reason.of("referral_self_invite")
    if inviter.person_id == invitee.person_id:
        return Abuse.SAME_PERSON, Reason.of("referral_same_person")
    invitee_devices = {d for d in (event.device_id, invitee.device_id) if d}
    if inviter.device_id and inviter.device_id in invitee_devices:
        return Abuse.SAME_DEVICE, Reason.of("referral_same_device", device=inviter.device_id)
    return None


def _stage_asset(programme: ReferralProgramme, stage: str) -> str:
    return f"referral:{programme.id}:{stage}"


def _seen_counter(programme: ReferralProgramme, invitee: Customer) -> str:
    """Counts the stages recorded for an invitee person: 0 means no binding, without a scan."""
    return f"referral:{programme.id}:seen:{invitee.person_id}"


def _binding(programme: ReferralProgramme, invitee: Customer, view: LedgerView) -> LedgerEntry | None:
    """The first recorded stage of this invitee *person* in the programme (who invited them).

    Most events are an invitee's first: the person's stage counter says so without reading
    entries. Otherwise the invitee's own entries (indexed) are read first, and only a binding
    made through another customer of the same person needs the programme's entries.
    """
    if view.usage(_seen_counter(programme, invitee)) <= 0:
        return None
    prefix = f"referral:{programme.id}:"
    person = invitee.person_id
    for customer_id in (invitee.id, None):
        for entry in view.entries(customer_id=customer_id, programme_id=programme.id):
            if entry.meta.get("referral.invitee_person") == person and entry.asset.startswith(prefix):
                return entry
    return None


def _reward_entries(
    programme: ReferralProgramme,
    side: str,
    customer: Customer,
    reward: ReferralReward,
    at: datetime,
    catalog_version: str,
    event: Referral,
    charges: Sequence[Charge],
    issuer: CouponIssuer | None,
    view: LedgerView,
) -> list[LedgerEntry]:
    meta = {"referral.side": side, "referral.invitee": event.invitee_id, "referral.inviter": event.inviter_id}
    if reward.asset.startswith("coupon:"):
        if issuer is None:
            raise EngineError("a coupon reward needs a coupon issuer", path="issuer", value=reward.asset)
        issued = list(
            issuer(reward.asset.split(":", 1)[1], customer_id=customer.id, person_id=customer.person_id,
                   programme_id=programme.id, coupon_id=f"{programme.id}:{event.id}:{side}", at=at,
                   catalog_version=catalog_version, view=view, record=lazy_record(customer))
        )  # fmt: skip
        if issued:
            first = issued[0]
            issued[0] = first.amended(charges=(*first.charges, *charges), meta={**first.meta, **meta})
        return issued
    return [
        LedgerEntry(
            kind=EntryKind.GRANT, customer_id=customer.id, person_id=customer.person_id,
            programme_id=programme.id, asset=reward.asset, amount=reward.amount,
            units=reward.units if reward.amount is None else 0, at=at, catalog_version=catalog_version,
            reason=f"referral_{side}", ref=event.id, charges=tuple(charges), meta=meta,
        )
    ]  # fmt: skip


def _elapsed(start: datetime, end: datetime) -> timedelta:
    # Exact for aware datetimes of any zone; avoids pendulum's Interval typing.
    return timedelta(seconds=end.timestamp() - start.timestamp())


def decide_referral(
    programme: ReferralProgramme,
    inviter: Customer,
    invitee: Customer,
    event: Referral,
    *,
    view: LedgerView,
    catalog_version: str,
    risk: RiskPolicy | None = None,
    issuer: CouponIssuer | None = None,
) -> ReferralDecision:
    """Decide one :class:`~cardbenefits.facts.Referral` event (pure; apply ``batch`` yourself)."""
    if event.programme_id != programme.id:
        raise EngineError(f"event is for programme {event.programme_id!r}", path="referral.programme_id",
                          value=event.programme_id)  # fmt: skip
    if (event.inviter_id, event.invitee_id) != (inviter.id, invitee.id):
        raise EngineError(
            "inviter/invitee do not match the event", path="referral.inviter_id", value=inviter.id
        )

    def refuse(abuse: Abuse | None, reason: Reason) -> ReferralDecision:
        return ReferralDecision(programme.id, event.id, False, (reason,), abuse=abuse)

    found = _abuse(inviter, invitee, event)
    if found is not None:
        return refuse(*found)
    binding = _binding(programme, invitee, view)
    if binding is not None and binding.meta.get("referral.inviter_person") != inviter.person_id:
        owner = binding.meta.get("referral.inviter", "?")
        return refuse(Abuse.ALREADY_INVITED, Reason.of("referral_already_invited", inviter=owner))
    if not programme.is_open(event.at):
        return refuse(
            None, Reason.of("referral_not_triggered", trigger="活动时间外", trigger_en="outside the window")
        )

    stage = ReferralTrigger(event.stage)
    joined_at = binding.at if binding is not None else event.at
    meta = {
        "referral.stage": str(stage),
        "referral.inviter": inviter.id,
        "referral.inviter_person": inviter.person_id,
        "referral.invitee_person": invitee.person_id,
    }
    seen = Charge(_seen_counter(programme, invitee), 1)
    key = f"referral:{programme.id}:{event.id}"
    # numbered here (the stage marker is always first), so the batch does not copy it to number it
    marker = LedgerEntry(
        kind=EntryKind.GRANT, customer_id=invitee.id, person_id=invitee.person_id, programme_id=programme.id,
        asset=_stage_asset(programme, str(stage)), units=1, at=event.at, catalog_version=catalog_version,
        reason=f"referral_{stage}", ref=event.id, charges=(seen,), meta=meta, entry_id=f"{key}#0",
    )  # fmt: skip
    entries: list[LedgerEntry] = [marker]
    reasons: list[Reason] = []
    rewarded: list[str] = []
    once = f"referral:{programme.id}:invitee:{invitee.person_id}"
    trigger = programme.trigger
    if stage.rank < trigger.rank:
        reasons.append(
            Reason.of("referral_not_triggered", trigger=_TRIGGER_ZH[trigger], trigger_en=_TRIGGER_EN[trigger])
        )
    elif view.usage(once) >= 1:
        pass  # already rewarded for this invitee: record progress only
    elif programme.window_days is not None and _elapsed(joined_at, event.at) > timedelta(
        days=programme.window_days
    ):
        reasons.append(Reason.of("referral_window", days=programme.window_days))
    else:
        risk_charges: tuple[Charge, ...] = ()
        if risk is not None:
            subject = RiskSubject(inviter.id, person_id=inviter.person_id, tags=inviter.tags,
                                  device_id=inviter.device_id)  # fmt: skip
            check = assess(risk, subject, action=programme.id, at=event.at, view=view)
            if not check.allowed:
                assert check.reason is not None
                return ReferralDecision(programme.id, event.id, False, (check.reason,))
            risk_charges = check.charges
        entries[0] = marker.amended(charges=(seen, Charge(once, 1, 1), *risk_charges))
        if programme.invitee_reward is not None:
            entries += _reward_entries(programme, "invitee", invitee, programme.invitee_reward, event.at,
                                       catalog_version, event, (), issuer, view)  # fmt: skip
            rewarded.append("invitee")
        if programme.inviter_reward is not None:
            cap = Charge(f"referral:{programme.id}:inviter:{inviter.person_id}", 1, programme.inviter_cap)
            if cap.limit is not None and view.usage(cap.counter) + 1 > cap.limit:
                reasons.append(Reason.of("referral_inviter_cap", limit=cap.limit))
            else:
                entries[1:1] = _reward_entries(
                    programme, "inviter", inviter, programme.inviter_reward, event.at, catalog_version, event,
                    (cap,), issuer, view,
                )  # fmt: skip
                rewarded.insert(0, "inviter")
        for side in rewarded:
            reward = programme.inviter_reward if side == "inviter" else programme.invitee_reward
            assert reward is not None
            reasons.append(Reason.of("referral_rewarded", side=side, reward=reward.label("zh_CN"),
                                     reward_en=reward.label("en")))  # fmt: skip
    batch = EntryBatch.of(key, entries)
    return ReferralDecision(programme.id, event.id, True, tuple(reasons), batch, tuple(rewarded))
