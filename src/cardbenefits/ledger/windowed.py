"""A bounded-memory in-process ledger for long simulations: history older than a horizon is evicted.

:class:`MemoryLedger` keeps every batch and entry, so its memory grows with the number of grants.
:class:`WindowedLedger` keeps in full only what is small — counter usages and limits (one value
per counter) and balances (one value per customer and asset) — and keeps batches, entries and
idempotency keys only while they are within ``horizon`` of the newest entry time seen (the
*watermark*). It satisfies the :class:`~cardbenefits.ledger.protocol.Ledger` protocol and refuses
exactly the batches :class:`MemoryLedger` refuses (same :func:`plan_charges`, same full counters).

What changes once history passes the horizon (a batch is evicted when the newest ``at`` of its
entries is older than ``watermark - horizon``; an empty batch is stamped with the watermark when it
is applied):

* :meth:`~WindowedLedger.has_applied` is ``False`` for an evicted key, so a replay of an event older
  than the horizon is **not** recognised as applied and would be applied again;
* :meth:`~WindowedLedger.entry` is ``None`` and :meth:`~WindowedLedger.entries` omit evicted entries,
  so a refund of a purchase older than the horizon finds no grant to claw back, a coupon issued
  before the horizon is not in the wallet, and ladder/group progress read from entries only sees
  the window;
* state the engine rebuilds from entries is lost with them, and some of that fails loudly rather
  than silently: with a horizon shorter than a funnel campaign, a customer's funnel stage resets
  (a later ``draw`` is refused as not allowed from ``new``) and with one shorter than a coupon's
  validity a redemption finds a coupon "never issued" — both raise
  :class:`~cardbenefits.simulate.io.SimulationError` in a replay. Choose a horizon at least as long
  as the longest campaign, coupon validity and ladder/group period in the catalog (e.g. 90 days);
* :meth:`~WindowedLedger.batches` (and so :func:`~cardbenefits.ledger.export.export_jsonl` and
  reports built from batches) only yields retained batches.

Counters and balances are never evicted, so caps, budgets and stock stay exact. Lookups that miss
on a key, entry id or ref that was evicted are counted in :attr:`WindowedLedger.evicted_lookups`
(evicted keys and refs are remembered in a fixed-size Bloom filter, so the count is an upper
estimate: a never-seen key may collide with an evicted one, at a rate that grows as the filter
fills — with the default 2**27 bits (16 MiB) about 0.5% after 10 million remembered keys and refs,
4% after 20 million; raise ``bloom_bits_log2`` for longer runs). A non-empty batch whose entries
are all older than the horizon when it arrives is applied (it may be the replay of an evicted key:
its counter charges and balance movements count again), evicted at once and counted in
:attr:`WindowedLedger.late_batches`.

Counters are kept even when period-scoped (``cap:...:2026-11``): they grow with customers times
periods, not with events (about 4,500 for 100k transactions of 2k customers over four months).

>>> from datetime import timedelta
>>> import pendulum
>>> from cardbenefits.ledger.entries import Charge, EntryBatch, LedgerEntry
>>> def grant(key: str, day: int) -> EntryBatch:
...     return EntryBatch.of(key, [LedgerEntry(
...         kind="grant", customer_id="c1", programme_id="p", asset="points", units=10,
...         at=pendulum.datetime(2026, 1, day, tz="Asia/Shanghai"), catalog_version="v1",
...         ref=key, reason="r", charges=[Charge("budget:p", 10, 1000)])])
>>> ledger = WindowedLedger(horizon=timedelta(days=7))
>>> [ledger.apply(grant(f"t{day}", day)).applied for day in (1, 5, 20)]
[True, True, True]
>>> ledger.has_applied("t1"), ledger.has_applied("t20"), ledger.entries(ref="t5")
(False, True, [])
>>> ledger.balance("c1", "points"), ledger.usage("budget:p"), len(ledger)
(Decimal('30'), Decimal('30'), 1)
>>> ledger.evicted_lookups, ledger.stats().evicted_batches
(2, 2)
>>> parse_horizon("90d"), parse_horizon("12h")
(datetime.timedelta(days=90), datetime.timedelta(seconds=43200))
"""

