"""An in-memory ledger: plain dicts, O(entries) per batch, for tests and what-if simulations.

>>> import pendulum
>>> from cardbenefits.ledger.entries import Charge, EntryBatch, LedgerEntry
>>> def stamp(customer: str, points: int) -> LedgerEntry:
...     return LedgerEntry(kind="grant", customer_id=customer, programme_id="welcome", asset="points",
...                        units=points, at=pendulum.datetime(2026, 11, 1, tz="Asia/Shanghai"),
...                        catalog_version="v1", reason="first_spend",
...                        charges=[Charge("stock:welcome", 1, 2)])
>>> ledger = MemoryLedger()
>>> ledger.apply(EntryBatch.of("e1", [stamp("c1", 100)])).applied
True
>>> ledger.apply(EntryBatch.of("e1", [stamp("c1", 100)])).already_applied
True
>>> ledger.apply(EntryBatch.of("e2", [stamp("c2", 100)])).applied
True
>>> ledger.try_apply(EntryBatch.of("e3", [stamp("c3", 100)])).refusal
CounterLimitExceededError(...)
>>> ledger.usage("stock:welcome"), ledger.balance("c1", "points"), ledger.has_applied("e3")
(Decimal('2'), Decimal('100'), False)
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from decimal import Decimal

from cardbenefits.ledger.entries import EntryBatch, EntryKind, LedgerEntry
from cardbenefits.ledger.errors import CounterLimitExceededError, IdempotencyConflictError
from cardbenefits.ledger.protocol import ApplyResult, plan_charges

__all__ = ["CounterBook", "MemoryLedger"]

_ZERO = Decimal(0)
# EntryKind.sign per kind, read without the property on the hot path
_SIGNS = {kind: kind.sign for kind in EntryKind}


class CounterBook:
    """What the in-memory ledgers share: counters, limits, balances and applied batches.

    :meth:`_admit` is the head of every ``apply``: the idempotency check and the all-or-nothing
    charge of a batch's net counter movements. The reading methods answer from the counters and
    balances, which both adapters keep in full.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, Decimal] = {}
        self._limits: dict[str, Decimal] = {}
        self._balances: dict[tuple[str, str], Decimal] = {}
        self._batches: dict[str, EntryBatch] = {}

    def _admit(self, batch: EntryBatch) -> ApplyResult | None:
        """The answer for an already-applied key, or ``None`` once the batch's charges are made.

        The caller holds the lock. ``plan_charges`` raises before anything is written, so a
        refused batch changes nothing.
        """
        key = batch.idempotency_key
        previous = self._batches.get(key)
        if previous is not None:
            if previous != batch:
                raise IdempotencyConflictError(key)
            return ApplyResult(applied=False, already_applied=True, entries=previous.entries)
        if batch.entries:
            net = batch.net_charges()
            if net:
                self._counters.update(plan_charges(net, self._counters))
                limits = self._limits
                for counter, (_delta, limit) in net.items():
                    if limit is not None:
                        limits[counter] = limit
        self._batches[key] = batch
        return None

    def _add_balances(self, entries: tuple[LedgerEntry, ...]) -> None:
        """Move the customers' balances by the entries' signed quantities (lock held)."""
        balances = self._balances
        for entry in entries:
            amount = entry.amount
            quantity = amount.amount if amount is not None else entry.units
            if _SIGNS[entry.kind] < 0:
                quantity = -quantity
            balance_key = (entry.customer_id, entry.asset)
            balances[balance_key] = balances.get(balance_key, _ZERO) + quantity

    def apply(self, batch: EntryBatch) -> ApplyResult:  # pragma: no cover - adapters override
        """Append ``batch`` atomically (each adapter implements it)."""
        raise NotImplementedError

    def try_apply(self, batch: EntryBatch) -> ApplyResult:
        """Like :meth:`apply`, returning a limit refusal instead of raising it."""
        try:
            return self.apply(batch)
        except CounterLimitExceededError as refusal:
            return ApplyResult(applied=False, already_applied=False, refusal=refusal)

    def apply_many(self, batches: Iterable[EntryBatch]) -> list[ApplyResult]:
        """:meth:`try_apply` each batch in order; limit refusals are returned, other errors raised.

        Batches before a raised error stay applied (as with the SQLite adapter's one-commit
        version).
        """
        return [self.try_apply(batch) for batch in batches]

    def usage(self, counter: str) -> Decimal:
        """The counter's current value (zero for a counter never charged)."""
        return self._counters.get(counter, _ZERO)

    def usages(self, counters: Iterable[str]) -> dict[str, Decimal]:
        """Current values of several counters."""
        with self._lock:
            return {c: self._counters.get(c, _ZERO) for c in counters}

    def limit(self, counter: str) -> Decimal | None:
        """The limit most recently stated for the counter (for monitoring budget burn)."""
        return self._limits.get(counter)

    def counters(self) -> dict[str, Decimal]:
        """A snapshot of every counter ever charged, by name."""
        with self._lock:
            return dict(sorted(self._counters.items()))

    def balance(self, customer_id: str, asset: str) -> Decimal:
        """Signed sum of the customer's entries in ``asset``."""
        return self._balances.get((customer_id, asset), _ZERO)


