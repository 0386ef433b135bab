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
import gc
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, Literal

import attrs

from cardbenefits.catalog import Catalog
from cardbenefits.coupons.catalog_file import coupon_pools, coupon_templates, stacking_rules
from cardbenefits.coupons.checkout import Payment, StackingRules, best_combination
from cardbenefits.coupons.coupon import Coupon
from cardbenefits.coupons.operations import redeem_coupon, return_coupon
from cardbenefits.coupons.pools import CouponPool
from cardbenefits.coupons.state import USABLE_STATES
from cardbenefits.coupons.templates import CouponTemplate
from cardbenefits.coupons.wallet import Wallet
from cardbenefits.engine import Decision, Engine
from cardbenefits.engine.core import RecordOf, counter_name
from cardbenefits.engine.explain import CapHit, GroupRate, Ineligible, NotQualified, RaceLost
from cardbenefits.engine.ladders import evaluate_group, tier_unit_cost
from cardbenefits.errors import CardBenefitsError
from cardbenefits.facts import (
    Customer,
    DrawRequest,
    Event,
    Follow,
    Referral,
    Transaction,
    TransactionKind,
    customer_record,
)
from cardbenefits.funnel import FunnelCampaign
from cardbenefits.funnel.decide import (
    CouponIssuer,
    Entrant,
    FunnelDecision,
    WalletIssuer,
    decide_pay,
    on_draw_request,
    on_follow,
)
from cardbenefits.funnel.draws import prize_counters
from cardbenefits.funnel.metrics import FunnelMetrics, funnel_metrics
from cardbenefits.ledger import EntryBatch, Ledger, LedgerEntry, MemoryLedger
from cardbenefits.ledger.entries import EntryKind
from cardbenefits.programmes import ActivationLadder, GroupReward, LimitScope, PeriodUnit
from cardbenefits.referrals import ReferralDecision, ReferralProgramme, decide_referral
from cardbenefits.risk import RiskPolicy
from cardbenefits.segments import (
    LifecyclePolicy,
    RFMAccumulator,
    RFMCutoffs,
    SegmentedCustomers,
    segment_customers,
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
    >>> reason_code(GroupRate(3, 5, 4, Decimal("0.8")))
    'group_rate_not_reached'
    """
    if isinstance(reason, CapHit):
        return f"{reason.kind}:{reason.limit_id}"
    if isinstance(reason, NotQualified):
        return f"not_qualified:{reason.code}"
    if isinstance(reason, Ineligible):
        return "ineligible"
    if isinstance(reason, RaceLost):
        return "race_lost"
    if isinstance(reason, GroupRate):
        return "group_rate_not_reached"
    code = getattr(reason, "code", None)
    return str(code) if isinstance(code, str) else type(reason).__name__


@attrs.frozen
class Watched:
    """One decision about the watched customer (for ``cardbenefits explain``)."""

    event: Event
    outcome: Outcome | None
    note: str = ""


@attrs.frozen
class CheckoutOutcome:
    """What checkout did for one purchase of the watched customer (for ``cardbenefits explain``).

    ``redeemed`` lists ``(coupon id, template id, saving)``; ``refused`` the wallet coupons that
    did not apply and why; ``returned``/``kept`` the coupons a refund gave back or not (why).
    """

    payment_id: str
    redeemed: tuple[tuple[str, str, Decimal], ...] = ()
    refused: tuple[tuple[str, str], ...] = ()
    returned: tuple[str, ...] = ()
    kept: tuple[tuple[str, str], ...] = ()
    funnel: tuple[FunnelDecision, ...] = ()


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
class GroupOutcome:
    """One evaluation of a group reward (团队达标奖) for one employer group."""

    programme_id: str
    group_id: str
    at: _dt.datetime
    members: int
    activated: int
    required: int
    granted: bool
    clawed_back: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "programme_id": self.programme_id,
            "group_id": self.group_id,
            "at": self.at.isoformat(),
            "members": self.members,
            "activated": self.activated,
            "required": self.required,
            "granted": self.granted,
            "clawed_back": self.clawed_back,
        }


@attrs.frozen
class SimulationResult:
    """What a run produced: metrics, limits, funnels, groups, segment counts and the ledger."""

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
    groups: tuple[GroupOutcome, ...] = ()


Progress = Callable[[int], None]


@attrs.define
class _Paid:
    """A purchase paid with coupons: what a later refund may return."""

    customer_id: str
    amount: Decimal
    coupons: tuple[tuple[Coupon, Decimal], ...]
    refunded: Decimal = _ZERO
    returned: bool = False


@attrs.define
class _RunState:
    """Per-run bookkeeping of the checkout and group passes (reset by each :meth:`Simulation.run`)."""

    holders: set[str] = attrs.field(factory=set)
    drawn_in: dict[str, str] = attrs.field(factory=dict)
    paid: dict[str, _Paid] = attrs.field(factory=dict)
    groups: list[GroupOutcome] = attrs.field(factory=list)
    rosters: dict[str, list[Customer]] = attrs.field(factory=dict)
    pending: list[tuple[_dt.datetime, GroupReward]] = attrs.field(factory=list)
    checkout: list[CheckoutOutcome] = attrs.field(factory=list)


def pools_by_template(pools: Mapping[str, CouponPool]) -> dict[str, CouponPool]:
    """The pool each template is issued from (the first pool of the template, in catalog order).

    >>> first, second = CouponPool(id="a", template_id="t"), CouponPool(id="b", template_id="t")
    >>> pools_by_template({"a": first, "b": second})["t"].id
    'a'
    """
    found: dict[str, CouponPool] = {}
    for pool in pools.values():
        found.setdefault(pool.template_id, pool)
    return found


class Simulation:
    """Replays events through ``engine`` (+ funnels, checkout, referrals, groups) into ``ledger``.

    ``as_of`` splits history from replay (see the module docstring); ``rfm`` chooses fixed
    ``cutoffs`` (:meth:`RFMCutoffs.default` unless ``cutoffs`` is given) or population
    ``quantiles``; ``segment=False`` keeps the customers' attributes as read. ``watch`` names a
    customer whose decisions are kept in :attr:`SimulationResult.watched`.

    ``risk`` is the policy of campaigns without their own and of referral programmes;
    ``risk_policies`` are the catalog's policies, looked up by a campaign's ``risk_policy``.
    ``coupon_templates`` (default: the issuer's, when it is a :class:`WalletIssuer`) rebuild
    wallets at checkout; ``checkout`` is the stacking policy (``None``: checkout is skipped
    when there are no templates, else :class:`StackingRules` defaults). ``group_rewards=False``
    skips the engine's group rewards.
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
        risk_policies: Mapping[str, RiskPolicy] | None = None,
        coupon_templates: Mapping[str, CouponTemplate] | None = None,
        checkout: StackingRules | None = None,
        group_rewards: bool = True,
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
        self.risk_policies = dict(risk_policies or {})
        if coupon_templates is None and isinstance(coupon_issuer, WalletIssuer):
            coupon_templates = coupon_issuer.templates
        self.coupon_templates: Mapping[str, CouponTemplate] = dict(coupon_templates or {})
        self.checkout = checkout if checkout is not None else StackingRules()
        self.group_rewards = group_rewards
        self.as_of = as_of
        self.rfm = rfm
        self.cutoffs = cutoffs or RFMCutoffs.default()
        self.lifecycle = lifecycle or LifecyclePolicy(timezone=engine.timezone)
        self.segment = segment
        self.watch = watch
        self._state = _RunState()

    @classmethod
    def from_catalog(
        cls,
        catalog: Catalog,
        *,
        record_of: RecordOf | None = customer_record,
        checkout_rules: str = "default",
        **options: Any,
    ) -> Simulation:
        """A simulation of everything in ``catalog``: the engine (``programmes``, ``ladders``,
        ``group_rewards``), ``campaigns`` with a coupon issuer over ``coupon_templates`` and
        ``coupon_pools`` (:func:`pools_by_template`), ``referral_programmes``, ``risk_policies``
        and the ``checkout_rules`` named ``checkout_rules``. ``options`` go to the constructor
        (``ledger``, ``as_of``, ``rfm``, ``watch`` ...).

        >>> from cardbenefits.simulate.example import example_catalog
        >>> sim = Simulation.from_catalog(example_catalog())
        >>> sorted(sim.funnels), sorted(sim.referral_programmes), sorted(sim.risk_policies)
        (['e_life'], ['share_and_invite'], ['e_life_risk'])
        """
        templates = coupon_templates(catalog)
        issuer = WalletIssuer(templates, pools_by_template(coupon_pools(catalog)))
        return cls(
            Engine.from_catalog(catalog, record_of=record_of),
            funnels=catalog.section("campaigns"),
            coupon_issuer=issuer,
            referral_programmes=catalog.section("referral_programmes"),
            risk_policies=catalog.section("risk_policies"),
            coupon_templates=templates,
            checkout=stacking_rules(catalog, checkout_rules),
            **options,
        )

    # -- segments ------------------------------------------------------------------------------
    def _segment(
        self, customers: Mapping[str, Customer], acc: RFMAccumulator | None, at: _dt.datetime
    ) -> Mapping[str, Customer]:
        if not self.segment:
            return customers
        return segment_customers(customers, at, history=acc, rfm=self.rfm, cutoffs=self.cutoffs,
                                 policy=self.lifecycle, currency=self.engine_currency)  # fmt: skip

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
        pause_gc: bool = True,
    ) -> SimulationResult:
        """Replay ``events`` (already in replay order) for ``customers``; see the module docstring.

        ``pause_gc`` pauses Python's cyclic garbage collector for the replay (and restores it
        after, also on errors): the ledger's many long-lived objects otherwise make the
        collector rescan them over and over (about 15% of a replay). Reference counting still
        frees everything that is not in a cycle as the replay goes.
        """
        paused = pause_gc and gc.isenabled()
        if paused:
            gc.disable()
        try:
            return self._run(customers, events, progress)
        finally:
            if paused:
                gc.enable()

    def _run(
        self, customers: Mapping[str, Customer], events: Iterable[Event], progress: Progress | None
    ) -> SimulationResult:
        replay = Replay(self, customers, progress)
        feed = replay.feed
        for event in events:
            feed(event)
        return replay.finish()

    @property
    def checkouts(self) -> tuple[CheckoutOutcome, ...]:
        """The watched customer's checkouts and refunds of the last run (for ``explain``)."""
        return tuple(self._state.checkout)

    def _customer(self, people: Mapping[str, Customer], cid: str, event: Event) -> Customer:
        customer = people.get(cid)
        if customer is None:
            raise SimulationError(f"event {event.id} names an unknown customer", path=f"{event.event_type}"
                                  ".customer_id", value=cid)  # fmt: skip
        return customer

    def _apply(self, batch: EntryBatch | None, metrics: MetricsCollector) -> bool:
        """Apply a batch with entries; fold it and note new coupon holders. False if refused."""
        if batch is None or not batch.entries:
            return False
        result = self.ledger.try_apply(batch)
        if result.refusal is not None:
            return False
        metrics.on_batch(batch)
        for entry in batch.entries:
            if entry.kind in (EntryKind.ISSUE, EntryKind.RETURN) and entry.asset.startswith("coupon:"):
                self._state.holders.add(entry.customer_id)
        return True

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
                    catalog_version=engine.catalog_version, risk=self._risk_of(campaign),
                )  # fmt: skip
            if funnel.accepted and funnel.batch is not None:
                metrics.on_batch(funnel.batch)
                funnel_entries[campaign.id].extend(funnel.batch.entries)
                for entry in funnel.batch.entries:
                    if entry.kind is EntryKind.ISSUE and "coupon_id" in entry.meta:
                        self._state.drawn_in[entry.meta["coupon_id"]] = campaign.id
                        self._state.holders.add(entry.customer_id)
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
            risk=self._policy(programme.risk_policy, f"referral_programmes.{programme.id}"),
            issuer=self.coupon_issuer,
        )  # fmt: skip
        if referral.batch is not None and referral.batch.entries:
            self._apply(referral.batch, metrics)
        if not referral.accepted:
            if referral.abuse is not None:
                code = str(referral.abuse)
            else:
                code = referral.reasons[0].code if referral.reasons else "refused"
            metrics.on_refusal(programme.id, code)
        return referral

    def _risk_of(self, campaign: FunnelCampaign) -> RiskPolicy | None:
        return self._policy(campaign.risk_policy, f"campaigns.{campaign.id}")

    def _policy(self, name: str | None, owner: str) -> RiskPolicy | None:
        """The risk policy ``name`` of a campaign or referral programme (default: ``risk``)."""
        if name is None:
            return self.risk
        policy = self.risk_policies.get(name)
        if policy is None:
            raise SimulationError("names an unknown risk policy", path=f"{owner}.risk_policy", value=name)
        return policy

    # -- checkout ------------------------------------------------------------------------------
    def _checkout(
        self,
        txn: Transaction,
        people: Mapping[str, Customer],
        metrics: MetricsCollector,
        funnel_entries: dict[str, list[LedgerEntry]],
        *,
        watched: bool,
    ) -> None:
        """Pay a purchase with the best coupons of the wallet; return coupons on a full refund."""
        state = self._state
        if txn.kind is TransactionKind.PURCHASE:
            if txn.customer_id not in state.holders:
                return
            customer = self._customer(people, txn.customer_id, txn)
            self._pay(txn, customer, metrics, funnel_entries, watched=watched)
        elif txn.refund_of is not None and txn.refund_of in state.paid:
            self._refund(txn, metrics, watched=watched)

    def _pay(
        self,
        txn: Transaction,
        customer: Customer,
        metrics: MetricsCollector,
        funnel_entries: dict[str, list[LedgerEntry]],
        *,
        watched: bool,
    ) -> None:
        state, ledger, version = self._state, self.ledger, self.engine.catalog_version
        at = txn.transacted_at
        wallet = Wallet.from_ledger(ledger, customer.id, self.coupon_templates)
        if not any(c.state in USABLE_STATES and at < c.coupon.valid_until for c in wallet):
            state.holders.discard(customer.id)  # nothing left to use until a new coupon arrives
            return
        usable = wallet.available(at)
        if not usable:
            return
        card = customer.card(txn.card_id) if txn.card_id else customer.primary_card
        payment = Payment.for_transaction(txn, card_product=card.product_id if card is not None else None)
        plan = best_combination(usable, payment, self.checkout)
        redeemed: list[tuple[str, str, Decimal]] = []
        used: list[tuple[Coupon, Decimal]] = []
        pays: list[FunnelDecision] = []
        for applied in plan.coupons:
            item = wallet.get(applied.coupon_id)
            assert item is not None  # the plan only holds wallet coupons
            coupon = item.coupon
            decision = redeem_coupon(coupon, payment_id=txn.id, at=at, view=ledger, catalog_version=version,
                                     discount=str(applied.discount.amount))  # fmt: skip
            pid = coupon.pool_id or coupon.template.id
            if not self._apply(decision.batch, metrics):
                metrics.on_refusal(pid, f"coupon:{decision.refusal or 'not_applied'}")
                continue
            value = applied.saving.amount
            metrics.on_coupon_value(pid, at, value)
            used.append((coupon, value))
            redeemed.append((coupon.coupon_id, coupon.template.id, value))
            campaign_id = state.drawn_in.get(coupon.coupon_id)
            campaign = self.funnels.get(campaign_id) if campaign_id is not None else None
            if campaign is None or decision.batch is None:
                continue
            redemption = next(e for e in decision.batch.entries if e.kind is EntryKind.REDEEM)
            pay = decide_pay(campaign, Entrant.of(customer), redemption=redemption,
                             at=at, view=ledger, catalog_version=version, payment=txn.amount)  # fmt: skip
            pays.append(pay)
            if pay.accepted and self._apply(pay.batch, metrics) and pay.batch is not None:
                funnel_entries[campaign.id].extend(pay.batch.entries)
            elif not pay.accepted:
                metrics.on_refusal(campaign.id, pay.reasons[0].code if pay.reasons else "refused")
        if used:
            state.paid[txn.id] = _Paid(customer.id, txn.amount.amount, tuple(used))
        if watched:
            refused = tuple((r.coupon_id, r.reason) for r in plan.refused)
            state.checkout.append(CheckoutOutcome(txn.id, tuple(redeemed), refused, funnel=tuple(pays)))

    def _refund(self, txn: Transaction, metrics: MetricsCollector, *, watched: bool) -> None:
        """Coupons come back (per the template's ``on_refund``) once the purchase is fully refunded."""
        assert txn.refund_of is not None
        paid = self._state.paid[txn.refund_of]
        paid.refunded += txn.amount.amount
        if paid.returned or (txn.kind is not TransactionKind.REVERSAL and paid.refunded < paid.amount):
            return
        paid.returned = True
        returned: list[str] = []
        kept: list[tuple[str, str]] = []
        for coupon, value in paid.coupons:
            decision = return_coupon(coupon, refund_id=txn.id, payment_id=txn.refund_of, at=txn.transacted_at,
                                     view=self.ledger,
                                     catalog_version=self.engine.catalog_version)  # fmt: skip
            pid = coupon.pool_id or coupon.template.id
            if self._apply(decision.batch, metrics):
                metrics.on_coupon_value(pid, txn.transacted_at, -value)
                returned.append(coupon.coupon_id)
            else:
                kept.append((coupon.coupon_id, decision.refusal or "not returned"))
                metrics.on_coupon_kept(pid, str(coupon.template.on_refund))
        if watched:
            self._state.checkout.append(CheckoutOutcome(txn.id, returned=tuple(returned), kept=tuple(kept)))

    # -- group rewards -------------------------------------------------------------------------
    def _start_groups(self, people: Mapping[str, Customer]) -> None:
        state = self._state
        if not self.group_rewards or not self.engine.group_rewards:
            return
        # segmenting leaves employer groups as they were: read them without building every customer
        unsegmented = people.unsegmented if isinstance(people, SegmentedCustomers) else people
        for cid, customer in unsegmented.items():
            if customer.employer_group is not None:
                state.rosters.setdefault(customer.employer_group, []).append(people[cid])
        far = _dt.datetime.max.replace(tzinfo=_dt.UTC)
        state.pending = sorted(
            ((g.deadline if g.deadline is not None else far, g) for g in self.engine.group_rewards),
            key=lambda pair: (pair[0], pair[1].id),
        )

    def _evaluate_group(self, group: GroupReward, at: _dt.datetime, metrics: MetricsCollector) -> None:
        """Evaluate ``group`` for every employer group at ``at`` (its deadline, or the run's end)."""
        state = self._state
        for group_id in sorted(state.rosters):
            decision = evaluate_group(self.engine, group, group_id, state.rosters[group_id], self.ledger, at)
            if decision.batch.entries:
                self.ledger.apply(decision.batch)
                metrics.on_batch(decision.batch)
            reasons = [r for x in decision.grants for r in x.reasons]
            reasons += [r for x in decision.refusals for r in x.reasons]
            rate = next((r for r in reasons if isinstance(r, GroupRate)), None)
            for refusal in decision.refusals:
                code = reason_code(refusal.reasons[-1]) if refusal.reasons else "refused"
                metrics.on_refusal(refusal.programme_id, code)
            if rate is None:
                continue
            granted = any(g.kind is EntryKind.GRANT for g in decision.grants)
            clawed = any(g.kind is EntryKind.CLAWBACK for g in decision.grants)
            state.groups.append(GroupOutcome(group.id, group_id, at, rate.members, rate.activated,
                                             rate.required, granted, clawed))  # fmt: skip