from __future__ import annotations

import heapq
import re
from collections import deque
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta

import attrs

from cardbenefits.errors import CardBenefitsError
from cardbenefits.ledger.entries import EntryBatch, LedgerEntry, split_entry_id
from cardbenefits.ledger.memory import CounterBook
from cardbenefits.ledger.protocol import ApplyResult

__all__ = ["WindowStats", "WindowedLedger", "parse_horizon"]

_HORIZON = re.compile(r"^\s*(?P<n>\d+)\s*(?P<unit>[dh])\s*$")
_REF_SALT = 0x5DEECE66D
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _micros(at: datetime) -> int:
    """Microseconds since the epoch, exactly (the base class's subtraction: no pendulum overhead)."""
    return datetime.__sub__(at, _EPOCH) // _MICROSECOND


def parse_horizon(text: str) -> timedelta:
    """A horizon written as ``<N>d`` (days) or ``<N>h`` (hours), N > 0.

    >>> parse_horizon("30d")
    datetime.timedelta(days=30)
    >>> parse_horizon("soon")
    Traceback (most recent call last):
    ...
    cardbenefits.errors.CardBenefitsError: horizon: horizon is <N>d or <N>h, e.g. 90d (got 'soon')
    """
    match = _HORIZON.match(text)
    if match is None or int(match["n"]) <= 0:
        raise CardBenefitsError("horizon is <N>d or <N>h, e.g. 90d", path="horizon", value=text)
    n = int(match["n"])
    return timedelta(days=n) if match["unit"] == "d" else timedelta(hours=n)


@attrs.frozen
class WindowStats:
    """What a :class:`WindowedLedger` holds and has forgotten (see the module docstring)."""

    retained_batches: int
    retained_entries: int
    evicted_batches: int
    evicted_entries: int
    evicted_lookups: int
    late_batches: int
    counters: int
    balances: int


class _Bloom:
    """A fixed-size Bloom filter of string hashes (per-process ``hash``; never persisted)."""

    __slots__ = ("_bits", "_mask")

    def __init__(self, bits_log2: int) -> None:
        self._bits = bytearray(1 << (bits_log2 - 3))
        self._mask = (1 << bits_log2) - 1

    def _positions(self, h: int) -> tuple[int, int, int, int]:
        mask = self._mask
        h2 = (h >> 32) | 1
        return (h & mask, (h + h2) & mask, (h + 2 * h2) & mask, (h + 3 * h2) & mask)

    def add(self, h: int) -> None:
        bits = self._bits
        for p in self._positions(h):
            bits[p >> 3] |= 1 << (p & 7)

    def __contains__(self, h: int) -> bool:
        bits = self._bits
        return all(bits[p >> 3] & (1 << (p & 7)) for p in self._positions(h))


