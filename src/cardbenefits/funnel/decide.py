"""Funnel decisions: pure functions from (campaign, entrant, event, ledger view, instant) to a decision.

Each stage has one decision function — :func:`decide_follow`, :func:`decide_draw`,
:func:`decide_pay` — returning a :class:`FunnelDecision`: accepted or refused, the
participant's state before and after, the reasons (data, rendered in ``zh_CN``/``en``) and
the :class:`~cardbenefits.ledger.EntryBatch` to apply. Nothing is written here; the caller
applies the batch (or uses :func:`run_draw`, which also handles a
ledger refusal caused by a concurrent writer).

Ledger shape (one batch per decision, keys derived from the event so replays are no-ops):

- follow: key ``funnel:<campaign>:follow:<customer>``; one ``grant`` of asset
  ``funnel:<campaign>:follow`` (1 unit, a zero-value stage marker; meta ``funnel.channel``).
- draw: key ``funnel:<campaign>:draw:<request>``; a ``funnel:<campaign>:draw`` marker whose
  charges hold the per-person limits (``draws:<campaign>:<person>`` and
  ``draws:<campaign>:<person>:<day>``), the risk policy's counters and, for a win, the prize
  stock (``stock:prize:<pool>:<prize>`` and ``stock:prize:<pool>:<prize>:<day>``), all with
  their limits; meta records the random number and the outcome (see
  :meth:`~cardbenefits.funnel.draws.DrawOutcome.meta`). A win adds the coupon issue entries
  from the coupon issuer in the same batch, so stock is never taken without a coupon, nor a
  coupon issued without stock.
- pay: key ``funnel:<campaign>:pay:<redemption entry id>``; a ``funnel:<campaign>:pay``
  marker referring to the redemption.

The participant state is folded from these markers through the state machine
(:func:`participant`).

>>> import pendulum
>>> from cardbenefits.coupons import CouponTemplate, InstantDiscount
>>> from cardbenefits.funnel.campaign import Prize, PrizePool
>>> from cardbenefits.ledger.memory import MemoryLedger
>>> from cardbenefits.money import Money
>>> campaign = FunnelCampaign(
...     "e-life", "e生活", seed="s3cret",
...     pool=PrizePool("p", [Prize("ljj5", "5元立减金", coupon_template="ljj5", weight=1)]),
...     starts_at=pendulum.datetime(2026, 11, 1, tz="Asia/Shanghai"),
...     ends_at=pendulum.datetime(2026, 12, 1, tz="Asia/Shanghai"))
>>> ljj5 = CouponTemplate(id="ljj5", name="5元立减金", effect=InstantDiscount(Money.of(5)))
>>> issuer = WalletIssuer({"ljj5": ljj5})
>>> ledger, ann = MemoryLedger(), Entrant("c1", "P1")
>>> at = pendulum.datetime(2026, 11, 23, 9, tz="Asia/Shanghai")
>>> print(decide_draw(campaign, ann, request_id="r1", at=at, view=ledger, issuer=issuer,
...                   catalog_version="v1").render("en"))
Participant is in state "new": event "draw" is not allowed (allowed: follow)
>>> followed = decide_follow(campaign, ann, channel="app", at=at, view=ledger, catalog_version="v1")
>>> _ = ledger.apply(followed.batch)
>>> won = run_draw(ledger, campaign, ann, request_id="r1", at=at, issuer=issuer, catalog_version="v1")
>>> won.won, ledger.balance("c1", "coupon:ljj5"), participant(campaign, "c1", ledger).state
('ljj5', Decimal('1'), <ParticipantState.DREW: 'drew'>)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Protocol

import attrs
import pendulum

from cardbenefits.coupons.operations import issue_coupon
from cardbenefits.coupons.pools import CouponPool
from cardbenefits.coupons.templates import CouponTemplate
from cardbenefits.errors import EngineError
from cardbenefits.facts import Customer, DrawRequest, Follow, customer_record
from cardbenefits.funnel.campaign import FunnelCampaign, Prize, Stage
from cardbenefits.funnel.draws import (
    ALGORITHM,
    DrawOutcome,
    choose,
    draw_number,
    prize_counters,
)
from cardbenefits.funnel.reasons import Reason
from cardbenefits.funnel.state import (
    FunnelEvent,
    FunnelStateError,
    ParticipantState,
    allowed,
    transition,
)
from cardbenefits.ledger.entries import Charge, EntryBatch, EntryKind, LedgerEntry
from cardbenefits.ledger.protocol import Ledger, LedgerView
from cardbenefits.money import Money
from cardbenefits.risk import RiskPolicy, RiskSubject, assess

__all__ = [
    "CouponIssuer",
    "Entrant",
    "FunnelDecision",
    "Participant",
    "WalletIssuer",
    "decide_draw",
    "decide_follow",
    "decide_pay",
    "draw_counters",
    "lazy_record",
    "on_draw_request",
    "on_follow",
    "participant",
    "run_draw",
    "stage_asset",
]

_STATE_ZH = {
    ParticipantState.NEW: "未参与",
    ParticipantState.FOLLOWED: "已关注",
    ParticipantState.DREW: "已抽奖",
    ParticipantState.PAID: "已支付消费",
}
_EVENT_ZH = {FunnelEvent.FOLLOW: "关注", FunnelEvent.DRAW: "抽奖", FunnelEvent.PAY: "支付消费"}
_STAGE_ZH = {Stage.FOLLOW: "关注", Stage.DRAW: "抽奖领券", Stage.PAY: "支付消费"}


class CouponIssuer(Protocol):
    """The coupon package's issue operation, as the funnel calls it.

    Returns the ledger entries that put one coupon of ``template_id`` in the customer's
    wallet (``issue`` entries, with any charges the coupon template itself needs). The funnel
    puts them in the draw's batch, so they are applied atomically with the prize stock.
    :class:`WalletIssuer` adapts :func:`cardbenefits.coupons.issue_coupon` to it.
    """

    def __call__(
        self,
        template_id: str,
        *,
        customer_id: str,
        person_id: str | None,
        programme_id: str,
        coupon_id: str,
        at: datetime,
        catalog_version: str,
        view: LedgerView,
        record: Mapping[str, object],
    ) -> Sequence[LedgerEntry]:
        """Entries issuing the coupon; empty when the coupon cannot be issued (then the draw
        treats the prize as out of stock)."""
        ...


class _LazyRecord(Mapping[str, object]):
    """``customer_record(customer)``, built on first read (most stages and coupons have no rule)."""

    __slots__ = ("_customer", "_record")

    def __init__(self, customer: Customer) -> None:
        self._customer = customer
        self._record: dict[str, object] | None = None

    def _data(self) -> dict[str, object]:
        record = self._record
        if record is None:
            record = self._record = customer_record(self._customer)
        return record

    def __getitem__(self, key: str) -> object:
        return self._data()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data())

    def __len__(self) -> int:
        return len(self._data())

    def __eq__(self, other: object) -> bool:  # (so, like a dict, not hashable)
        return self._data() == other

    def __repr__(self) -> str:
        return repr(self._data())


def lazy_record(customer: Customer) -> Mapping[str, object]:
    """The customer's fact record (:func:`cardbenefits.facts.customer_record`), built on first read.

    A funnel event or referral reward needs the record only when a stage rule, a coupon
    template's eligibility rule or a risk check reads it; building it for every event would
    cost more than the rest of a refused follow.

    >>> from cardbenefits.facts import Customer
    >>> record = lazy_record(Customer("c1", "p1", age=30))
    >>> record["age"], record == customer_record(Customer("c1", "p1", age=30))
    (30, True)
    """
    return _LazyRecord(customer)


@attrs.frozen
class WalletIssuer:
    """The coupon package's :func:`~cardbenefits.coupons.issue_coupon` as a :class:`CouponIssuer`.

    ``templates`` maps template ids to templates; ``pools`` maps a template id to the coupon
    pool to issue from. A template without a pool is issued from an unlimited pool named after
    the campaign: the prize's stock (on the prize pool) is then the only stock. A refusal by the
    coupon side (its pool empty, its eligibility rule failing) returns no entries.
    """

    templates: Mapping[str, CouponTemplate]
    pools: Mapping[str, CouponPool] = attrs.field(factory=dict)

    def __call__(
        self,
        template_id: str,
        *,
        customer_id: str,
        person_id: str | None,
        programme_id: str,
        coupon_id: str,
        at: datetime,
        catalog_version: str,
        view: LedgerView,
        record: Mapping[str, object],
    ) -> Sequence[LedgerEntry]:
        """Issue one coupon of ``template_id`` (see :class:`CouponIssuer`)."""
        template = self.templates.get(template_id)
        if template is None:
            raise EngineError(
                "prize names an unknown coupon template", path="coupon_template", value=template_id
            )
        pool = self.pools.get(template_id) or CouponPool(id=programme_id, template_id=template_id)
        decision = issue_coupon(
            pool, template, customer_id=customer_id, request_id=coupon_id, at=at, view=view,
            record=record if template.eligibility is not None else None, catalog_version=catalog_version,
            coupon_id=coupon_id,
        )  # fmt: skip
        return decision.batch.entries if decision.batch is not None else ()


@attrs.frozen
class Entrant:
    """Who takes part: the customer id, the person (证件号) behind their cards, the fact record
    (from ``cardbenefits.facts.customer_record``) and the device used, if known."""

    customer_id: str
    person_id: str | None = None
    record: Mapping[str, object] = attrs.field(factory=dict, eq=False, hash=False)
    device_id: str | None = None

    @classmethod
    def of(cls, customer: Customer, *, device_id: str | None = None) -> Entrant:
        """The entrant for a :class:`~cardbenefits.facts.Customer` (record from ``customer_record``).

        ``device_id`` (the device of the event) overrides the customer's usual device.
        """
        return cls(customer.id, customer.person_id, lazy_record(customer), device_id or customer.device_id)

    @property
    def person(self) -> str:
        """The key per-person limits count by (the person id, else the customer id)."""
        return self.person_id or f"customer-{self.customer_id}"

    @property
    def tags(self) -> frozenset[str]:
        """The customer's tags from the record (empty when unknown)."""
        tags = self.record.get("tags")
        return (
            frozenset(str(t) for t in tags)
            if isinstance(tags, (set, frozenset, list, tuple))
            else frozenset()
        )

    def risk_subject(self) -> RiskSubject:
        """The entrant as a risk subject."""
        return RiskSubject(
            self.customer_id, person_id=self.person_id, tags=self.tags, device_id=self.device_id
        )


