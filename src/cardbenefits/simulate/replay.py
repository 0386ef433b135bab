"""Replay customers' events in event-time order through the engine and a ledger.

:class:`Simulation` takes an :class:`~cardbenefits.engine.Engine` (transaction rewards,
activation ladders), optional funnel campaigns and referral programmes, and a ledger (a fresh
:class:`~cardbenefits.ledger.MemoryLedger` by default). :meth:`Simulation.run` streams the
events once:

1. **History, then segments.** Events before the ``as_of`` instant are history: their
   purchases and refunds feed an :class:`~cardbenefits.segments.RFMAccumulator` and nothing
   is decided for them. At the first event at or after ``as_of`` (by default the first event
   of the stream, so there is no history), every customer gets the attributes ``rfm`` and
   ``lifecycle`` computed *as of that instant* (:func:`~cardbenefits.segments.segment_attributes`;
   RFM scored by fixed cut-offs or by quintiles over the population). Rules can then test
   ``lifecycle == "win_back"`` or ``rfm.score >= 12``; the report counts customers per stage.
   Attributes are not recomputed during the replay: a campaign targets the segments it was
   designed for, as of its launch.
2. **Replay.** Each later event is decided against the ledger and its batch applied before
   the next event is read: transactions and refunds by the engine, follows and draw requests
   by the funnel, referral stages by the referral programme. Batches with no entries are not
   applied (a pure refusal changes nothing), which keeps the memory ledger proportional to
   what was granted, not to the number of events.
3. **Metrics** are folded as batches are applied (:class:`~cardbenefits.simulate.metrics.MetricsCollector`).

>>> import pendulum
>>> from cardbenefits.engine import Engine
>>> from cardbenefits.facts import CardHolding, Customer, Transaction
>>> from cardbenefits.money import Money
>>> from cardbenefits.programmes import FixedReward, Limit, PeriodUnit, Qualifier, TransactionProgramme
>>> small = TransactionProgramme("cashback50", Qualifier(min_amount=Money.of(50)),
...     FixedReward(amount=Money.of(5)), limits=(Limit("monthly", 5, period=PeriodUnit.MONTH),))
>>> card = CardHolding("k1", "youth", "classic", "2026-01-05T09:00+08:00")
>>> people = {"c1": Customer("c1", "p1", cards=(card,))}
>>> buys = [Transaction(f"t{i}", "c1", "k1", Money.of(60), "m1", "5812", "pos", "purchase",
...                     f"2026-11-0{i + 1}T12:00+08:00") for i in range(7)]
>>> result = Simulation(Engine([small], catalog_version="v1")).run(people, buys)
>>> row = result.metrics.programmes["cashback50"]
>>> row.grants, row.issuer_cost, row.refusals
(5, Decimal('25'), {'cap:monthly': 2})
>>> result.segments["lifecycle"]
{'win_back': 1}
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, Literal

import attrs

from cardbenefits.engine import Decision, Engine
from cardbenefits.engine.core import counter_name
from cardbenefits.engine.explain import CapHit, Ineligible, NotQualified, RaceLost
from cardbenefits.errors import CardBenefitsError
from cardbenefits.facts import Customer, DrawRequest, Event, Follow, Referral, Transaction
from cardbenefits.funnel import FunnelCampaign
from cardbenefits.funnel.decide import CouponIssuer, FunnelDecision, on_draw_request, on_follow
from cardbenefits.funnel.metrics import FunnelMetrics, funnel_metrics
from cardbenefits.ledger import Ledger, LedgerEntry, MemoryLedger
from cardbenefits.programmes import ActivationLadder, LimitScope, PeriodUnit
from cardbenefits.referrals import ReferralDecision, ReferralProgramme, decide_referral
from cardbenefits.risk import RiskPolicy
from cardbenefits.segments import (
    LifecyclePolicy,
    RFMAccumulator,
    RFMCutoffs,
    RFMScore,
    score_by_quantiles,
    segment_attributes,
)
from cardbenefits.simulate.io import SimulationError
from cardbenefits.simulate.metrics import MetricsCollector, RunMetrics

__all__ = ["LimitUsage", "Simulation", "SimulationResult", "Watched", "reason_code"]

_ZERO = Decimal(0)

Outcome = Decision | FunnelDecision | ReferralDecision


def reason_code(reason: object) -> str:
    """A short, stable code for an engine reason (how the report counts refusals).

    >>> from decimal import Decimal
    >>> reason_code(NotQualified("min_amount", "49 < 50"))
    'not_qualified:min_amount'
    >>> reason_code(CapHit("monthly", "cap", "cap:p:monthly:c1:2026-11", Decimal(5), Decimal(5), "2026-11"))
    'cap:monthly'
    """
    if isinstance(reason, CapHit):
        return f"{reason.kind}:{reason.limit_id}"
    if isinstance(reason, NotQualified):
        return f"not_qualified:{reason.code}"
    if isinstance(reason, Ineligible):
        return "ineligible"
    if isinstance(reason, RaceLost):
        return "race_lost"
    code = getattr(reason, "code", None)
    return str(code) if isinstance(code, str) else type(reason).__name__


@attrs.frozen
class Watched:
    """One decision about the watched customer (for ``cardbenefits explain``)."""

    event: Event
    outcome: Outcome | None
    note: str = ""


@attrs.frozen
class LimitUsage:
    """A campaign-long global budget or stock and how much of it the run used."""

    programme_id: str
    limit_id: str
    kind: str
    measure: str
    maximum: Decimal
    used: Decimal

    def to_dict(self) -> dict[str, str]:
        """A JSON-ready dict."""
        return {
            "programme_id": self.programme_id,
            "limit_id": self.limit_id,
            "kind": self.kind,
            "measure": self.measure,
            "maximum": str(self.maximum),
            "used": str(self.used),
        }


@attrs.frozen
class SimulationResult:
    """What a run produced: metrics, limits, funnels, segment counts and the ledger."""

    catalog_version: str
    as_of: _dt.datetime | None
    first_event: _dt.datetime | None
    last_event: _dt.datetime | None
    history_events: int
    metrics: RunMetrics
    limits: tuple[LimitUsage, ...]
    budgets: Mapping[str, Decimal]
    funnels: Mapping[str, FunnelMetrics]
    segments: Mapping[str, Mapping[str, int]]
    ledger: Ledger = attrs.field(eq=False, repr=False)
    watched: tuple[Watched, ...] = ()
    customers: Mapping[str, Customer] = attrs.field(factory=dict, eq=False, repr=False)


Progress = Callable[[int], None]


class Simulation:
    """Replays events through ``engine`` (+ funnels and referrals) into ``ledger``.

    ``as_of`` splits history from replay (see the module docstring); ``rfm`` chooses fixed
    ``cutoffs`` (:meth:`RFMCutoffs.default` unless ``cutoffs`` is given) or population
    ``quantiles``; ``segment=False`` keeps the customers' attributes as read. ``watch`` names a
    customer whose decisions are kept in :attr:`SimulationResult.watched`.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        ledger: Ledger | None = None,
        funnels: Mapping[str, FunnelCampaign] | None = None,
        coupon_issuer: CouponIssuer | None = None,
        referral_programmes: Mapping[str, ReferralProgramme] | None = None,
        risk: RiskPolicy | None = None,
        as_of: _dt.datetime | None = None,
        rfm: Literal["cutoffs", "quantiles"] = "cutoffs",
        cutoffs: RFMCutoffs | None = None,
        lifecycle: LifecyclePolicy | None = None,
        segment: bool = True,
        watch: str | None = None,
    ) -> None:
        if as_of is not None and as_of.tzinfo is None:
            raise SimulationError("as_of must be time-zone aware", path="as_of", value=as_of)
        if rfm not in ("cutoffs", "quantiles"):
            raise SimulationError("rfm is 'cutoffs' or 'quantiles'", path="rfm", value=rfm)
        self.engine = engine
        self.ledger: Ledger = ledger if ledger is not None else MemoryLedger()
        self.funnels = dict(funnels or {})
        self.coupon_issuer = coupon_issuer
        self.referral_programmes = dict(referral_programmes or {})
        self.risk = risk
        self.as_of = as_of
        self.rfm = rfm
        self.cutoffs = cutoffs or RFMCutoffs.default()
        self.lifecycle = lifecycle or LifecyclePolicy(timezone=engine.timezone)
        self.segment = segment
        self.watch = watch

    # -- segments ------------------------------------------------------------------------------
    def _segment(
        self, customers: dict[str, Customer], acc: RFMAccumulator | None, at: _dt.datetime
    ) -> dict[str, Customer]:
        if not self.segment:
            return customers
        history = acc if acc is not None else RFMAccumulator(at=at, currency=self.engine_currency)
        stats = [history.stats(cid) for cid in customers]
        scores: Mapping[str, RFMScore]
        if self.rfm == "quantiles":
            scores = score_by_quantiles(stats)
        else:
            scores = {s.customer_id: self.cutoffs.score(s) for s in stats}
        out: dict[str, Customer] = {}
        for cid, customer in customers.items():
            attributes = segment_attributes(scores[cid], customer.approved_at, at, self.lifecycle)
            out[cid] = customer.with_attributes(**attributes)
        return out

    @property
    def engine_currency(self) -> str:
        """The currency RFM monetary values are kept in."""
        return "CNY"

    # -- the run -------------------------------------------------------------------------------
    def run(
        self,
        customers: Mapping[str, Customer],
        events: Iterable[Event],
        *,
        progress: Progress | None = None,
    ) -> SimulationResult:
        """Replay ``events`` (already in replay order) for ``customers``; see the module docstring."""
        people = dict(customers)
        engine, ledger = self.engine, self.ledger
        stage: dict[str, str] = {}
        metrics = MetricsCollector(timezone=engine.timezone, tier_costs=_tier_costs(engine),
                                   stage_of=stage.get)  # fmt: skip
        funnel_entries: dict[str, list[LedgerEntry]] = {cid: [] for cid in self.funnels}
        watched: list[Watched] = []
        history: RFMAccumulator | None = (
            RFMAccumulator(at=self.as_of, currency=self.engine_currency) if self.as_of is not None else None
        )
        segmented = False
        history_events = done = 0
        first: _dt.datetime | None = None
        last: _dt.datetime | None = None
        as_of = self.as_of
        watch = self.watch
        for event in events:
            done += 1
            if progress is not None and done % 4096 == 0:
                progress(done)
            at = event.transacted_at if isinstance(event, Transaction) else event.at
            if not segmented:
                if as_of is not None and at < as_of:
                    history_events += 1
                    if isinstance(event, Transaction) and history is not None:
                        history.add_transaction(event)
                    continue
                people = self._segment(people, history, as_of if as_of is not None else at)
                stage.update(
                    (cid, str(c.attributes.get("lifecycle", "unknown"))) for cid, c in people.items()
                )
                segmented = True
                history = None
            if first is None:
                first = at
            last = at
            metrics.on_event(event.event_type, event.customer_id)
            try:
                outcome = self._decide(event, people, metrics, funnel_entries)
            except CardBenefitsError as exc:
                if isinstance(exc, SimulationError):
                    raise
                raise SimulationError(f"event {event.id}: {exc}", path=exc.path, value=exc.value) from exc
            if watch is not None and (
                event.customer_id == watch or (isinstance(event, Referral) and event.inviter_id == watch)
            ):
                watched.append(Watched(event, outcome))
        if progress is not None:
            progress(done)
        if not segmented:
            people = self._segment(people, history, as_of if as_of is not None else _epoch(engine))
        result = metrics.result(_programme_ids(engine, self.funnels, self.referral_programmes))
        limits, budgets = _limits(engine, ledger)
        return SimulationResult(
            catalog_version=engine.catalog_version,
            as_of=as_of if as_of is not None else first,
            first_event=first,
            last_event=last,
            history_events=history_events,
            metrics=result,
            limits=limits,
            budgets=budgets,
            funnels={cid: funnel_metrics(c, funnel_entries[cid]) for cid, c in self.funnels.items()},
            segments=_segment_counts(people),
            ledger=ledger,
            watched=tuple(watched),
            customers=people,
        )

    def _customer(self, people: Mapping[str, Customer], cid: str, event: Event) -> Customer:
        customer = people.get(cid)
        if customer is None:
            raise SimulationError(f"event {event.id} names an unknown customer", path=f"{event.event_type}"
                                  ".customer_id", value=cid)  # fmt: skip
        return customer

    def _decide(
        self,
        event: Event,
        people: Mapping[str, Customer],
        metrics: MetricsCollector,
        funnel_entries: dict[str, list[LedgerEntry]],
    ) -> Outcome | None:
        engine, ledger = self.engine, self.ledger
        if isinstance(event, Transaction):
            customer = self._customer(people, event.customer_id, event)
            decision = engine.decide(customer, event, ledger)
            if decision.batch.entries:
                ledger.apply(decision.batch)
                metrics.on_batch(decision.batch)
            for refusal in decision.refusals:
                code = reason_code(refusal.reasons[0]) if refusal.reasons else "refused"
                metrics.on_refusal(refusal.programme_id, code)
            return decision
        if isinstance(event, Follow | DrawRequest):
            campaign = self.funnels.get(event.campaign_id)
            if campaign is None:
                metrics.on_refusal(event.campaign_id, "not_in_catalog")
                return None
            customer = self._customer(people, event.customer_id, event)
            if isinstance(event, Follow):
                funnel = on_follow(
                    campaign, customer, event, view=ledger, catalog_version=engine.catalog_version
                )
                if funnel.batch is not None and funnel.batch.entries:
                    ledger.apply(funnel.batch)
            else:
                if self.coupon_issuer is None:
                    raise SimulationError("draws need a coupon issuer", path="coupon_issuer", value=None)
                funnel = on_draw_request(
                    ledger, campaign, customer, event, issuer=self.coupon_issuer,
                    catalog_version=engine.catalog_version, risk=self.risk,
                )  # fmt: skip
            if funnel.accepted and funnel.batch is not None:
                metrics.on_batch(funnel.batch)
                funnel_entries[campaign.id].extend(funnel.batch.entries)
            elif not funnel.accepted:
                metrics.on_refusal(campaign.id, funnel.reasons[0].code if funnel.reasons else "refused")
            return funnel
        programme = self.referral_programmes.get(event.programme_id)
        if programme is None:
            metrics.on_refusal(event.programme_id, "not_in_catalog")
            return None
        inviter = self._customer(people, event.inviter_id, event)
        invitee = self._customer(people, event.invitee_id, event)
        referral = decide_referral(
            programme, inviter, invitee, event, view=ledger, catalog_version=engine.catalog_version,
            risk=self.risk, issuer=self.coupon_issuer,
        )  # fmt: skip
        if referral.batch is not None and referral.batch.entries:
            ledger.apply(referral.batch)
            metrics.on_batch(referral.batch)
        if not referral.accepted:
            code = str(referral.abuse) if referral.abuse is not None else "refused"
            metrics.on_refusal(programme.id, code)
        return referral


