"""Builders of real facts for the engine tests."""

from __future__ import annotations

from typing import Any

import pendulum

from cardbenefits.engine import Decision, Engine
from cardbenefits.facts import CardHolding, Customer, Transaction
from cardbenefits.ledger import MemoryLedger
from cardbenefits.money import Money

TZ = "Asia/Shanghai"
AT = pendulum.datetime(2026, 11, 3, 12, tz=TZ)
APPROVED = pendulum.datetime(2026, 11, 2, tz=TZ)


def card(card_id: str = "k1", approved: Any = APPROVED, **kw: Any) -> CardHolding:
    return CardHolding(card_id, "mid_career", "gold", approved, **kw)


def customer(
    cid: str = "c1", person: str = "p1", cards: tuple[CardHolding, ...] | None = None, **kw: Any
) -> Customer:
    return Customer(cid, person, cards=(card(),) if cards is None else cards, **kw)


ALICE = customer()


def txn(
    i: int | str,
    amount: str,
    mcc: str = "5411",
    at: Any = AT,
    *,
    cid: str = "c1",
    card_id: str = "k1",
    kind: str = "purchase",
    channel: str = "pos",
    **kw: Any,
) -> Transaction:
    return Transaction(f"t{i}", cid, card_id, Money.of(amount), "m1", mcc, channel, kind, at, **kw)


def refund(
    i: int | str, of: str, amount: str, at: Any = AT, *, cid: str = "c1", card_id: str = "k1"
) -> Transaction:
    return Transaction(
        f"r{i}", cid, card_id, Money.of(amount), "m1", "5411", "pos", "refund", at, refund_of=of
    )


def run(engine: Engine, ledger: MemoryLedger, event: Transaction, who: Customer = ALICE) -> Decision:
    decision = engine.decide(who, event, ledger)
    ledger.apply(decision.batch)
    return decision