class Replay:
    """One run of a :class:`Simulation`, fed event by event (what :meth:`Simulation.run` loops over).

    The columnar fast path (:mod:`cardbenefits.simulate.fast`) feeds it only the events the
    batch evaluator does not decide, segments the customers when its own rows reach ``as_of``
    (:meth:`segment`), folds the evaluator's figures into :attr:`metrics` and finishes the run
    at the stream's last instant.
    """

    def __init__(
        self,
        sim: Simulation,
        customers: Mapping[str, Customer],
        progress: Progress | None,
        *,
        report: Engine | None = None,
    ) -> None:
        self.sim = sim
        self.report = report if report is not None else sim.engine
        """The engine whose programmes the report lists (the fast path decides with another)."""
        self.people: Mapping[str, Customer] = dict(customers)
        """The customers; once :attr:`segmented`, with their segments (built as they are read)."""
        engine, ledger = sim.engine, sim.ledger
        self.stage: Mapping[str, str] = {}
        """Customer id → lifecycle stage, from :meth:`segment` on."""
        self.metrics = MetricsCollector(timezone=engine.timezone, tier_costs=_tier_costs(engine),
                                        stage_of=self._stage_of)  # fmt: skip
        self.funnel_entries: dict[str, list[LedgerEntry]] = {cid: [] for cid in sim.funnels}
        self.watched: list[Watched] = []
        state = sim._state = _RunState()
        if sim.coupon_templates:  # a ledger carried over from an earlier run may hold coupons
            state.holders.update(e.customer_id for e in ledger.entries() if e.asset.startswith("coupon:"))
        self.history: RFMAccumulator | None = (
            RFMAccumulator(at=sim.as_of, currency=sim.engine_currency) if sim.as_of is not None else None
        )
        self.segmented = False
        self.history_events = 0
        self.done = 0
        self.first: _dt.datetime | None = None
        self.last: _dt.datetime | None = None
        self.progress = progress

    def segment(self, at: _dt.datetime) -> None:
        """Score every customer as of ``as_of`` (or ``at``, the first replayed instant) and start groups."""
        sim = self.sim
        as_of = sim.as_of
        people = self.people = sim._segment(self.people, self.history, as_of if as_of is not None else at)
        if isinstance(people, SegmentedCustomers):
            self.stage = people.lifecycles()
        else:
            self.stage = {cid: str(c.attributes.get("lifecycle", "unknown")) for cid, c in people.items()}
        self.segmented = True
        self.history = None
        sim._start_groups(self.people)

    def _stage_of(self, customer_id: str) -> str | None:
        return self.stage.get(customer_id)

    def feed(self, event: Event, *, count: bool = True) -> None:
        """Replay one event (``count=False``: its event count is folded in by the caller)."""
        sim = self.sim
        self.done += 1
        if self.progress is not None and self.done % 4096 == 0:
            self.progress(self.done)
        at = event.transacted_at if isinstance(event, Transaction) else event.at
        if not self.segmented:
            as_of = sim.as_of
            if as_of is not None and at < as_of:
                self.history_events += 1
                if isinstance(event, Transaction) and self.history is not None:
                    self.history.add_transaction(event)
                return
            self.segment(at)
        self.due(at)
        if self.first is None:
            self.first = at
        self.last = at
        metrics = self.metrics
        if count:
            metrics.on_event(event.event_type, event.customer_id)
        watch = sim.watch
        is_watched = watch is not None and (
            event.customer_id == watch or (isinstance(event, Referral) and event.inviter_id == watch)
        )
        try:
            outcome = sim._decide(event, self.people, metrics, self.funnel_entries)
            if isinstance(event, Transaction) and sim.coupon_templates:
                sim._checkout(event, self.people, metrics, self.funnel_entries, watched=is_watched)
        except CardBenefitsError as exc:
            if isinstance(exc, SimulationError):
                raise
            raise SimulationError(f"event {event.id}: {exc}", path=exc.path, value=exc.value) from exc
        if is_watched:
            state = sim._state
            note = ""
            if state.checkout and state.checkout[-1].payment_id == event.id:
                note = "checkout"
            self.watched.append(Watched(event, outcome, note))

    def due(self, at: _dt.datetime) -> None:
        """Evaluate the group rewards whose deadline is at or before ``at``."""
        state = self.sim._state
        while state.pending and state.pending[0][0] <= at:
            deadline, group = state.pending.pop(0)
            self.sim._evaluate_group(group, deadline, self.metrics)

    def finish(
        self, first: _dt.datetime | None = None, last: _dt.datetime | None = None, ledger: Any = None
    ) -> SimulationResult:
        """The result; ``first``/``last`` widen the run's span to events fed elsewhere and
        ``ledger`` (anything with ``usage``) reads the limits' counters."""
        sim = self.sim
        engine = self.report
        if self.progress is not None:
            self.progress(self.done)
        if first is not None and (self.first is None or first < self.first):
            self.first = first
        if last is not None and (self.last is None or last > self.last):
            self.last = last
        metrics, state = self.metrics, sim._state
        if not self.segmented:
            as_of = sim.as_of
            self.people = sim._segment(
                self.people, self.history, as_of if as_of is not None else _epoch(engine)
            )
        elif self.last is not None:
            self.due(self.last)
            for _deadline, group in state.pending:
                self._evaluate_late(group)
        state.pending.clear()
        result = metrics.result(_programme_ids(engine, sim.funnels, sim.referral_programmes))
        limits, budgets = _limits(engine, ledger if ledger is not None else sim.ledger, sim.funnels,
                                  sim.coupon_issuer)  # fmt: skip
        as_of = sim.as_of
        return SimulationResult(
            catalog_version=engine.catalog_version,
            as_of=as_of if as_of is not None else self.first,
            first_event=self.first,
            last_event=self.last,
            history_events=self.history_events,
            metrics=result,
            limits=limits,
            budgets=budgets,
            funnels={cid: funnel_metrics(c, self.funnel_entries[cid]) for cid, c in sim.funnels.items()},
            segments=_segment_counts(self.people),
            ledger=sim.ledger,
            watched=tuple(self.watched),
            customers=self.people,
            groups=tuple(state.groups),
        )

    def _evaluate_late(self, group: GroupReward) -> None:
        assert self.last is not None
        self.sim._evaluate_group(group, self.last, self.metrics)


