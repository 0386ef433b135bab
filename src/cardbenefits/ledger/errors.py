"""Errors the ledger raises when it refuses a batch.

All derive from :class:`cardbenefits.errors.LedgerError`; a refused batch changes nothing.
:class:`CounterLimitExceededError` is the :class:`~cardbenefits.errors.LimitExceededError`
the engine reports as "which limit stopped it": it carries the counter, its limit, the usage
before the batch and the batch's net request as structured fields.

>>> from decimal import Decimal
>>> err = CounterLimitExceededError("budget:cashback50", limit=Decimal(100), usage=Decimal(98),
...                                 delta=Decimal(5))
>>> str(err)
"budget:cashback50: limit 100 exceeded: usage 98 + requested 5 = 103 (got Decimal('5'))"
>>> err.counter, err.limit, err.usage, err.delta, err.excess
('budget:cashback50', Decimal('100'), Decimal('98'), Decimal('5'), Decimal('3'))
>>> from cardbenefits.errors import LimitExceededError
>>> isinstance(err, LimitExceededError)
True
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cardbenefits.errors import LedgerError, LimitExceededError

__all__ = ["CounterLimitExceededError", "CounterUnderflowError", "IdempotencyConflictError"]


class CounterLimitExceededError(LimitExceededError):
    """A batch's net charge on ``counter`` would take it past ``limit``; nothing was applied.

    ``usage`` is the counter's value before the batch, ``delta`` the batch's net request on it
    (the sum of all its charges on that counter).
    """

    def __init__(self, counter: str, *, limit: Decimal, usage: Decimal, delta: Decimal) -> None:
        self.counter = counter
        self.limit = limit
        self.usage = usage
        self.delta = delta
        super().__init__(
            f"limit {limit} exceeded: usage {usage} + requested {delta} = {usage + delta}",
            path=counter,
            value=delta,
        )

    @property
    def excess(self) -> Decimal:
        """By how much the request overshoots the limit."""
        return self.usage + self.delta - self.limit

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_limit, (self.counter, self.limit, self.usage, self.delta))


def _rebuild_limit(counter: str, limit: Decimal, usage: Decimal, delta: Decimal) -> CounterLimitExceededError:
    return CounterLimitExceededError(counter, limit=limit, usage=usage, delta=delta)


class CounterUnderflowError(LedgerError):
    """A batch would release more than was ever charged, taking ``counter`` below zero.

    >>> str(CounterUnderflowError("stock:prize:iphone", usage=Decimal(1), delta=Decimal(-2)))
    "stock:prize:iphone: cannot release below zero: usage 1 + release -2 = -1 (got Decimal('-2'))"
    """

    def __init__(self, counter: str, *, usage: Decimal, delta: Decimal) -> None:
        self.counter = counter
        self.usage = usage
        self.delta = delta
        super().__init__(
            f"cannot release below zero: usage {usage} + release {delta} = {usage + delta}",
            path=counter,
            value=delta,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_underflow, (self.counter, self.usage, self.delta))


def _rebuild_underflow(counter: str, usage: Decimal, delta: Decimal) -> CounterUnderflowError:
    return CounterUnderflowError(counter, usage=usage, delta=delta)


class IdempotencyConflictError(LedgerError):
    """An idempotency key was reused for a batch with different content.

    Replaying the *same* batch is harmless (the ledger reports ``already_applied``); reusing a
    key for other entries means two decisions collided, which the ledger never resolves.

    >>> str(IdempotencyConflictError("txn-1"))
    "idempotency_key: key already applied with different entries (got 'txn-1')"
    """

    def __init__(self, idempotency_key: str) -> None:
        self.idempotency_key = idempotency_key
        super().__init__(
            "key already applied with different entries", path="idempotency_key", value=idempotency_key
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (IdempotencyConflictError, (self.idempotency_key,))
