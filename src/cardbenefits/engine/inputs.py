"""What the engine reads from facts: structural protocols for customers and events.

The engine depends on attribute names only, so the facts layer's classes (and test doubles)
both fit. Eligibility rules read the record built by ``record_of(customer)``.

>>> import pendulum
>>> from cardbenefits.money import Money
>>> t = SimpleTransaction("t1", "c1", Money.of(80), pendulum.datetime(2026, 11, 3, tz="Asia/Shanghai"))
>>> t.kind, t.posted_at is None
('purchase', True)
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import attrs

from cardbenefits.money import Money

__all__ = [
    "CustomerLike",
    "RefundLike",
    "SimpleCustomer",
    "SimpleRefund",
    "SimpleTransaction",
    "TransactionLike",
]


class TransactionLike(Protocol):
    """A card transaction as the engine reads it."""

    @property
    def id(self) -> str: ...
    @property
    def customer_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def amount(self) -> Money: ...
    @property
    def mcc(self) -> str | None: ...
    @property
    def channel(self) -> str | None: ...
    @property
    def merchant(self) -> str | None: ...
    @property
    def at(self) -> datetime: ...
    @property
    def posted_at(self) -> datetime | None: ...


class RefundLike(Protocol):
    """A refund or reversal of (part of) an earlier transaction."""

    @property
    def id(self) -> str: ...
    @property
    def customer_id(self) -> str: ...
    @property
    def original_id(self) -> str: ...
    @property
    def amount(self) -> Money: ...
    @property
    def at(self) -> datetime: ...


class CustomerLike(Protocol):
    """A customer (one card account) as the engine reads it."""

    @property
    def id(self) -> str: ...
    @property
    def person_id(self) -> str | None: ...
    @property
    def employer_group(self) -> str | None: ...
    @property
    def approved_at(self) -> datetime | None: ...
    @property
    def activated_at(self) -> datetime | None: ...
    @property
    def billing_day(self) -> int | None: ...


@attrs.frozen
class SimpleTransaction:
    """A minimal transaction (tests, benchmarks, synthetic streams)."""

    id: str
    customer_id: str
    amount: Money
    at: datetime
    kind: str = "purchase"
    mcc: str | None = "5411"
    channel: str | None = "pos"
    merchant: str | None = None
    posted_at: datetime | None = None


@attrs.frozen
class SimpleRefund:
    """A minimal refund of ``amount`` of transaction ``original_id``."""

    id: str
    customer_id: str
    original_id: str
    amount: Money
    at: datetime


@attrs.frozen
class SimpleCustomer:
    """A minimal customer: ids, card dates, billing day and employer group."""

    id: str
    person_id: str | None = None
    approved_at: datetime | None = None
    activated_at: datetime | None = None
    billing_day: int | None = None
    employer_group: str | None = None