@attrs.frozen
class Participant:
    """A participant's funnel position, folded from the ledger's stage markers."""

    customer_id: str
    state: ParticipantState = ParticipantState.NEW
    channel: str | None = None
    followed_at: datetime | None = None
    draws: int = 0
    wins: int = 0
    paid_at: datetime | None = None


@attrs.frozen
class FunnelDecision:
    """The funnel engine's answer to one event.

    ``batch`` is what to apply (``None`` for a refusal: nothing to record). ``outcome`` holds
    the audited draw for draw decisions that reached the pool.
    """

    campaign_id: str
    customer_id: str
    event: FunnelEvent
    accepted: bool
    state_before: ParticipantState
    state_after: ParticipantState
    reasons: tuple[Reason, ...]
    batch: EntryBatch | None = None
    outcome: DrawOutcome | None = None
    replayed: bool = False

    @property
    def won(self) -> str | None:
        """The prize id won by an accepted draw (``None`` for the blank or a refusal)."""
        return self.outcome.prize_id if self.accepted and self.outcome is not None else None

    def render(self, locale: str = "zh_CN") -> str:
        """One line per reason."""
        return "\n".join(reason.render(locale) for reason in self.reasons)


def stage_asset(campaign: FunnelCampaign, stage: Stage) -> str:
    """The ledger asset of a stage marker.

    >>> from cardbenefits.funnel.campaign import Prize, PrizePool
    >>> import pendulum
    >>> c = FunnelCampaign("c1", "c", seed="s", pool=PrizePool("p", [Prize("a", "a", coupon_template="a",
    ...     weight=1)]), starts_at=pendulum.datetime(2026, 1, 1), ends_at=pendulum.datetime(2027, 1, 1))
    >>> stage_asset(c, Stage.DRAW)
    'funnel:c1:draw'
    """
    return _stage_asset(campaign.id, stage)


