"""The columnar fast path of a simulation: the same report, most events never become objects.

A campaign what-if run is dominated by purchases meeting transaction programmes (cashback,
points, multipliers) and activation ladders. Their state is counters, so
:class:`~cardbenefits.engine.batch.BatchEvaluator` decides them over column chunks
(:mod:`cardbenefits.simulate.columnar`) without building a :class:`~cardbenefits.facts.Transaction`,
an entry or a decision per row. Everything else still goes through the event-by-event
:class:`~cardbenefits.simulate.replay.Replay`, into the simulation's ledger, with an engine
holding only the group rewards:

- follows, draw requests and referrals (the ``others`` of each chunk);
- history rows (before ``as_of``: they feed the RFM scores);
- every transaction of a customer who may hold a coupon during the chunk (a holder at its
  start, or from their first draw or referral in it, or after a refund of a routed purchase),
  which checkout needs; and the refunds of any routed transaction.

The evaluator's counters (programmes, ladders) and the replay's (coupons, funnels, referrals,
groups) are disjoint, so the two halves never read each other's state and their figures add
up: per-programme totals, event counts, active customers and recorded refunds (a refund both
halves recorded counts once) are folded into the replay's metrics; limit usage reads both
halves' counters. Group rewards read card facts only; those due before the last event of the
whole stream are evaluated at their deadline.

``tests/simulate/test_fast.py`` runs the demo catalog and random data both ways and compares
the reports. What the fast path does not do: ``watch`` a customer (``explain`` replays one
customer event by event) or continue a ledger that already holds entries — use
:meth:`Simulation.run` for those.
"""

from __future__ import annotations

import bisect
import copy
import datetime as _dt
import gc
import heapq
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from operator import itemgetter
from typing import Any

from cardbenefits.engine import Engine
from cardbenefits.engine.batch import BatchEvaluator
from cardbenefits.engine.batch import utc_us as _us
from cardbenefits.errors import CardBenefitsError
from cardbenefits.facts import Customer, DrawRequest, Event, Referral, Transaction, event_sort_key
from cardbenefits.facts import _utc as _naive_utc
from cardbenefits.ledger import Ledger
from cardbenefits.ledger.entries import EntryKind
from cardbenefits.simulate.columnar import _UNDOING, EventChunk, TransactionColumns, _polars
from cardbenefits.simulate.io import SimulationError
from cardbenefits.simulate.replay import Progress, Replay, Simulation, SimulationResult

__all__ = ["chunks_of", "run_columnar"]

_ZERO = Decimal(0)
_first = itemgetter(0)


class _Counters:
    """Limit usage read from the replay's ledger and the batch evaluator's counters."""

    def __init__(self, ledger: Ledger, batch: BatchEvaluator | None) -> None:
        self.ledger, self.batch = ledger, batch

    def usage(self, counter: str) -> Decimal:
        extra = self.batch.usage(counter) if self.batch is not None else _ZERO
        return self.ledger.usage(counter) + extra