def _epoch(engine: Engine) -> _dt.datetime:
    # Only reached for an empty stream: any fixed aware instant gives the same (empty) segments.
    return _dt.datetime(2000, 1, 1, tzinfo=_dt.UTC)


def _ladders(engine: Engine) -> tuple[ActivationLadder, ...]:
    return engine.ladders


def _tier_costs(engine: Engine) -> dict[tuple[str, str], Decimal]:
    costs: dict[tuple[str, str], Decimal] = {}
    for ladder in _ladders(engine):
        for tier in ladder.tiers:
            reward = tier.reward
            units = reward.amount.amount if reward.amount is not None else reward.units
            if units:
                costs[(ladder.id, tier.id)] = reward.issuer_cost.amount / units
    return costs


def _programme_ids(
    engine: Engine, funnels: Mapping[str, Any], referrals: Mapping[str, Any]
) -> tuple[str, ...]:
    ids = [p.id for p in engine.programmes] + [ladder.id for ladder in _ladders(engine)]
    return tuple(ids + list(funnels) + list(referrals))


def _limits(engine: Engine, ledger: Ledger) -> tuple[tuple[LimitUsage, ...], dict[str, Decimal]]:
    """Campaign-long global limits with their usage; the cost budget of each programme."""
    rows: list[LimitUsage] = []
    budgets: dict[str, Decimal] = {}
    owners = [(p.id, p.limits) for p in engine.programmes] + [(x.id, x.limits) for x in _ladders(engine)]
    for pid, limits in owners:
        for limit in limits:
            if limit.scope is not LimitScope.GLOBAL or limit.period is not PeriodUnit.CAMPAIGN:
                continue
            used = ledger.usage(counter_name(pid, limit, "all", "all"))
            rows.append(LimitUsage(pid, limit.id, limit.kind.value, limit.measure.value, limit.maximum, used))
            if limit.measure.value == "cost":
                budgets[pid] = min(budgets.get(pid, limit.maximum), limit.maximum)
    return tuple(rows), budgets


def _segment_counts(people: Mapping[str, Customer]) -> dict[str, dict[str, int]]:
    lifecycle: Counter[str] = Counter()
    rfm: Counter[str] = Counter()
    for customer in people.values():
        lifecycle[str(customer.attributes.get("lifecycle", "unknown"))] += 1
        record = customer.attributes.get("rfm")
        segment = record.get("segment") if isinstance(record, Mapping) else None
        rfm[str(segment) if segment is not None else "unknown"] += 1
    return {"lifecycle": dict(sorted(lifecycle.items())), "rfm": dict(sorted(rfm.items()))}