def _stage_asset(campaign_id: str, stage: Stage) -> str:
    return f"funnel:{campaign_id}:{stage}"


@lru_cache(maxsize=256)
def _stage_events(campaign_id: str) -> dict[str, FunnelEvent]:
    """The funnel event of each stage marker asset of a campaign (read-only: shared by calls)."""
    return {_stage_asset(campaign_id, stage): FunnelEvent(stage) for stage in Stage}


def _stage_markers(
    campaign: FunnelCampaign, customer_id: str, view: LedgerView
) -> Iterator[tuple[FunnelEvent, LedgerEntry]]:
    """The customer's stage markers in ``campaign`` with their funnel events, in ledger order."""
    events = _stage_events(campaign.id)
    for entry in view.entries(customer_id=customer_id, programme_id=campaign.id):
        event = events.get(entry.asset)
        if event is not None and entry.kind is EntryKind.GRANT:
            yield event, entry


def _state(campaign: FunnelCampaign, customer_id: str, view: LedgerView) -> ParticipantState:
    """``participant(...).state`` without folding the rest (what every decision reads first)."""
    state = ParticipantState.NEW
    for event, _entry in _stage_markers(campaign, customer_id, view):
        state = transition(state, event)
    return state


def participant(campaign: FunnelCampaign, customer_id: str, view: LedgerView) -> Participant:
    """Fold the customer's stage markers in ``campaign`` through the state machine."""
    state = ParticipantState.NEW
    channel: str | None = None
    followed_at: datetime | None = None
    paid_at: datetime | None = None
    draws = wins = 0
    for event, entry in _stage_markers(campaign, customer_id, view):
        state = transition(state, event)
        if event is FunnelEvent.FOLLOW:
            channel = entry.meta.get("funnel.channel") or None
            followed_at = entry.at
        elif event is FunnelEvent.DRAW:
            draws += 1
            wins += 1 if entry.meta.get("draw.prize") else 0
        elif paid_at is None:
            paid_at = entry.at
    return Participant(customer_id, state, channel, followed_at, draws, wins, paid_at)