class _Run:
    def __init__(self, sim: Simulation, customers: Mapping[str, Customer], progress: Progress | None) -> None:
        if sim.watch is not None:
            raise SimulationError(
                "the columnar path does not watch a customer", path="watch", value=sim.watch
            )
        if sim.ledger.entries():
            raise SimulationError("the columnar path needs an empty ledger", path="ledger",
                                  value=type(sim.ledger).__name__)  # fmt: skip
        engine = sim.engine
        self.engine = engine
        groups_only = Engine(
            (),
            group_rewards=engine.group_rewards,
            catalog_version=engine.catalog_version,
            catalog_id=engine.catalog_id,
            timezone=engine.timezone,
            currency=engine.currency,
            record_of=engine.record_of,
        )
        self.seq = seq = copy.copy(sim)
        seq.engine = groups_only
        self.customers = customers
        self.progress = progress
        self.replay: Replay | None = None
        self.batch: BatchEvaluator | None = None
        self.routed: set[str] = set()
        self.first: _dt.datetime | None = None  # the first replayed transaction row's instant
        self.last: _dt.datetime | None = None
        self.done = 0
        self.as_us = 0
        self.active: list[Any] = []  # per chunk: the customers of its batch-decided rows

    def start(self, chunk: EventChunk) -> Replay:
        """The first chunk fixes ``as_of`` (default: the first event's instant, as the replay does)."""
        seq = self.seq
        if seq.as_of is None:
            first = self._edge(chunk, 0)
            if first is not None:
                seq.as_of = first[1]
        self.as_us = _us(seq.as_of) if seq.as_of is not None else 0
        self.replay = Replay(seq, self.customers, None, report=self.engine)
        return self.replay

    @staticmethod
    def _edge(chunk: EventChunk, end: int) -> tuple[Any, _dt.datetime] | None:
        """``(key, instant)`` of the chunk's first (``end=0``) or last (``-1``) event."""
        cols = chunk.transactions
        found: list[tuple[Any, _dt.datetime]] = []
        if len(cols):
            i = 0 if end == 0 else len(cols) - 1
            found.append((cols.key(i), cols.transaction(i).transacted_at))
        if chunk.others:
            key, event = chunk.others[end]
            found.append((key, event.at))
        if not found:
            return None
        return min(found, key=_first) if end == 0 else max(found, key=_first)

    def segmented(self, replay: Replay) -> BatchEvaluator:
        if not replay.segmented:
            assert self.seq.as_of is not None
            replay.segment(self.seq.as_of)
        if self.batch is None:
            # a windowed ledger bounds the replay's memory: bound the evaluator's the same way
            horizon = getattr(self.seq.ledger, "horizon", None)
            self.batch = BatchEvaluator(self.engine, replay.people, horizon=horizon)
        return self.batch

    def chunk(self, chunk: EventChunk) -> None:
        replay = self.replay if self.replay is not None else self.start(chunk)
        cols = chunk.transactions
        n = len(cols)
        others = chunk.others
        as_of = self.seq.as_of
        # history (before as_of) first: it feeds the RFM scores the segments are computed from
        h = (
            0
            if replay.segmented or not n
            else int(cols.frame["at_us"].search_sorted(self.as_us, side="left"))
        )
        k = (
            0
            if replay.segmented or as_of is None
            else bisect.bisect_left(
                [key[0] for key, _e in others], _naive_utc(as_of)
            )  # event_sort_key instants are naive UTC
        )
        feed = replay.feed
        if h or k:
            history = cols.transactions(list(range(h)))
            for _key, item in heapq.merge(((cols.key(i), i) for i in range(h)), others[:k], key=_first):
                feed(history[item] if isinstance(item, int) else item)
        # who may pay with a coupon in this chunk: holders now, and whoever may get one in it
        holders = set(self.seq._state.holders)
        since: dict[str, int] = {}  # customer -> first draw or referral of this chunk (UTC µs)
        for _key, event in others[k:]:
            if isinstance(event, DrawRequest | Referral):
                at = _us(event.at)
                who = (
                    (event.customer_id,)
                    if isinstance(event, DrawRequest)
                    else (event.invitee_id, event.inviter_id)
                )
                for cid in who:
                    since.setdefault(cid, at)
        if n > h or len(others) > k:
            self.segmented(replay)  # after the history, before the batch
        if n > h:
            self._check_customers(cols, h, n, others[k:], replay)
        picked = self._route(cols, h, n, holders, since) if n > h else []
        routed = dict(zip(picked, cols.transactions(picked), strict=True))
        for _key, item in heapq.merge(((cols.key(i), i) for i in picked), others[k:], key=_first):
            if isinstance(item, int):
                feed(routed[item], count=False)
            else:
                feed(item)
        if n > h:
            self._batch(cols, h, n, replay)
            if self.first is None:
                self.first = cols.transaction(h).transacted_at
        self.done += n + len(others)
        if self.progress is not None:
            self.progress(self.done)
        last = self._edge(chunk, -1)
        if last is not None and (as_of is None or last[1] >= as_of):
            self.last = last[1]

    def _check_customers(
        self, cols: TransactionColumns, h: int, n: int, others: tuple[tuple[Any, Event], ...], replay: Replay
    ) -> None:
        """Raise for the first row (``h`` to ``n``) naming an unknown customer, as the replay would:
        after the chunk's other events before it (any of which may raise first)."""
        found = self.segmented(replay).unknown_row(cols.slice(h, n))
        if found is None:
            return
        first = h + found
        bound = cols.key(first)
        for key, event in others:
            if key >= bound:
                break
            replay.feed(event)
        tid, cid = cols.cells("id")[first], cols.cells("customer_id")[first]
        message = f"event {tid} names an unknown customer"
        raise SimulationError(message, path="transaction.customer_id", value=cid)

    def _route(
        self, cols: TransactionColumns, h: int, n: int, holders: set[str], since: dict[str, int]
    ) -> list[int]:
        """Replay rows (``h`` to ``n``) checkout must see: coupon holders' rows and their refunds.

        ``holders`` hold a coupon at the chunk's start; ``since`` maps a customer to their first
        draw or referral in the chunk (UTC µs), from which on they may hold one. A refund of a
        routed purchase may return a coupon: its customer's later rows are routed too (found by
        repeating the selection until no refund adds a customer; routing a row too many only
        costs time, as checkout finds no coupon).
        """
        pl = _polars()
        col = pl.col
        rows = cols.frame.slice(h, n - h).select(
            pl.int_range(h, n, dtype=pl.Int64).alias("row"), "id", "customer_id", "kind", "refund_of", "at_us"
        )
        starts = dict(since)  # customer -> first instant (µs) from which they may hold a coupon
        after: dict[str, int] = {}  # customer -> first row from which they may (a returned coupon)
        holding = col("customer_id").is_in(sorted(holders))
        undoing = col("kind").is_in(list(_UNDOING))
        while True:
            chosen = holding
            if starts:
                chosen = chosen | (col("at_us") >= col("customer_id").replace_strict(
                    starts, default=None, return_dtype=pl.Int64)).fill_null(False)  # fmt: skip
            if after:
                chosen = chosen | (col("row") >= col("customer_id").replace_strict(
                    after, default=None, return_dtype=pl.Int64)).fill_null(False)  # fmt: skip
            marked = rows.with_columns(chosen.alias("chosen"))
            self.routed.update(marked.filter(col("chosen")).get_column("id").to_list())
            back = marked.filter(~col("chosen") & undoing & col("refund_of").is_in(sorted(self.routed)))
            grown = False
            for row, cid in back.select("row", "customer_id").iter_rows():
                if after.get(cid, n) > row:
                    after[cid] = row
                    grown = True
            if not grown:
                return sorted(
                    marked.filter(col("chosen")).get_column("row").to_list() + back["row"].to_list()
                )

    def _batch(self, cols: TransactionColumns, h: int, n: int, replay: Replay) -> None:
        batch = self.segmented(replay)
        rows = cols if h == 0 else cols.slice(h, n)
        try:
            batch.run(rows, customers_known=True)  # _check_customers did
        except CardBenefitsError as exc:
            event_id = (exc.path or "").split(".", 1)[0]
            raise SimulationError(f"event {event_id}: {exc}", path=exc.path, value=exc.value) from exc
        replay.metrics.on_events("transaction", n - h, ())
        # the customers are counted once, at the end
        self.active.append(rows.frame.get_column("customer_id").unique())

    def finish(self) -> SimulationResult:
        replay = self.replay
        if replay is None:  # an empty stream
            return Replay(self.seq, self.customers, None, report=self.engine).finish()
        batch = self.batch
        if self.active:
            ids = _polars().concat(self.active).unique().to_list()
            replay.metrics.on_events("transaction", 0, ids)
        if batch is not None:
            metrics = replay.metrics
            for pid, totals in batch.totals.items():
                metrics.add_totals(pid, totals)
            seen = {
                e.meta.get("refund")
                for e in self.seq.ledger.entries(programme_id="refund")
                if e.kind is EntryKind.ADJUST
            }
            only = {rid: amount for rid, amount in batch.refunds.items() if rid not in seen}
            metrics.on_refunds(len(only), sum(only.values(), _ZERO))
        return replay.finish(self.first, self.last, ledger=_Counters(self.seq.ledger, batch))


