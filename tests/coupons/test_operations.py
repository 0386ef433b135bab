"""Coupon operations against the ledger: stock, caps, state machine, returns, idempotency."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardbenefits.coupons import (
    TRANSITIONS,
    CouponEvent,
    CouponPool,
    CouponState,
    CouponTemplate,
    InstantDiscount,
    ReturnPolicy,
    Validity,
    Wallet,
    expire_coupon,
    hold_coupon,
    issue_coupon,
    redeem_coupon,
    release_coupon,
    return_coupon,
)
from cardbenefits.errors import EngineError, LedgerError
from cardbenefits.ledger import MemoryLedger, SQLiteLedger
from cardbenefits.money import Money
from cardbenefits.rules import parse

START = pendulum.datetime(2026, 11, 1, 20, tz="Asia/Shanghai")


def template(policy: ReturnPolicy = ReturnPolicy.RETURN_IF_VALID, days: int = 3) -> CouponTemplate:
    return CouponTemplate(
        id="ljj",
        name="立减金",
        effect=InstantDiscount(Money.of(10)),
        validity=Validity(days=days),
        on_refund=policy,
    )


def test_transition_table_is_small_and_closed() -> None:
    assert len(TRANSITIONS) == 10
    assert {after for after in TRANSITIONS.values()} == set(CouponState)
    assert (CouponState.REDEEMED, CouponEvent.REDEEM) not in TRANSITIONS
    assert (CouponState.EXPIRED, CouponEvent.RETURN) not in TRANSITIONS


operation = st.tuples(
    st.sampled_from(["issue", "issue", "redeem", "hold", "release", "return", "expire", "retry"]),
    st.integers(0, 3),  # customer
    st.integers(0, 60),  # hours since the previous step
    st.integers(0, 9),  # which coupon / request
)


@settings(max_examples=120, deadline=None)
@given(st.lists(operation, max_size=40), st.sampled_from(list(ReturnPolicy)))
def test_random_operations_keep_every_invariant(
    ops: list[tuple[str, int, int, int]], policy: ReturnPolicy
) -> None:
    tpl = template(policy)
    pool = CouponPool(
        id="p", template_id="ljj", total_stock=6, daily_stock=2, per_customer=3, per_customer_daily=1
    )
    ledger = MemoryLedger()
    at = START
    issued = []
    last_batch = None
    holds: dict[str, str] = {}
    redeemed_for: dict[str, str] = {}
    for step, (op, cust, hours, pick) in enumerate(ops):
        at = at.add(hours=hours)
        decision = None
        coupon = issued[pick % len(issued)] if issued else None
        if op == "issue":
            decision = issue_coupon(
                pool, tpl, customer_id=f"c{cust}", request_id=f"r{step}", at=at, view=ledger
            )
        elif op == "retry" and last_batch is not None:
            assert ledger.apply(last_batch).already_applied
        elif coupon is None:
            continue
        elif op == "redeem":
            hold = holds.get(coupon.coupon_id)
            decision = redeem_coupon(coupon, payment_id=f"pay{step}", at=at, view=ledger, hold_id=hold)
        elif op == "hold":
            decision = hold_coupon(coupon, hold_id=f"h{step}", at=at, view=ledger)
        elif op == "release":
            decision = release_coupon(coupon, hold_id=holds.get(coupon.coupon_id, "none"), at=at, view=ledger)
        elif op == "return":
            payment = redeemed_for.get(coupon.coupon_id, "none")
            decision = return_coupon(coupon, refund_id=f"rf{step}", payment_id=payment, at=at, view=ledger)
        elif op == "expire":
            decision = expire_coupon(coupon, at=at, view=ledger)
        if decision is None or decision.batch is None:
            continue
        result = ledger.apply(decision.batch)
        # A repeated request (e.g. expiring twice) replays the stored decision: nothing new.
        assert result.applied or result.already_applied
        last_batch = decision.batch
        if decision.event is CouponEvent.ISSUE:
            assert decision.coupon is not None
            issued.append(decision.coupon)
        elif decision.event is CouponEvent.HOLD:
            holds[coupon.coupon_id] = decision.batch.entries[0].meta["hold_id"]  # type: ignore[union-attr]
        elif decision.event is CouponEvent.REDEEM:
            holds.pop(coupon.coupon_id, None)  # type: ignore[union-attr]
            redeemed_for[coupon.coupon_id] = decision.batch.entries[0].meta["payment_id"]  # type: ignore[union-attr]
        elif decision.event is CouponEvent.RELEASE:
            holds.pop(coupon.coupon_id, None)  # type: ignore[union-attr]
        # Never past any stock or cap.
        assert ledger.usage("stock:p") <= 6
        # The wallet replay agrees with what the decision said.
        status = Wallet.from_ledger(ledger, decision.coupon.customer_id, {"ljj": tpl}).get(  # type: ignore[union-attr]
            decision.coupon.coupon_id  # type: ignore[union-attr]
        )
        assert status is not None
        assert status.state is decision.state_after
    entries = ledger.entries()
    issues = [e for e in entries if e.meta.get("coupon_event") == "issue"]
    per_day = Counter(pool.local_date(e.at) for e in issues)
    per_customer = Counter(e.customer_id for e in issues)
    per_customer_day = Counter((e.customer_id, pool.local_date(e.at)) for e in issues)
    assert len(issues) <= 6
    assert max(per_day.values(), default=0) <= 2
    assert max(per_customer.values(), default=0) <= 3
    assert max(per_customer_day.values(), default=0) <= 1
    # Never redeemed twice without a return in between; returns follow the template.
    for coupon in issued:
        events = [e.meta["coupon_event"] for e in entries if e.meta.get("coupon_id") == coupon.coupon_id]
        outstanding = 0
        for event in events:
            outstanding += {"redeem": 1, "return": -1}.get(event, 0)
            assert outstanding in (0, 1)
        if policy is ReturnPolicy.NEVER:
            assert "return" not in events
        assert ledger.usage(f"use:coupon:{coupon.coupon_id}") in (0, 1)


def test_return_policies() -> None:
    for policy, refund_after, expected in [
        (ReturnPolicy.RETURN_IF_VALID, 1, CouponState.RETURNED),
        (ReturnPolicy.RETURN_IF_VALID, 5, CouponState.REDEEMED),
        (ReturnPolicy.ALWAYS, 5, CouponState.RETURNED),
        (ReturnPolicy.NEVER, 1, CouponState.REDEEMED),
    ]:
        tpl = template(policy)
        pool = CouponPool(id="p", template_id="ljj")
        ledger = MemoryLedger()
        coupon = issue_coupon(pool, tpl, customer_id="c", request_id="r", at=START, view=ledger)
        ledger.apply(coupon.batch)  # type: ignore[arg-type]
        assert coupon.coupon is not None
        ledger.apply(redeem_coupon(coupon.coupon, payment_id="p1", at=START, view=ledger).batch)  # type: ignore[arg-type]
        back = return_coupon(
            coupon.coupon, refund_id="rf", payment_id="p1", at=START.add(days=refund_after), view=ledger
        )
        if back.batch is not None:
            ledger.apply(back.batch)
        wallet = Wallet.from_ledger(ledger, "c", {"ljj": tpl})
        assert wallet.coupons[0].state is expected, policy
        usable_again = expected is CouponState.RETURNED and refund_after < 3
        assert bool(wallet.available(START.add(days=refund_after))) is usable_again


def test_operations_are_idempotent() -> None:
    tpl = template()
    pool = CouponPool(id="p", template_id="ljj", total_stock=1)
    ledger = MemoryLedger()
    first = issue_coupon(pool, tpl, customer_id="c", request_id="r", at=START, view=ledger)
    assert ledger.apply(first.batch).applied  # type: ignore[arg-type]
    again = issue_coupon(pool, tpl, customer_id="c", request_id="r", at=START, view=ledger)
    assert again.batch == first.batch
    assert ledger.apply(again.batch).already_applied  # type: ignore[arg-type]
    assert ledger.usage("stock:p") == 1


def test_eligibility_rule_is_checked_at_issue() -> None:
    tpl = CouponTemplate(
        id="silver", name="银发", effect=InstantDiscount(Money.of(5)), eligibility=parse("age >= 60")
    )
    pool = CouponPool(id="s", template_id="silver")
    ledger = MemoryLedger()
    young = issue_coupon(
        pool, tpl, customer_id="c", request_id="r", at=START, view=ledger, record={"age": 30}
    )
    assert young.refusal == "not eligible: age >= 60"
    old = issue_coupon(pool, tpl, customer_id="c", request_id="r", at=START, view=ledger, record={"age": 66})
    assert old.ok
    with pytest.raises(EngineError, match="customer record"):
        issue_coupon(pool, tpl, customer_id="c", request_id="r2", at=START, view=ledger)


def test_daily_stock_resets_at_local_midnight() -> None:
    tpl = template()
    pool = CouponPool(id="p", template_id="ljj", daily_stock=1)
    ledger = MemoryLedger()
    late = pendulum.datetime(2026, 11, 1, 23, 59, tz="Asia/Shanghai")
    ok = issue_coupon(pool, tpl, customer_id="a", request_id="1", at=late, view=ledger)
    ledger.apply(ok.batch)  # type: ignore[arg-type]
    assert issue_coupon(pool, tpl, customer_id="b", request_id="2", at=late, view=ledger).refusal == (
        "daily stock exhausted"
    )
    midnight = issue_coupon(pool, tpl, customer_id="b", request_id="3", at=late.add(minutes=1), view=ledger)
    assert midnight.ok


def _race(path: Path, jobs: list[object], work: object) -> list[object]:
    results: list[object] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(jobs))

    def run(job: object) -> None:
        ledger = SQLiteLedger(path)
        barrier.wait()
        outcome = work(ledger, job)  # type: ignore[operator]
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_sqlite_writers_never_exceed_stock(tmp_path: Path) -> None:
    tpl = template()
    pool = CouponPool(id="p", template_id="ljj", total_stock=5, daily_stock=3)
    path = tmp_path / "ledger.db"
    SQLiteLedger(path)

    def claim(ledger: SQLiteLedger, job: object) -> bool:
        day, n = job  # type: ignore[misc]
        at = START.add(days=day)
        decision = issue_coupon(pool, tpl, customer_id=f"c{n}", request_id=f"{day}-{n}", at=at, view=ledger)
        if decision.batch is None:
            return False
        try:
            return ledger.try_apply(decision.batch).applied
        except LedgerError:
            return False

    jobs: list[object] = [(day, n) for day in (0, 1) for n in range(8)]
    outcomes = _race(path, jobs, claim)
    ledger = SQLiteLedger(path)
    assert sum(bool(o) for o in outcomes) == 5 == ledger.usage("stock:p")
    # Both days race at once: either day may fill its daily stock first.
    daily = sorted([ledger.usage("stock:p:2026-11-01"), ledger.usage("stock:p:2026-11-02")])
    assert daily == [2, 3]


def test_concurrent_redemptions_of_one_coupon_succeed_once(tmp_path: Path) -> None:
    tpl = template()
    pool = CouponPool(id="p", template_id="ljj")
    path = tmp_path / "ledger.db"
    setup = SQLiteLedger(path)
    issued = issue_coupon(pool, tpl, customer_id="c", request_id="r", at=START, view=setup)
    setup.apply(issued.batch)  # type: ignore[arg-type]
    coupon = issued.coupon
    assert coupon is not None
    # Every writer decides first (all see the coupon usable), then they race to apply.
    decisions = [redeem_coupon(coupon, payment_id=f"pay{i}", at=START, view=setup) for i in range(6)]

    def apply(ledger: SQLiteLedger, job: object) -> bool:
        try:
            return ledger.try_apply(job).applied  # type: ignore[arg-type]
        except LedgerError:
            return False

    outcomes = _race(path, [d.batch for d in decisions], apply)
    assert sum(bool(o) for o in outcomes) == 1
    wallet = Wallet.from_ledger(SQLiteLedger(path), "c", {"ljj": tpl})
    assert wallet.coupons[0].state is CouponState.REDEEMED