def _state_refusal(state: ParticipantState, event: FunnelEvent) -> Reason:
    return Reason.of(
        "state_refused",
        state=_STATE_ZH[state],
        state_en=str(state),
        event=_EVENT_ZH[event],
        event_en=str(event),
        allowed="、".join(_EVENT_ZH[e] for e in allowed(state)) or "无",
        allowed_en=", ".join(str(e) for e in allowed(state)) or "none",
    )


# Refusals outside a campaign's window all give the same reason: kept per campaign object (held
# here, so an id is never matched by another object at a reused address).
_CLOSED: dict[int, tuple[FunnelCampaign, Reason]] = {}


def _closed_reason(campaign: FunnelCampaign) -> Reason:
    found = _CLOSED.get(id(campaign))
    if found is None or found[0] is not campaign:
        if len(_CLOSED) >= 256:
            _CLOSED.clear()
        starts, ends = campaign.day_span
        reason = Reason.of(
            "campaign_closed",
            campaign=campaign.label("zh_CN"),
            campaign_en=campaign.label("en"),
            starts=starts,
            ends=ends,
        )
        found = _CLOSED[id(campaign)] = (campaign, reason)
    return found[1]


def _gate(
    campaign: FunnelCampaign, entrant: Entrant, event: FunnelEvent, state: ParticipantState, at: datetime
) -> Reason | None:
    """The first reason the event cannot proceed, in the order: window, state, eligibility."""
    if not campaign.is_open(at):
        return _closed_reason(campaign)
    try:
        transition(state, event)
    except FunnelStateError:
        return _state_refusal(state, event)
    stage = Stage(event)
    rule = campaign.eligibility.get(stage)
    if rule is not None and not rule.holds(entrant.record, pendulum.instance(at)):
        return Reason.of("stage_ineligible", stage=_STAGE_ZH[stage], stage_en=str(stage), rule=rule.text)
    return None


def _refuse(
    campaign: FunnelCampaign, entrant: Entrant, event: FunnelEvent, state: ParticipantState, *reasons: Reason
) -> FunnelDecision:
    return FunnelDecision(campaign.id, entrant.customer_id, event, False, state, state, tuple(reasons))


