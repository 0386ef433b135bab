"""The ledger's two faces: a read-only :class:`LedgerView` for the engine, a :class:`Ledger` to apply.

The engine is pure: it reads usages and balances through a :class:`LedgerView`, decides, and
returns an :class:`~cardbenefits.ledger.entries.EntryBatch`. The caller hands the batch to
:meth:`Ledger.apply`, which is

* **idempotent** — the same key again changes nothing and reports ``already_applied``; the same
  key with different entries raises
  :class:`~cardbenefits.ledger.errors.IdempotencyConflictError`;
* **atomic** — all entries and counter movements, or none;
* **limit-safe** — it raises :class:`~cardbenefits.ledger.errors.CounterLimitExceededError`
  when the batch's net charge on a counter would pass the limit stated on the charge, even
  when other writers raced it (the check and the update happen in one transaction).

:func:`plan_charges` is the single rule both adapters use, so they refuse the same batches.

>>> from decimal import Decimal as D
>>> plan_charges({"stock:cup": (D(2), D(10)), "budget:p": (D(-5), None)},
...              {"stock:cup": D(7), "budget:p": D(20)})
{'budget:p': Decimal('15'), 'stock:cup': Decimal('9')}
>>> try:
...     plan_charges({"stock:cup": (D(4), D(10))}, {"stock:cup": D(7)})
... except CounterLimitExceededError as refusal:
...     print(refusal)
stock:cup: limit 10 exceeded: usage 7 + requested 4 = 11 (got Decimal('4'))
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Protocol, runtime_checkable

import attrs

from cardbenefits.ledger.entries import EntryBatch, LedgerEntry
from cardbenefits.ledger.errors import CounterLimitExceededError, CounterUnderflowError

__all__ = ["ApplyResult", "Ledger", "LedgerView", "plan_charges"]

_ZERO = Decimal(0)


def plan_charges(
    net: Mapping[str, tuple[Decimal, Decimal | None]], usages: Mapping[str, Decimal]
) -> dict[str, Decimal]:
    """The counters' new usages after a batch's net charges, or the refusal.

    ``net`` is :meth:`EntryBatch.net_charges`; ``usages`` the current values (missing: zero).
    Counters are checked in name order so every adapter names the same counter first. A net
    increase must stay within the limit (when one is given); a net decrease may never take a
    counter below zero; zero-net counters are untouched and omitted.
    """
    planned: dict[str, Decimal] = {}
    for counter in sorted(net):
        delta, limit = net[counter]
        if delta == 0:
            continue
        usage = usages.get(counter, _ZERO)
        after = usage + delta
        if delta > 0:
            if limit is not None and after > limit:
                raise CounterLimitExceededError(counter, limit=limit, usage=usage, delta=delta)
        elif after < 0:
            raise CounterUnderflowError(counter, usage=usage, delta=delta)
        planned[counter] = after
    return planned


@attrs.frozen
class ApplyResult:
    """What :meth:`Ledger.apply` did with a batch.

    ``applied``: the entries were appended now. ``already_applied``: the key had been applied
    before (``entries`` are the stored ones). ``refusal``: set only by :meth:`Ledger.try_apply`
    when a limit stopped the batch (then nothing was applied).
    """

    applied: bool
    already_applied: bool
    entries: tuple[LedgerEntry, ...] = ()
    refusal: CounterLimitExceededError | None = attrs.field(default=None, eq=False)

    @property
    def refused(self) -> bool:
        """True when a limit stopped the batch."""
        return self.refusal is not None


@runtime_checkable
class LedgerView(Protocol):
    """Read-only access to a ledger: what the engine may look at while deciding."""

    def usage(self, counter: str) -> Decimal:
        """The counter's current value (zero for a counter never charged)."""
        ...

    def usages(self, counters: Iterable[str]) -> dict[str, Decimal]:
        """Current values of several counters at once (one read, consistent)."""
        ...

    def balance(self, customer_id: str, asset: str) -> Decimal:
        """Signed sum of the customer's entries in ``asset`` (money in yuan, else units)."""
        ...

    def entries(
        self, *, customer_id: str | None = None, programme_id: str | None = None, ref: str | None = None
    ) -> list[LedgerEntry]:
        """Entries matching every given filter, in application order."""
        ...

    def has_applied(self, idempotency_key: str) -> bool:
        """True once a batch with this key has been applied."""
        ...

    def entry(self, entry_id: str) -> LedgerEntry | None:
        """The entry with this id, or ``None``."""
        ...

    def batches(self) -> Iterator[EntryBatch]:
        """Every applied batch (empty ones included), in application order."""
        ...


@runtime_checkable
class Ledger(LedgerView, Protocol):
    """A :class:`LedgerView` that can also append batches atomically and idempotently."""

    def apply(self, batch: EntryBatch) -> ApplyResult:
        """Append the batch, or raise a :class:`~cardbenefits.errors.LedgerError` and change nothing."""
        ...

    def try_apply(self, batch: EntryBatch) -> ApplyResult:
        """Like :meth:`apply`, but a limit refusal is returned in ``refusal`` instead of raised."""
        ...