def run_columnar(
    sim: Simulation,
    customers: Mapping[str, Customer],
    chunks: Iterable[EventChunk],
    *,
    progress: Progress | None = None,
    pause_gc: bool = True,
) -> SimulationResult:
    """Replay ``chunks`` (:func:`~cardbenefits.simulate.columnar.iter_chunks`) for ``customers``
    as :meth:`Simulation.run` would, deciding transaction programmes in batch (module docstring).

    The result's ledger holds what the event-by-event half wrote (coupons, funnels, referrals,
    group rewards); programme and ladder figures are in its metrics and limit usage.
    """
    paused = pause_gc and gc.isenabled()
    if paused:
        gc.disable()
    try:
        run = _Run(sim, customers, progress)
        for chunk in chunks:
            run.chunk(chunk)
        return run.finish()
    finally:
        if paused:
            gc.enable()


def chunks_of(
    events: Iterable[Event], *, timezone: str = "Asia/Shanghai", chunk_rows: int = 65536
) -> Iterator[EventChunk]:
    """Events already built (in replay order) as :class:`EventChunk` s of ``chunk_rows`` transactions."""
    txns: list[Transaction] = []
    others: list[tuple[Any, Event]] = []
    for event in events:
        if isinstance(event, Transaction):
            txns.append(event)
            if len(txns) >= chunk_rows:
                cols = TransactionColumns.from_transactions("-", [0] * len(txns), txns, timezone=timezone)
                yield EventChunk(cols, tuple(others))
                txns, others = [], []
        else:
            others.append((event_sort_key(event), event))
    if txns or others:
        cols = TransactionColumns.from_transactions("-", [0] * len(txns), txns, timezone=timezone)
        yield EventChunk(cols, tuple(others))