def _marker(
    campaign: FunnelCampaign,
    entrant: Entrant,
    stage: Stage,
    at: datetime,
    catalog_version: str,
    *,
    key: str,
    reason: str,
    ref: str | None = None,
    charges: Sequence[Charge] = (),
    meta: Mapping[str, str] | None = None,
) -> LedgerEntry:
    """The stage marker, the first entry of batch ``key`` (numbered here: no renumbering copy)."""
    return LedgerEntry(
        kind=EntryKind.GRANT,
        customer_id=entrant.customer_id,
        person_id=entrant.person_id,
        programme_id=campaign.id,
        asset=stage_asset(campaign, stage),
        units=1,
        at=at,
        catalog_version=catalog_version,
        reason=reason,
        ref=ref,
        charges=tuple(charges),
        meta={"funnel.stage": str(stage), "funnel.day": campaign.day(at), **(meta or {})},
        entry_id=f"{key}#0",
    )


def decide_follow(
    campaign: FunnelCampaign,
    entrant: Entrant,
    *,
    channel: str,
    at: datetime,
    view: LedgerView,
    catalog_version: str,
    event_id: str | None = None,
) -> FunnelDecision:
    """客户关注: the entrant opts in through ``channel``.

    Refused outside the campaign window, when already following (the state machine), for a
    channel the campaign does not use, or when the follow-stage rule fails.
    """
    state = _state(campaign, entrant.customer_id, view)
    reason = _gate(campaign, entrant, FunnelEvent.FOLLOW, state, at)
    if reason is None and campaign.channels is not None and channel not in campaign.channels:
        reason = Reason.of("channel_refused", channel=channel, channels=", ".join(sorted(campaign.channels)))
    if reason is not None:
        return _refuse(campaign, entrant, FunnelEvent.FOLLOW, state, reason)
    key = f"funnel:{campaign.id}:follow:{entrant.customer_id}"
    entry = _marker(
        campaign, entrant, Stage.FOLLOW, at, catalog_version, key=key, reason="followed", ref=event_id,
        meta={"funnel.channel": channel},
    )  # fmt: skip
    batch = EntryBatch.of(key, [entry])
    after = transition(state, FunnelEvent.FOLLOW)
    return FunnelDecision(
        campaign.id, entrant.customer_id, FunnelEvent.FOLLOW, True, state, after,
        (Reason.of("followed", channel=channel),), batch,
    )  # fmt: skip


def draw_counters(campaign: FunnelCampaign, entrant: Entrant, at: datetime) -> tuple[Charge, ...]:
    """The per-person draw-limit charges of one draw (per campaign, per day in the campaign zone)."""
    base = f"draws:{campaign.id}:{entrant.person}"
    limits = campaign.draw_limits
    return (
        Charge(base, 1, limits.per_campaign),
        Charge(f"{base}:{campaign.day(at)}", 1, limits.per_day),
    )