class MemoryLedger(CounterBook):
    """A :class:`~cardbenefits.ledger.protocol.Ledger` held in process memory.

    Thread-safe (one lock around each apply); not shared between processes and not durable.
    Reads return the stored objects, which are immutable.
    """

    def __init__(self) -> None:
        super().__init__()
        self._entries: list[LedgerEntry] = []
        self._by_id: dict[str, LedgerEntry] = {}
        self._by_customer: dict[str, list[LedgerEntry]] = {}
        self._by_programme: dict[str, list[LedgerEntry]] = {}
        self._by_ref: dict[str, list[LedgerEntry]] = {}

    # -- writing ----------------------------------------------------------------------------
    def apply(self, batch: EntryBatch) -> ApplyResult:
        """Append ``batch`` atomically; see :class:`~cardbenefits.ledger.protocol.Ledger`."""
        with self._lock:
            done = self._admit(batch)
            if done is not None:
                return done
            entries = batch.entries
            if entries:
                self._index(entries)
                self._add_balances(entries)
            return ApplyResult(applied=True, already_applied=False, entries=entries)

    def _index(self, entries: tuple[LedgerEntry, ...]) -> None:
        """Append entries to the log and the lookups (the caller holds the lock)."""
        self._entries.extend(entries)
        by_id, by_customer, by_programme, by_ref = (
            self._by_id,
            self._by_customer,
            self._by_programme,
            self._by_ref,
        )
        for entry in entries:
            by_id[entry.entry_id] = entry
            customer_id = entry.customer_id
            found = by_customer.get(customer_id)
            if found is None:
                by_customer[customer_id] = [entry]
            else:
                found.append(entry)
            found = by_programme.get(entry.programme_id)
            if found is None:
                by_programme[entry.programme_id] = [entry]
            else:
                found.append(entry)
            ref = entry.ref
            if ref is not None:
                found = by_ref.get(ref)
                if found is None:
                    by_ref[ref] = [entry]
                else:
                    found.append(entry)

    # -- reading ----------------------------------------------------------------------------
    def entries(
        self, *, customer_id: str | None = None, programme_id: str | None = None, ref: str | None = None
    ) -> list[LedgerEntry]:
        """Entries matching every given filter, in application order."""
        with self._lock:
            candidates: list[LedgerEntry] = self._entries
            # Start from the narrowest index; entries within each index are in application order.
            for index, key in (
                (self._by_ref, ref),
                (self._by_customer, customer_id),
                (self._by_programme, programme_id),
            ):
                if key is not None:
                    found = index.get(key, [])
                    if len(found) < len(candidates) or candidates is self._entries:
                        candidates = found
            return [
                e
                for e in candidates
                if (customer_id is None or e.customer_id == customer_id)
                and (programme_id is None or e.programme_id == programme_id)
                and (ref is None or e.ref == ref)
            ]

    def has_applied(self, idempotency_key: str) -> bool:
        """True once a batch with this key has been applied."""
        return idempotency_key in self._batches

    def entry(self, entry_id: str) -> LedgerEntry | None:
        """The entry with this id, or ``None``."""
        return self._by_id.get(entry_id)

    def batches(self) -> Iterator[EntryBatch]:
        """Every applied batch in application order (a snapshot)."""
        with self._lock:
            snapshot = list(self._batches.values())
        return iter(snapshot)

    def __len__(self) -> int:
        """Number of entries."""
        return len(self._entries)