class WindowedLedger(CounterBook):
    """A :class:`~cardbenefits.ledger.protocol.Ledger` in process memory that forgets old history.

    ``horizon``: how far behind the newest entry time a batch is kept. ``bloom_bits_log2``: size of
    the filter remembering evicted keys and refs for :attr:`evicted_lookups` (2**27 bits = 16 MiB).
    Thread-safe like :class:`~cardbenefits.ledger.memory.MemoryLedger`; not durable.
    """

    def __init__(self, horizon: timedelta, *, bloom_bits_log2: int = 27) -> None:
        if not isinstance(horizon, timedelta) or horizon <= timedelta(0):
            raise CardBenefitsError("horizon must be a positive timedelta", path="horizon", value=horizon)
        if not 10 <= bloom_bits_log2 <= 34:
            raise CardBenefitsError(
                "bloom_bits_log2 must be between 10 and 34", path="bloom_bits_log2", value=bloom_bits_log2
            )
        super().__init__()
        self.horizon = horizon
        self._entries: dict[str, LedgerEntry] = {}  # by id, in application order
        # lists for the many small indexes (a deque costs ~600 bytes even when empty), a deque
        # for the few large per-programme ones (evicted from the front)
        self._by_customer: dict[str, list[LedgerEntry]] = {}
        self._by_programme: dict[str, deque[LedgerEntry]] = {}
        self._by_ref: dict[str, list[LedgerEntry]] = {}
        self._horizon_us = horizon // _MICROSECOND
        # stamps and the cutoff in microseconds since the epoch: cheap exact comparisons
        self._heap: list[tuple[int, int, str]] = []
        self._unstamped: list[tuple[int, str]] = []
        self._seq = 0
        self._watermark: datetime | None = None
        self._watermark_us = 0
        self._cutoff: int | None = None
        self._evicted = _Bloom(bloom_bits_log2)
        self._evicted_batches = 0
        self._evicted_entries = 0
        self._late = 0
        self.evicted_lookups = 0
        """Lookups (has_applied, entry, entries(ref=)) that missed a key, id or ref evicted earlier."""

    # -- writing ----------------------------------------------------------------------------
    def apply(self, batch: EntryBatch) -> ApplyResult:
        """Append ``batch`` atomically; see :class:`~cardbenefits.ledger.protocol.Ledger`."""
        key = batch.idempotency_key
        with self._lock:
            done = self._admit(batch)
            if done is not None:
                return done
            entries = batch.entries
            self._seq += 1
            if entries:
                self._index(entries)
                self._add_balances(entries)
                newest = max(e.at for e in entries) if len(entries) > 1 else entries[0].at
                stamp = _micros(newest)
                heapq.heappush(self._heap, (stamp, self._seq, key))
                if self._watermark is None or stamp > self._watermark_us:
                    self._advance(newest, stamp)
                elif self._cutoff is not None and stamp < self._cutoff:
                    self._late += 1
                    self._evict_before(self._cutoff)
            elif self._watermark is None:
                self._unstamped.append((self._seq, key))
            else:
                heapq.heappush(self._heap, (self._watermark_us, self._seq, key))
            return ApplyResult(applied=True, already_applied=False, entries=entries)

    def _advance(self, watermark: datetime, stamp: int) -> None:
        """Move the watermark and evict every batch stamped before the new cutoff (lock held)."""
        if self._watermark is None:
            for seq, key in self._unstamped:
                self._heap.append((stamp, seq, key))
            self._unstamped.clear()
            heapq.heapify(self._heap)
        self._watermark, self._watermark_us = watermark, stamp
        self._cutoff = stamp - self._horizon_us
        self._evict_before(self._cutoff)

    def _evict_before(self, cutoff: int) -> None:
        heap = self._heap
        while heap and heap[0][0] < cutoff:
            _stamp, _seq, key = heapq.heappop(heap)
            self._evict(self._batches.pop(key))

    def _evict(self, batch: EntryBatch) -> None:
        self._evicted_batches += 1
        self._evicted.add(hash(batch.idempotency_key))
        for entry in batch.entries:
            self._evicted_entries += 1
            del self._entries[entry.entry_id]
            _unlink_list(self._by_customer, entry.customer_id, entry)
            _unlink(self._by_programme, entry.programme_id, entry)
            ref = entry.ref
            if ref is not None:
                _unlink_list(self._by_ref, ref, entry)
                self._evicted.add(hash(ref) ^ _REF_SALT)

    def _index(self, entries: tuple[LedgerEntry, ...]) -> None:
        """Add entries to the log and the lookups (the caller holds the lock)."""
        for entry in entries:
            self._entries[entry.entry_id] = entry
            _link_list(self._by_customer, entry.customer_id, entry)
            _link(self._by_programme, entry.programme_id, entry)
            if entry.ref is not None:
                _link_list(self._by_ref, entry.ref, entry)

    # -- reading: counters and balances come from CounterBook and are never evicted ------
    def entries(
        self, *, customer_id: str | None = None, programme_id: str | None = None, ref: str | None = None
    ) -> list[LedgerEntry]:
        """Retained entries matching every given filter, in application order."""
        with self._lock:
            candidates: Iterable[LedgerEntry] = self._entries.values()
            size = len(self._entries)
            narrowed = False
            for index, key in (
                (self._by_ref, ref),
                (self._by_customer, customer_id),
                (self._by_programme, programme_id),
            ):
                if key is not None:
                    found = index.get(key, ())
                    if not narrowed or len(found) < size:
                        candidates, size, narrowed = found, len(found), True
            result = [
                e
                for e in candidates
                if (customer_id is None or e.customer_id == customer_id)
                and (programme_id is None or e.programme_id == programme_id)
                and (ref is None or e.ref == ref)
            ]
            if (
                ref is not None
                and not result
                and self._evicted_batches
                and (hash(ref) ^ _REF_SALT) in self._evicted
            ):
                self.evicted_lookups += 1
            return result

    def has_applied(self, idempotency_key: str) -> bool:
        """True while a batch with this key is retained (``False`` once it is evicted)."""
        if idempotency_key in self._batches:
            return True
        if self._evicted_batches and hash(idempotency_key) in self._evicted:
            self.evicted_lookups += 1
        return False

    def entry(self, entry_id: str) -> LedgerEntry | None:
        """The retained entry with this id, or ``None``."""
        found = self._entries.get(entry_id)
        if found is None:
            try:
                key, _index = split_entry_id(entry_id)
            except CardBenefitsError:
                return None
            if hash(key) in self._evicted:
                self.evicted_lookups += 1
        return found

    def batches(self) -> Iterator[EntryBatch]:
        """Every retained batch in application order (a snapshot)."""
        with self._lock:
            snapshot = list(self._batches.values())
        return iter(snapshot)

    @property
    def watermark(self) -> datetime | None:
        """The newest entry time seen (UTC), or ``None`` before the first entry."""
        return self._watermark

    @property
    def late_batches(self) -> int:
        """Non-empty batches whose entries were all older than the horizon when applied."""
        return self._late

    def stats(self) -> WindowStats:
        """Counts of what is retained and what was forgotten."""
        with self._lock:
            return WindowStats(
                retained_batches=len(self._batches),
                retained_entries=len(self._entries),
                evicted_batches=self._evicted_batches,
                evicted_entries=self._evicted_entries,
                evicted_lookups=self.evicted_lookups,
                late_batches=self._late,
                counters=len(self._counters),
                balances=len(self._balances),
            )

    def __len__(self) -> int:
        """Number of retained entries."""
        return len(self._entries)


def _link(index: dict[str, deque[LedgerEntry]], key: str, entry: LedgerEntry) -> None:
    found = index.get(key)
    if found is None:
        index[key] = deque((entry,))
    else:
        found.append(entry)


def _unlink(index: dict[str, deque[LedgerEntry]], key: str, entry: LedgerEntry) -> None:
    found = index[key]
    if found[0] is entry:
        found.popleft()
    else:  # applied out of time order: rare, linear
        found.remove(entry)
    if not found:
        del index[key]


def _link_list(index: dict[str, list[LedgerEntry]], key: str, entry: LedgerEntry) -> None:
    found = index.get(key)
    if found is None:
        index[key] = [entry]
    else:
        found.append(entry)


def _unlink_list(index: dict[str, list[LedgerEntry]], key: str, entry: LedgerEntry) -> None:
    found = index[key]
    if found[0] is entry:
        del found[0]
    else:  # applied out of time order: rare
        found.remove(entry)
    if not found:
        del index[key]