def decide_draw(
    campaign: FunnelCampaign,
    entrant: Entrant,
    *,
    request_id: str,
    at: datetime,
    view: LedgerView,
    issuer: CouponIssuer,
    catalog_version: str,
    risk: RiskPolicy | None = None,
) -> FunnelDecision:
    """抽奖领券: one draw for ``request_id``.

    Order of checks: window, state (must have followed), draw-stage rule, per-person limits
    (per campaign, then per day), risk policy. Then the random number of ``request_id`` picks
    an outcome; stock is read from ``view`` and the pool's out-of-stock rule applies. A win
    issues the coupon through ``issuer`` in the same batch.
    """
    state = _state(campaign, entrant.customer_id, view)
    reason = _gate(campaign, entrant, FunnelEvent.DRAW, state, at)
    if reason is not None:
        return _refuse(campaign, entrant, FunnelEvent.DRAW, state, reason)
    per_campaign, per_day = draw_counters(campaign, entrant, at)
    for charge, code in ((per_campaign, "draw_limit_campaign"), (per_day, "draw_limit_day")):
        if charge.limit is not None and view.usage(charge.counter) + 1 > charge.limit:
            limit = charge.limit
            return _refuse(
                campaign, entrant, FunnelEvent.DRAW, state,
                Reason.of(code, limit=limit, day=campaign.day(at)),
            )  # fmt: skip
    charges = [per_campaign, per_day]
    if risk is not None:
        check = assess(risk, entrant.risk_subject(), action=campaign.id, at=at, view=view)
        if not check.allowed:
            assert check.reason is not None
            return _refuse(campaign, entrant, FunnelEvent.DRAW, state, check.reason)
        charges.extend(check.charges)

    pool = campaign.pool
    day = campaign.day(at)
    number = draw_number(campaign.seed, campaign.id, request_id)

    coupon_id = f"{campaign.id}:{request_id}"
    issuable: dict[str, Sequence[LedgerEntry]] = {}

    def issue(prize: Prize) -> Sequence[LedgerEntry]:
        if prize.id not in issuable:
            issuable[prize.id] = tuple(
                issuer(
                    prize.coupon_template, customer_id=entrant.customer_id, person_id=entrant.person_id,
                    programme_id=campaign.id, coupon_id=coupon_id, at=at, catalog_version=catalog_version,
                    view=view, record=entrant.record,
                )
            )  # fmt: skip
        return issuable[prize.id]

    def in_stock(prize: Prize) -> bool:
        counted = all(
            charge.limit is None or view.usage(charge.counter) + 1 <= charge.limit
            for charge in prize_counters(pool, prize, day)
        )
        # A coupon the wallet side refuses to issue (its own pool is empty) counts as out of stock.
        return counted and bool(issue(prize))

    outcome = choose(pool, number, in_stock)

    def scope(prize_id: str) -> tuple[str, str]:
        total, daily = prize_counters(pool, pool.prize(prize_id), day)
        if total.limit is not None and view.usage(total.counter) + 1 > total.limit:
            return "总库存已发完", "total stock used up"
        if daily.limit is not None and view.usage(daily.counter) + 1 > daily.limit:
            return f"{day} 当日库存已发完", f"stock for {day} used up"
        return "优惠券无法发放", "the coupon cannot be issued"

    reasons = _outcome_reasons(campaign, outcome, scope)
    issued: Sequence[LedgerEntry] = ()
    if outcome.prize_id is not None:
        prize = pool.prize(outcome.prize_id)
        charges.extend(prize_counters(pool, prize, day))
        issued = issue(prize)
        reasons.append(Reason.of("coupon_issued", template=prize.coupon_template))
    reasons.append(_random_reason(outcome))
    meta = outcome.meta(campaign.seed)
    meta["draw.out_of_stock_rule"] = str(pool.on_out_of_stock)
    if outcome.prize_id is not None:
        meta["draw.coupon_id"] = coupon_id
    key = f"funnel:{campaign.id}:draw:{request_id}"
    marker = _marker(
        campaign, entrant, Stage.DRAW, at, catalog_version, key=key,
        reason="won" if outcome.won else "blank", ref=request_id, charges=charges, meta=meta,
    )  # fmt: skip
    batch = EntryBatch.of(key, [marker, *issued])
    after = transition(state, FunnelEvent.DRAW)
    return FunnelDecision(
        campaign.id, entrant.customer_id, FunnelEvent.DRAW, True, state, after, tuple(reasons), batch, outcome
    )


def _outcome_reasons(
    campaign: FunnelCampaign, outcome: DrawOutcome, scope: Callable[[str], tuple[str, str]]
) -> list[Reason]:
    pool = campaign.pool
    reasons: list[Reason] = []
    blank = {"blank": pool.blank_label("zh_CN"), "blank_en": pool.blank_label("en")}
    if outcome.fallback != "none" and outcome.drawn_id is not None:
        drawn = pool.prize(outcome.drawn_id)
        code = "draw_out_of_stock_blank" if outcome.fallback == "blank" else "draw_out_of_stock_redraw"
        zh, en = scope(drawn.id)
        reasons.append(
            Reason.of(
                code, prize=drawn.label("zh_CN"), prize_en=drawn.label("en"), scope=zh, scope_en=en, **blank
            )
        )
    if outcome.prize_id is None:
        reasons.append(Reason.of("draw_blank", **blank))
    else:
        prize = pool.prize(outcome.prize_id)
        reasons.append(Reason.of("draw_won", prize=prize.label("zh_CN"), prize_en=prize.label("en")))
    return reasons


