"""Campaign risk controls (活动风险): blacklist tags, velocity limits, one claim per person.

A :class:`RiskPolicy` is checked before a claim (a draw, a coupon claim, a referral reward).
:func:`assess` is pure: it reads counters through a ledger view and returns a
:class:`RiskCheck` that either names the control that fired (:class:`Control`) or carries
the ledger :class:`~cardbenefits.ledger.Charge` s the claim must append. The charges have
limits, so the ledger enforces velocity and one-per-person atomically even when concurrent
writers raced past the pre-check; :func:`control_of_counter` maps a ledger refusal back to
the control.

Velocity windows are fixed calendar buckets in the policy zone (Beijing by default): an
``hour`` (09:00–10:00), a ``day`` (00:00–24:00), an ISO ``week`` (Monday first) or a
``month``. A control scoped to ``device`` applies only when the claim names a device.

>>> from decimal import Decimal
>>> import pendulum
>>> from cardbenefits.ledger.memory import MemoryLedger
>>> policy = RiskPolicy(
...     "draw-risk",
...     blacklist_tags={"fraud_suspect"},
...     velocity=(VelocityLimit(Scope.DEVICE, 3, Window.DAY),),
...     one_per_person=True,
... )
>>> at = pendulum.datetime(2026, 11, 23, 9, tz="Asia/Shanghai")
>>> alice = RiskSubject("c1", person_id="P1", tags={"vip"}, device_id="dev-9")
>>> check = assess(policy, alice, action="e-life-eat", at=at, view=MemoryLedger())
>>> check.allowed, [c.counter for c in check.charges]
(True, ['risk:draw-risk:e-life-eat:person:P1', 'risk:draw-risk:e-life-eat:device:dev-9:2026-11-23'])
>>> mallory = RiskSubject("c2", person_id="P2", tags={"fraud_suspect"})
>>> refused = assess(policy, mallory, action="e-life-eat", at=at, view=MemoryLedger())
>>> refused.control, refused.render("en")
(<Control.BLACKLIST: 'blacklist'>, 'Refused by risk control "blacklist": customer has tag(s) fraud_suspect')
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

import attrs
import pendulum

from cardbenefits.errors import CatalogError
from cardbenefits.funnel.reasons import Reason
from cardbenefits.ledger.entries import Charge
from cardbenefits.ledger.protocol import LedgerView

__all__ = [
    "Control",
    "RiskCheck",
    "RiskPolicy",
    "RiskSubject",
    "Scope",
    "VelocityLimit",
    "Window",
    "assess",
    "control_of_counter",
]


class Control(enum.StrEnum):
    """The risk control that refused a claim."""

    BLACKLIST = "blacklist"
    """The customer carries a blacklisted tag (黑名单)."""
    ONE_PER_PERSON = "one_per_person"
    """The person (证件号) already claimed, on any of their cards (每人限一次)."""
    VELOCITY = "velocity"
    """Too many claims by one customer or device in a window (频次限制)."""


class Scope(enum.StrEnum):
    """Whose claims a velocity limit counts."""

    CUSTOMER = "customer"
    DEVICE = "device"
    PERSON = "person"


class Window(enum.StrEnum):
    """A fixed calendar bucket in the policy zone."""

    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"

    def bucket(self, at: datetime, zone: str) -> str:
        """The bucket key of ``at``.

        >>> at = pendulum.datetime(2026, 11, 22, 16, 30, tz="UTC")   # 00:30 Monday 23rd, Beijing
        >>> [w.bucket(at, "Asia/Shanghai") for w in Window]
        ['2026-11-23T00', '2026-11-23', '2026-W48', '2026-11']
        """
        local = pendulum.instance(at).in_timezone(zone)
        if self is Window.HOUR:
            return f"{local.to_date_string()}T{local.hour:02d}"
        if self is Window.DAY:
            return local.to_date_string()
        if self is Window.WEEK:
            year, week, _day = local.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{local.year:04d}-{local.month:02d}"


_WINDOW_ZH = {Window.HOUR: "1 小时", Window.DAY: "当天", Window.WEEK: "本周", Window.MONTH: "本月"}
_WINDOW_EN = {
    Window.HOUR: "the hour",
    Window.DAY: "the day",
    Window.WEEK: "the week",
    Window.MONTH: "the month",
}
_SCOPE_ZH = {Scope.CUSTOMER: "客户", Scope.DEVICE: "设备", Scope.PERSON: "证件号"}


def _positive(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise CatalogError("must be a positive integer", path=attribute.name, value=value)


@attrs.frozen
class VelocityLimit:
    """At most ``limit`` claims per ``scope`` (customer, device or person) per ``window``.

    >>> VelocityLimit("device", 3, "day")
    VelocityLimit(scope=<Scope.DEVICE: 'device'>, limit=3, window=<Window.DAY: 'day'>)
    """

    scope: Scope = attrs.field(converter=Scope)
    limit: int = attrs.field(validator=_positive)
    window: Window = attrs.field(converter=Window)


def _check_id(_instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value or ":" in value or value != value.strip():
        raise CatalogError("must be a non-empty id without ':'", path=attribute.name, value=value)


def _tags(value: Iterable[str]) -> frozenset[str]:
    if isinstance(value, str):
        raise CatalogError("tags must be a collection of strings, not one string", path="tags", value=value)
    return frozenset(value)


def _velocity(value: Iterable[VelocityLimit]) -> tuple[VelocityLimit, ...]:
    result = tuple(value)
    for index, item in enumerate(result):
        if not isinstance(item, VelocityLimit):
            raise CatalogError("must be a VelocityLimit", path=f"velocity[{index}]", value=item)
    return result


def _zone(_instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    try:
        pendulum.timezone(value)
    except Exception:  # pendulum raises several kinds for unknown zones
        raise CatalogError("unknown time zone", path=attribute.name, value=value) from None


@attrs.frozen
class RiskPolicy:
    """A risk policy (活动风险策略): checked in order blacklist → one per person → velocity."""

    id: str = attrs.field(validator=_check_id)
    blacklist_tags: frozenset[str] = attrs.field(default=frozenset(), kw_only=True, converter=_tags)
    velocity: tuple[VelocityLimit, ...] = attrs.field(default=(), kw_only=True, converter=_velocity)
    one_per_person: bool = attrs.field(default=False, kw_only=True)
    zone: str = attrs.field(default="Asia/Shanghai", kw_only=True, validator=_zone)


@attrs.frozen
class RiskSubject:
    """Who claims: customer id, person id (证件号, shared by all their cards), tags, device.

    Without a ``person_id`` the customer id stands for the person.
    """

    customer_id: str = attrs.field(validator=_check_id)
    person_id: str | None = attrs.field(default=None, kw_only=True)
    tags: frozenset[str] = attrs.field(default=frozenset(), kw_only=True, converter=_tags)
    device_id: str | None = attrs.field(default=None, kw_only=True)

    @property
    def person(self) -> str:
        """The person key used by person-scoped controls."""
        return self.person_id or f"customer-{self.customer_id}"


@attrs.frozen
class RiskCheck:
    """The verdict of :func:`assess`.

    ``allowed`` claims carry ``charges`` to append with the claim; a refusal names the
    ``control`` that fired and why (``reason``); ``fired`` lists every control that would
    have refused, first one first.
    """

    policy_id: str
    allowed: bool
    charges: tuple[Charge, ...] = ()
    control: Control | None = None
    reason: Reason | None = None
    fired: tuple[Control, ...] = ()

    def render(self, locale: str = "zh_CN") -> str:
        """The verdict as text."""
        if self.reason is None:
            return Reason.of("risk_passed", policy=self.policy_id).render(locale)
        return self.reason.render(locale)


def _prefix(policy: RiskPolicy, action: str) -> str:
    return f"risk:{policy.id}:{action}"


def _subject_key(limit: VelocityLimit, subject: RiskSubject) -> str | None:
    if limit.scope is Scope.CUSTOMER:
        return subject.customer_id
    if limit.scope is Scope.PERSON:
        return subject.person
    return subject.device_id


def assess(
    policy: RiskPolicy, subject: RiskSubject, *, action: str, at: datetime, view: LedgerView
) -> RiskCheck:
    """Check one claim of ``subject`` under ``policy``; ``action`` scopes the counters (a campaign id).

    Pure: reads counters from ``view``, never writes. Append :attr:`RiskCheck.charges` with the
    claim's entries so the ledger enforces the limits atomically.
    """
    _check_id(None, attrs.fields(RiskPolicy).id, action)
    fired: list[tuple[Control, Reason]] = []
    bad_tags = sorted(policy.blacklist_tags & subject.tags)
    if bad_tags:
        fired.append((Control.BLACKLIST, Reason.of("risk_blacklist", tags=", ".join(bad_tags))))
    prefix = _prefix(policy, action)
    charges: list[Charge] = []
    if policy.one_per_person:
        counter = f"{prefix}:person:{subject.person}"
        charges.append(Charge(counter, 1, 1))
        if view.usage(counter) >= 1:
            fired.append((Control.ONE_PER_PERSON, Reason.of("risk_one_per_person", person=subject.person)))
    for limit in policy.velocity:
        key = _subject_key(limit, subject)
        if key is None:
            continue  # a device limit cannot count a claim that names no device
        counter = f"{prefix}:{limit.scope}:{key}:{limit.window.bucket(at, policy.zone)}"
        charges.append(Charge(counter, 1, limit.limit))
        usage = view.usage(counter)
        if usage + 1 > limit.limit:
            fired.append((Control.VELOCITY, _velocity_reason(limit, key, usage)))
    if fired:
        control, reason = fired[0]
        return RiskCheck(policy.id, False, control=control, reason=reason, fired=tuple(c for c, _r in fired))
    return RiskCheck(policy.id, True, charges=tuple(charges))


def _velocity_reason(limit: VelocityLimit, key: str, usage: Decimal) -> Reason:
    return Reason.of(
        "risk_velocity",
        scope=_SCOPE_ZH[limit.scope],
        scope_en=str(limit.scope),
        subject=key,
        window=_WINDOW_ZH[limit.window],
        window_en=_WINDOW_EN[limit.window],
        usage=usage,
        limit=limit.limit,
    )


def control_of_counter(counter: str) -> Control | None:
    """Which control a risk counter belongs to (to explain a ledger refusal), else ``None``.

    >>> control_of_counter("risk:p:camp:device:dev-9:2026-11-23"), control_of_counter("risk:p:camp:person:P1")
    (<Control.VELOCITY: 'velocity'>, <Control.ONE_PER_PERSON: 'one_per_person'>)
    >>> control_of_counter("stock:prize:pool:big") is None
    True
    """
    parts = counter.split(":")
    if len(parts) < 5 or parts[0] != "risk":
        return None
    if parts[3] == "person" and len(parts) == 5:
        return Control.ONE_PER_PERSON
    return Control.VELOCITY
