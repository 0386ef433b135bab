"""Why one customer got, or did not get, each benefit during a simulated run.

:func:`explain_customer` replays the whole run (caps, budgets and stock are shared, so another
customer's grants can be the reason) while watching one customer, then prints, in ``zh_CN`` or
``en``: the customer's segments as of the run, each of their events with what every programme
decided and why — including checkout (which wallet coupons were redeemed for a purchase, which
did not apply and why, whether a refund gave them back) and the funnel stages the purchase
completed — the activation-ladder progress at the end, and per programme the net total
received or the refusal reasons counted.

>>> from cardbenefits.simulate.example import example_data, example_simulation
>>> customers, events = example_data()
>>> text = explain_customer(example_simulation(), customers, events, "c00000003", locale="en")
>>> text.splitlines()[0]
'Customer c00000003 (cardbenefits-demo-all@2026.11.1)'
>>> "cashback_small:" in text
True
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from decimal import Decimal

from cardbenefits.engine import Decision
from cardbenefits.engine.ladders import progress
from cardbenefits.errors import CardBenefitsError
from cardbenefits.facts import Customer, Event, Transaction
from cardbenefits.funnel.decide import FunnelDecision
from cardbenefits.referrals import ReferralDecision
from cardbenefits.simulate.io import SimulationError
from cardbenefits.simulate.replay import CheckoutOutcome, Simulation, reason_code

__all__ = ["explain_customer"]

_T = {
    "customer": {"zh": "客户", "en": "Customer"},
    "segments": {"zh": "客群(截至 {at})", "en": "Segments as of {at}"},
    "events": {"zh": "事件", "en": "Events"},
    "ladders": {"zh": "阶梯进度", "en": "Ladder progress"},
    "summary": {"zh": "汇总", "en": "Summary"},
    "got": {"zh": "获得 {what}", "en": "received {what}"},
    "nothing": {"zh": "未获得;原因: {why}", "en": "nothing; reasons: {why}"},
    "no_events": {"zh": "(该客户在模拟期内没有事件)", "en": "(no events for this customer in the run)"},
    "untouched": {"zh": "未触发", "en": "never triggered"},
    "redeemed": {
        "zh": "结账核销 {coupon}({template}),优惠 ¥{value}",
        "en": "checkout redeemed {coupon} ({template}), saving ¥{value}",
    },
    "not_used": {"zh": "未用券 {coupon}: {why}", "en": "coupon {coupon} not used: {why}"},
    "returned": {"zh": "退款退回券 {coupon}", "en": "refund returned coupon {coupon}"},
    "kept": {"zh": "退款未退券 {coupon}: {why}", "en": "refund kept coupon {coupon}: {why}"},
}


def _t(key: str, locale: str, **values: object) -> str:
    return _T[key]["zh" if locale.startswith("zh") else "en"].format(**values)


def explain_customer(
    simulation: Simulation,
    customers: Mapping[str, Customer],
    events: Iterable[Event],
    customer_id: str,
    *,
    locale: str = "zh_CN",
) -> str:
    """The explanation text (see the module docstring); raises for an unknown customer.

    ``simulation`` is replayed watching ``customer_id`` (its ``watch`` is set for the run).
    """
    if customer_id not in customers:
        raise SimulationError("unknown customer", path="customer", value=customer_id)
    simulation.watch = customer_id
    engine = simulation.engine
    result = simulation.run(customers, events)
    checkouts: dict[str, list[CheckoutOutcome]] = {}
    for paid in simulation.checkouts:
        checkouts.setdefault(paid.payment_id, []).append(paid)
    funnels = simulation.funnels
    customer = result.customers[customer_id]
    lines = [f"{_t('customer', locale)} {customer_id} ({engine.catalog_version})"]
    rfm = customer.attributes.get("rfm")
    segment = rfm.get("segment") if isinstance(rfm, Mapping) else None
    lines.append(
        f"{_t('segments', locale, at=result.as_of.isoformat() if result.as_of else '-')}: "
        f"lifecycle={customer.attributes.get('lifecycle')}, rfm={segment}"
    )
    lines.append(f"{_t('events', locale)}:")
    if not result.watched:
        lines.append("  " + _t("no_events", locale))
    refusals: dict[str, Counter[str]] = {}
    for watched in result.watched:
        event, outcome = watched.event, watched.outcome
        head = f"  {event.id} {event.event_type}"
        if isinstance(event, Transaction):
            head += f" {event.kind.value} {event.amount.amount} {event.transacted_at.isoformat()}"
        else:
            head += f" {event.at.isoformat()}"
        lines.append(head)
        if outcome is None:
            lines.append("    -")
            continue
        if isinstance(outcome, Decision):
            for grant in outcome.grants:
                lines += ["    " + part for part in grant.render(locale).splitlines()]
            for refusal in outcome.refusals:
                lines.append("    " + refusal.render(locale))
                code = reason_code(refusal.reasons[0]) if refusal.reasons else "refused"
                refusals.setdefault(refusal.programme_id, Counter())[code] += 1
            for done in checkouts.get(event.id, ()):
                lines += _checkout_lines(done, locale, refusals)
        elif isinstance(outcome, FunnelDecision | ReferralDecision):
            status = "accepted" if outcome.accepted else "refused"
            pid = outcome.campaign_id if isinstance(outcome, FunnelDecision) else outcome.programme_id
            lines.append(f"    {pid}: {status}: {outcome.render(locale)}")
            if not outcome.accepted and outcome.reasons:
                refusals.setdefault(pid, Counter())[outcome.reasons[0].code] += 1
    end = result.last_event
    card = customer.primary_card
    if engine.ladders and card is not None and end is not None:
        lines.append(f"{_t('ladders', locale)}:")
        for ladder in engine.ladders:
            try:
                lines += ["  " + x for x in progress(engine, ladder, customer, card, result.ledger, end)
                          .render(locale).splitlines()]  # fmt: skip
            except CardBenefitsError as exc:
                lines.append(f"  {ladder.id}: {exc.message}")
    lines.append(f"{_t('summary', locale)}:")
    received: dict[str, dict[str, Decimal]] = {}
    for entry in result.ledger.entries(customer_id=customer_id):
        if entry.kind.value in ("grant", "clawback", "issue") and not entry.asset.startswith("funnel:"):
            per = received.setdefault(entry.programme_id, {})
            per[entry.asset] = per.get(entry.asset, Decimal(0)) + entry.signed_quantity
    programme_ids = [*(p.id for p in engine.programmes), *(x.id for x in engine.ladders), *funnels,
                     *simulation.referral_programmes]  # fmt: skip
    programme_ids += sorted(set(received) - set(programme_ids))
    for pid in programme_ids:
        got = {a: q for a, q in received.get(pid, {}).items() if q}
        if got:
            what = ", ".join(f"{q} {a}" for a, q in sorted(got.items()))
            lines.append(f"  {pid}: {_t('got', locale, what=what)}")
        elif pid in refusals:
            why = ", ".join(f"{code} x{n}" for code, n in refusals[pid].most_common())
            lines.append(f"  {pid}: {_t('nothing', locale, why=why)}")
        else:
            lines.append(f"  {pid}: {_t('untouched', locale)}")
    return "\n".join(lines)


def _checkout_lines(checkout: CheckoutOutcome, locale: str, refusals: dict[str, Counter[str]]) -> list[str]:
    """The lines of one checkout (or refund) of the watched customer."""
    lines = [
        "    " + _t("redeemed", locale, coupon=cid, template=template, value=value)
        for cid, template, value in checkout.redeemed
    ]
    lines += ["    " + _t("not_used", locale, coupon=cid, why=why) for cid, why in checkout.refused]
    for pay in checkout.funnel:
        status = "accepted" if pay.accepted else "refused"
        lines.append(f"    {pay.campaign_id}: {status}: {pay.render(locale)}")
        if not pay.accepted and pay.reasons:
            refusals.setdefault(pay.campaign_id, Counter())[pay.reasons[0].code] += 1
    lines += ["    " + _t("returned", locale, coupon=cid) for cid in checkout.returned]
    lines += ["    " + _t("kept", locale, coupon=cid, why=why) for cid, why in checkout.kept]
    return lines