def _random_reason(outcome: DrawOutcome) -> Reason:
    return Reason.of(
        "draw_random",
        random=outcome.number.hex,
        algorithm=ALGORITHM,
        point=outcome.point,
        total=outcome.total_weight,
    )


def _issue_entry_of(
    campaign: FunnelCampaign, redemption: LedgerEntry, view: LedgerView
) -> LedgerEntry | None:
    """The issue entry of the redeemed coupon, when it was issued by ``campaign``."""
    candidates: list[LedgerEntry] = []
    if redemption.ref is not None:
        found = view.entry(redemption.ref)
        if found is not None:
            candidates.append(found)
    for entry in candidates:
        if entry.kind is EntryKind.ISSUE and entry.programme_id == campaign.id:
            return entry
    coupon_id = redemption.meta.get("coupon_id")
    if not coupon_id:
        return None
    # A coupon issued by the wallet side keeps its own programme (the coupon pool); the draw
    # marker of this campaign names it in ``draw.coupon_id``.
    drawn = any(
        e.meta.get("draw.coupon_id") == coupon_id
        for e in view.entries(customer_id=redemption.customer_id, programme_id=campaign.id)
    )
    if not drawn:
        return None
    for entry in view.entries(customer_id=redemption.customer_id):
        if entry.kind is EntryKind.ISSUE and entry.meta.get("coupon_id") == coupon_id:
            return entry
    return None


def decide_pay(
    campaign: FunnelCampaign,
    entrant: Entrant,
    *,
    redemption: LedgerEntry,
    at: datetime,
    view: LedgerView,
    catalog_version: str,
    payment: Money | None = None,
) -> FunnelDecision:
    """支付消费: a coupon redemption (核销) completes the pay stage when the coupon was won here.

    ``redemption`` is the ``redeem`` ledger entry; its ``ref`` (or ``meta["coupon_id"]``) must
    lead to an ``issue`` entry of this campaign. ``payment`` is checked against
    ``campaign.pay_min_amount`` when the campaign states one.
    """
    state = _state(campaign, entrant.customer_id, view)
    if redemption.kind is not EntryKind.REDEEM or redemption.customer_id != entrant.customer_id:
        return _refuse(campaign, entrant, FunnelEvent.PAY, state, Reason.of("pay_not_campaign_coupon"))
    reason = _gate(campaign, entrant, FunnelEvent.PAY, state, at)
    if reason is not None:
        return _refuse(campaign, entrant, FunnelEvent.PAY, state, reason)
    issue = _issue_entry_of(campaign, redemption, view)
    if issue is None:
        return _refuse(campaign, entrant, FunnelEvent.PAY, state, Reason.of("pay_not_campaign_coupon"))
    minimum = campaign.pay_min_amount
    if minimum is not None and (payment is None or payment < minimum):
        shown = payment if payment is not None else Money.zero(minimum.currency)
        return _refuse(
            campaign,
            entrant,
            FunnelEvent.PAY,
            state,
            Reason.of("pay_below_minimum", amount=shown, minimum=minimum),
        )
    template = issue.asset.split(":", 1)[-1]
    meta = {"funnel.coupon_issue": issue.entry_id}
    if payment is not None:
        meta["funnel.payment"] = str(payment.amount)
    key = f"funnel:{campaign.id}:pay:{redemption.entry_id}"
    marker = _marker(
        campaign,
        entrant,
        Stage.PAY,
        at,
        catalog_version,
        key=key,
        reason="paid",
        ref=redemption.entry_id,
        meta=meta,
    )
    batch = EntryBatch.of(key, [marker])
    after = transition(state, FunnelEvent.PAY)
    return FunnelDecision(
        campaign.id, entrant.customer_id, FunnelEvent.PAY, True, state, after,
        (Reason.of("pay_completed", template=template),), batch,
    )  # fmt: skip