def _epoch(engine: Engine) -> _dt.datetime:
    # Only reached for an empty stream: any fixed aware instant gives the same (empty) segments.
    return _dt.datetime(2000, 1, 1, tzinfo=_dt.UTC)


def _ladders(engine: Engine) -> tuple[ActivationLadder, ...]:
    return engine.ladders


def _tier_costs(engine: Engine) -> dict[tuple[str, str], Decimal]:
    costs: dict[tuple[str, str], Decimal] = {}
    for ladder in _ladders(engine):
        for tier in ladder.tiers:
            per_unit = tier_unit_cost(tier)
            if per_unit is not None:
                costs[(ladder.id, tier.id)] = per_unit
    return costs


def _programme_ids(
    engine: Engine, funnels: Mapping[str, Any], referrals: Mapping[str, Any]
) -> tuple[str, ...]:
    ids = [p.id for p in engine.programmes] + [ladder.id for ladder in _ladders(engine)]
    ids += [g.id for g in engine.group_rewards]
    return tuple(ids + list(funnels) + list(referrals))


def _limits(
    engine: Engine, ledger: Ledger, funnels: Mapping[str, FunnelCampaign], issuer: CouponIssuer | None
) -> tuple[tuple[LimitUsage, ...], dict[str, Decimal]]:
    """Campaign-long global limits with their usage (engine limits, prize stock, coupon-pool stock);
    the cost budget of each programme."""
    rows: list[LimitUsage] = []
    budgets: dict[str, Decimal] = {}
    owners = [(p.id, p.limits) for p in engine.programmes] + [(x.id, x.limits) for x in _ladders(engine)]
    owners += [(g.id, g.limits) for g in engine.group_rewards]
    for pid, limits in owners:
        for limit in limits:
            if limit.scope is not LimitScope.GLOBAL or limit.period is not PeriodUnit.CAMPAIGN:
                continue
            used = ledger.usage(counter_name(pid, limit, "all", "all"))
            rows.append(LimitUsage(pid, limit.id, limit.kind.value, limit.measure.value, limit.maximum, used))
            if limit.measure.value == "cost":
                budgets[pid] = min(budgets.get(pid, limit.maximum), limit.maximum)
    for campaign in funnels.values():
        pool = campaign.pool
        for prize in pool.prizes:
            if prize.stock is None:
                continue
            counter = prize_counters(pool, prize, "-")[0].counter
            rows.append(LimitUsage(campaign.id, f"prize:{prize.id}", "stock", "count", Decimal(prize.stock),
                                   ledger.usage(counter)))  # fmt: skip
    if isinstance(issuer, WalletIssuer):
        for coupon_pool in issuer.pools.values():
            if coupon_pool.total_stock is not None:
                used = ledger.usage(f"stock:{coupon_pool.id}")
                rows.append(LimitUsage(coupon_pool.id, "total_stock", "stock", "count",
                                       Decimal(coupon_pool.total_stock), used))  # fmt: skip
    return tuple(rows), budgets


def _segment_counts(people: Mapping[str, Customer]) -> dict[str, dict[str, int]]:
    if isinstance(people, SegmentedCustomers):
        return people.counts()
    lifecycle: Counter[str] = Counter()
    rfm: Counter[str] = Counter()
    for customer in people.values():
        lifecycle[str(customer.attributes.get("lifecycle", "unknown"))] += 1
        record = customer.attributes.get("rfm")
        segment = record.get("segment") if isinstance(record, Mapping) else None
        rfm[str(segment) if segment is not None else "unknown"] += 1
    return {"lifecycle": dict(sorted(lifecycle.items())), "rfm": dict(sorted(rfm.items()))}