def _replayed_draw(
    campaign: FunnelCampaign, entrant: Entrant, request_id: str, ledger: LedgerView
) -> FunnelDecision | None:
    key = f"funnel:{campaign.id}:draw:{request_id}"
    if not ledger.has_applied(key):
        return None
    marker = ledger.entry(f"{key}#0")
    state = _state(campaign, entrant.customer_id, ledger)
    if marker is None:  # pragma: no cover - an applied draw batch always has its marker
        return None
    prize_id = marker.meta.get("draw.prize") or None
    pool = campaign.pool
    if prize_id is None:
        reason = Reason.of("draw_blank", blank=pool.blank_label("zh_CN"), blank_en=pool.blank_label("en"))
    else:
        prize = pool.prize(prize_id)
        reason = Reason.of("draw_won", prize=prize.label("zh_CN"), prize_en=prize.label("en"))
    stored = [e for e in ledger.entries(customer_id=entrant.customer_id) if e.entry_id.startswith(f"{key}#")]
    batch = EntryBatch.of(key, stored)
    outcome = DrawOutcome.from_meta(marker.meta, campaign.seed, campaign.id)
    return FunnelDecision(
        campaign.id,
        entrant.customer_id,
        FunnelEvent.DRAW,
        True,
        state,
        state,
        (reason,),
        batch,
        outcome,
        replayed=True,
    )


def run_draw(
    ledger: Ledger,
    campaign: FunnelCampaign,
    entrant: Entrant,
    *,
    request_id: str,
    at: datetime,
    issuer: CouponIssuer,
    catalog_version: str,
    risk: RiskPolicy | None = None,
) -> FunnelDecision:
    """Decide a draw and apply it, re-deciding when a concurrent writer took the last stock.

    The ledger checks every limit atomically. When it refuses the batch (another draw won the
    last unit, or used the participant's last draw), nothing was applied; the draw is decided
    again on the fresh state — with the *same* random number — so the pool's out-of-stock
    rule or the per-person limit now applies. A request already applied is not drawn again:
    the stored result comes back with ``replayed=True``.
    """
    attempts = len(campaign.pool.prizes) + 3
    last_refusal: Reason | None = None
    for _attempt in range(attempts):
        replayed = _replayed_draw(campaign, entrant, request_id, ledger)
        if replayed is not None:
            return replayed
        decision = decide_draw(
            campaign, entrant, request_id=request_id, at=at, view=ledger, issuer=issuer,
            catalog_version=catalog_version, risk=risk,
        )  # fmt: skip
        if decision.batch is None:
            return decision
        result = ledger.try_apply(decision.batch)
        if result.refusal is None:
            return decision
        refusal = result.refusal
        last_refusal = Reason.of("limit_conflict", counter=refusal.counter, limit=refusal.limit)
    state = _state(campaign, entrant.customer_id, ledger)
    assert last_refusal is not None
    return _refuse(campaign, entrant, FunnelEvent.DRAW, state, last_refusal)


def _check_event(campaign: FunnelCampaign, customer: Customer, event: Follow | DrawRequest) -> None:
    if event.campaign_id != campaign.id:
        raise EngineError(f"event is for campaign {event.campaign_id!r}, not {campaign.id!r}",
                          path=f"{event.event_type}.campaign_id", value=event.campaign_id)  # fmt: skip
    if event.customer_id != customer.id:
        raise EngineError(f"event is for customer {event.customer_id!r}, not {customer.id!r}",
                          path=f"{event.event_type}.customer_id", value=event.customer_id)  # fmt: skip


def on_follow(
    campaign: FunnelCampaign, customer: Customer, follow: Follow, *, view: LedgerView, catalog_version: str
) -> FunnelDecision:
    """:func:`decide_follow` for a :class:`~cardbenefits.facts.Follow` event."""
    _check_event(campaign, customer, follow)
    return decide_follow(
        campaign, Entrant.of(customer), channel=follow.channel, at=follow.at, view=view,
        catalog_version=catalog_version, event_id=follow.id,
    )  # fmt: skip


def on_draw_request(
    ledger: Ledger,
    campaign: FunnelCampaign,
    customer: Customer,
    request: DrawRequest,
    *,
    issuer: CouponIssuer,
    catalog_version: str,
    risk: RiskPolicy | None = None,
) -> FunnelDecision:
    """:func:`run_draw` for a :class:`~cardbenefits.facts.DrawRequest` (its id keys the random number)."""
    _check_event(campaign, customer, request)
    return run_draw(
        ledger, campaign, Entrant.of(customer, device_id=request.device_id), request_id=request.id,
        at=request.at, issuer=issuer, catalog_version=catalog_version, risk=risk,
    )  # fmt: skip
