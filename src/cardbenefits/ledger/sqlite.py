"""A durable ledger in one SQLite file, safe for several writer processes at once.

Each batch is one ``BEGIN IMMEDIATE`` transaction: it takes SQLite's write lock, reads the
counters it charges, checks their limits and writes entries and counters before committing, so
two processes racing for the last prize cannot both win. WAL mode lets readers proceed while a
writer works, and ``busy_timeout`` makes concurrent writers queue instead of failing. Amounts,
units and counters are stored as exact decimal text; instants as ISO-8601 UTC text.

>>> import pendulum
>>> from cardbenefits.ledger.entries import Charge, EntryBatch, LedgerEntry
>>> ledger = SQLiteLedger(":memory:")
>>> draw = LedgerEntry(kind="issue", customer_id="c1", programme_id="double11", asset="coupon:w20",
...                    units=1, at=pendulum.datetime(2026, 11, 11, tz="Asia/Shanghai"),
...                    catalog_version="v3", reason="draw_win",
...                    charges=[Charge("stock:coupon:w20:2026-11-11", 1, 1)])
>>> ledger.apply(EntryBatch.of("draw-1", [draw])).applied
True
>>> ledger.try_apply(EntryBatch.of("draw-2", [draw])).refusal.counter
'stock:coupon:w20:2026-11-11'
>>> ledger.entries(customer_id="c1")[0].at
DateTime(2026, 11, 10, 16, 0, 0, tzinfo=Timezone('UTC'))
>>> ledger.close()
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any, Final, Literal

from cardbenefits.errors import LedgerError
from cardbenefits.ledger.codec import (
    canonical_json,
    charges_from_json,
    charges_to_json,
    format_instant,
    parse_instant,
)
from cardbenefits.ledger.entries import EntryBatch, EntryKind, FrozenMap, LedgerEntry
from cardbenefits.ledger.errors import CounterLimitExceededError, IdempotencyConflictError
from cardbenefits.ledger.protocol import ApplyResult, plan_charges
from cardbenefits.money import Money

__all__ = ["SCHEMA_VERSION", "SQLiteLedger"]

#: Version of the table layout below, stored in ``PRAGMA user_version``.
SCHEMA_VERSION: Final = 1

_ZERO = Decimal(0)
# Stay well under SQLite's bound-parameter limit when reading many counters.
_IN_CHUNK = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger_batches (
    seq INTEGER PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    first_entry INTEGER NOT NULL,
    size INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_entries (
    seq INTEGER PRIMARY KEY,
    entry_id TEXT NOT NULL UNIQUE,
    batch_seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    person_id TEXT,
    programme_id TEXT NOT NULL,
    benefit_id TEXT,
    asset TEXT NOT NULL,
    amount TEXT,
    currency TEXT,
    units TEXT NOT NULL,
    signed_quantity TEXT NOT NULL,
    at TEXT NOT NULL,
    catalog_version TEXT NOT NULL,
    ref TEXT,
    reason TEXT NOT NULL,
    charges TEXT NOT NULL,
    meta TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_entries_customer ON ledger_entries (customer_id, asset);
CREATE INDEX IF NOT EXISTS ledger_entries_programme ON ledger_entries (programme_id);
CREATE INDEX IF NOT EXISTS ledger_entries_ref ON ledger_entries (ref) WHERE ref IS NOT NULL;
CREATE TABLE IF NOT EXISTS ledger_counters (
    counter TEXT PRIMARY KEY,
    usage TEXT NOT NULL,
    limit_value TEXT
) WITHOUT ROWID;
"""

_ENTRY_COLUMNS = (
    "entry_id, kind, customer_id, person_id, programme_id, benefit_id, asset, amount, currency, units,"
    " at, catalog_version, ref, reason, charges, meta"
)
_INSERT_ENTRY = (
    "INSERT INTO ledger_entries (seq, batch_seq, signed_quantity, "
    + _ENTRY_COLUMNS
    + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPSERT_COUNTER = (
    "INSERT INTO ledger_counters (counter, usage, limit_value) VALUES (?, ?, ?) "
    "ON CONFLICT (counter) DO UPDATE SET usage = excluded.usage, "
    "limit_value = coalesce(excluded.limit_value, limit_value)"
)

Synchronous = Literal["OFF", "NORMAL", "FULL", "EXTRA"]


def _entry_row(entry: LedgerEntry) -> tuple[Any, ...]:
    amount = entry.amount
    return (
        str(entry.signed_quantity),
        entry.entry_id,
        entry.kind.value,
        entry.customer_id,
        entry.person_id,
        entry.programme_id,
        entry.benefit_id,
        entry.asset,
        None if amount is None else str(amount.amount),
        None if amount is None else amount.currency,
        str(entry.units),
        format_instant(entry.at),
        entry.catalog_version,
        entry.ref,
        entry.reason,
        charges_to_json(entry.charges),
        canonical_json(dict(entry.meta)),
    )


def _row_entry(row: Sequence[Any]) -> LedgerEntry:
    (entry_id, kind, customer_id, person_id, programme_id, benefit_id, asset, amount, currency, units, at,
     catalog_version, ref, reason, charges, meta) = row  # fmt: skip
    return LedgerEntry(
        entry_id=entry_id,
        kind=EntryKind(kind),
        customer_id=customer_id,
        person_id=person_id,
        programme_id=programme_id,
        benefit_id=benefit_id,
        asset=asset,
        amount=None if amount is None else Money(Decimal(amount), currency),
        units=Decimal(units),
        at=parse_instant(at),
        catalog_version=catalog_version,
        ref=ref,
        reason=reason,
        charges=charges_from_json(charges),
        meta=FrozenMap(json.loads(meta)),
    )


class SQLiteLedger:
    """A :class:`~cardbenefits.ledger.protocol.Ledger` stored in the SQLite file at ``path``.

    Open one instance per process (or share one between threads: calls are serialised by a
    lock). ``synchronous="FULL"`` makes every committed batch survive a power cut; ``"NORMAL"``
    survives a crash of the process and is several times faster in WAL mode.
    ``busy_timeout`` (seconds) is how long a writer waits for another process's transaction.
    ``":memory:"`` gives a private, non-durable database (handy in tests).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: Synchronous = "FULL",
        busy_timeout: float = 30.0,
    ) -> None:
        if synchronous not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise LedgerError(
                "synchronous must be OFF, NORMAL, FULL or EXTRA", path="synchronous", value=synchronous
            )
        self.path = os.fspath(path)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(
            self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        conn = self._conn
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        if self.path != ":memory:":
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise LedgerError("could not switch the database to WAL mode", path=self.path, value=mode)
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        with self._write():
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise LedgerError(
                    f"ledger schema version {version} is not supported (expected {SCHEMA_VERSION})",
                    path=self.path,
                    value=version,
                )
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # -- transactions -------------------------------------------------------------------------
    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction holding SQLite's write lock from the start (no upgrade races)."""
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: every statement inside sees the same snapshot."""
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")

    # -- writing --------------------------------------------------------------------------------
    def apply(self, batch: EntryBatch) -> ApplyResult:
        """Append ``batch`` atomically; see :class:`~cardbenefits.ledger.protocol.Ledger`."""
        with self._write() as conn:
            return self._apply_in(conn, batch)

    def apply_many(self, batches: Iterable[EntryBatch]) -> list[ApplyResult]:
        """:meth:`try_apply` each batch in order, all inside one transaction (one commit).

        Each batch stays all-or-nothing and limit refusals come back in ``refusal``, exactly
        as with :meth:`try_apply` one at a time; committing once per group is what makes bulk
        loads and simulations fast on disk. Any other error (an idempotency conflict, an
        over-release) stops the group: the batches before it are committed, then it is raised.
        """
        results: list[ApplyResult] = []
        failure: LedgerError | None = None
        with self._write() as conn:
            for batch in batches:
                conn.execute("SAVEPOINT ledger_batch")
                try:
                    results.append(self._apply_in(conn, batch))
                except CounterLimitExceededError as refusal:
                    results.append(ApplyResult(applied=False, already_applied=False, refusal=refusal))
                    conn.execute("ROLLBACK TO ledger_batch")
                except LedgerError as error:
                    failure = error
                    conn.execute("ROLLBACK TO ledger_batch")
                conn.execute("RELEASE ledger_batch")
                if failure is not None:
                    break
        if failure is not None:
            raise failure
        return results

    def _apply_in(self, conn: sqlite3.Connection, batch: EntryBatch) -> ApplyResult:
        """Apply inside the caller's write transaction; raises before writing if refused."""
        row = conn.execute(
            "SELECT first_entry, size FROM ledger_batches WHERE idempotency_key = ?",
            (batch.idempotency_key,),
        ).fetchone()
        if row is not None:
            stored = self._entry_range(conn, row[0], row[1])
            if EntryBatch(batch.idempotency_key, stored) != batch:
                raise IdempotencyConflictError(batch.idempotency_key)
            return ApplyResult(applied=False, already_applied=True, entries=stored)
        net = batch.net_charges()
        current = self._read_counters(conn, [c for c, (delta, _limit) in net.items() if delta != 0])
        # The check and the update below share one write transaction: no other process can
        # change these counters in between.
        planned = plan_charges(net, current)
        base = conn.execute("SELECT coalesce(max(seq), 0) FROM ledger_entries").fetchone()[0]
        cursor = conn.execute(
            "INSERT INTO ledger_batches (idempotency_key, first_entry, size) VALUES (?, ?, ?)",
            (batch.idempotency_key, base + 1, len(batch.entries)),
        )
        batch_seq = cursor.lastrowid
        conn.executemany(
            _INSERT_ENTRY,
            [(base + 1 + i, batch_seq, *_entry_row(e)) for i, e in enumerate(batch.entries)],
        )
        conn.executemany(
            _UPSERT_COUNTER,
            [
                (counter, str(after), None if net[counter][1] is None else str(net[counter][1]))
                for counter, after in planned.items()
            ],
        )
        return ApplyResult(applied=True, already_applied=False, entries=batch.entries)

    def try_apply(self, batch: EntryBatch) -> ApplyResult:
        """Like :meth:`apply`, returning a limit refusal instead of raising it."""
        try:
            return self.apply(batch)
        except CounterLimitExceededError as refusal:
            return ApplyResult(applied=False, already_applied=False, refusal=refusal)

    # -- reading --------------------------------------------------------------------------------
    @staticmethod
    def _read_counters(conn: sqlite3.Connection, counters: Sequence[str]) -> dict[str, Decimal]:
        found: dict[str, Decimal] = {}
        for start in range(0, len(counters), _IN_CHUNK):
            chunk = counters[start : start + _IN_CHUNK]
            marks = ", ".join("?" * len(chunk))
            for counter, usage in conn.execute(
                f"SELECT counter, usage FROM ledger_counters WHERE counter IN ({marks})", chunk
            ):
                found[counter] = Decimal(usage)
        return found

    @staticmethod
    def _entry_range(conn: sqlite3.Connection, first: int, size: int) -> tuple[LedgerEntry, ...]:
        rows = conn.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM ledger_entries WHERE seq BETWEEN ? AND ? ORDER BY seq",
            (first, first + size - 1),
        ).fetchall()
        return tuple(_row_entry(r) for r in rows)

    def usage(self, counter: str) -> Decimal:
        """The counter's current value (zero for a counter never charged)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT usage FROM ledger_counters WHERE counter = ?", (counter,)
            ).fetchone()
        return _ZERO if row is None else Decimal(row[0])

    def usages(self, counters: Iterable[str]) -> dict[str, Decimal]:
        """Current values of several counters, read in one snapshot."""
        names = list(dict.fromkeys(counters))
        with self._read() as conn:
            found = self._read_counters(conn, names)
        return {c: found.get(c, _ZERO) for c in names}

    def limit(self, counter: str) -> Decimal | None:
        """The limit most recently stated for the counter (for monitoring budget burn)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT limit_value FROM ledger_counters WHERE counter = ?", (counter,)
            ).fetchone()
        return None if row is None or row[0] is None else Decimal(row[0])

    def counters(self) -> dict[str, Decimal]:
        """A snapshot of every counter ever charged, by name."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT counter, usage FROM ledger_counters ORDER BY counter"
            ).fetchall()
        return {c: Decimal(u) for c, u in rows}

    def balance(self, customer_id: str, asset: str) -> Decimal:
        """Signed sum of the customer's entries in ``asset`` (summed exactly in Python)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT signed_quantity FROM ledger_entries WHERE customer_id = ? AND asset = ?",
                (customer_id, asset),
            ).fetchall()
        return sum((Decimal(r[0]) for r in rows), _ZERO)

    def entries(
        self, *, customer_id: str | None = None, programme_id: str | None = None, ref: str | None = None
    ) -> list[LedgerEntry]:
        """Entries matching every given filter, in application order."""
        clauses: list[str] = []
        params: list[str] = []
        for column, value in (("customer_id", customer_id), ("programme_id", programme_id), ("ref", ref)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM ledger_entries{where} ORDER BY seq", params
            ).fetchall()
        return [_row_entry(r) for r in rows]

    def has_applied(self, idempotency_key: str) -> bool:
        """True once a batch with this key has been applied (by any process)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM ledger_batches WHERE idempotency_key = ?", (idempotency_key,)
            ).fetchone()
        return row is not None

    def entry(self, entry_id: str) -> LedgerEntry | None:
        """The entry with this id, or ``None``."""
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM ledger_entries WHERE entry_id = ?", (entry_id,)
            ).fetchone()
        return None if row is None else _row_entry(row)

    def batches(self, *, page_size: int = 1000) -> Iterator[EntryBatch]:
        """Every applied batch in application order, read lazily ``page_size`` batches at a time.

        Each page is one snapshot; the ledger is append-only and batch numbers follow commit
        order, so pages read while others write still form a prefix of the ledger.
        """
        after = 0
        while True:
            with self._read() as conn:
                heads = conn.execute(
                    "SELECT seq, idempotency_key, first_entry, size FROM ledger_batches"
                    " WHERE seq > ? ORDER BY seq LIMIT ?",
                    (after, page_size),
                ).fetchall()
                if not heads:
                    return
                first, last = heads[0][2], heads[-1][2] + heads[-1][3] - 1
                rows = conn.execute(
                    f"SELECT {_ENTRY_COLUMNS} FROM ledger_entries WHERE seq BETWEEN ? AND ? ORDER BY seq",
                    (first, last),
                ).fetchall()
            position = 0
            for _seq, key, _first, size in heads:
                yield EntryBatch(key, tuple(_row_entry(r) for r in rows[position : position + size]))
                position += size
            after = heads[-1][0]

    def __len__(self) -> int:
        """Number of entries."""
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0])

    # -- lifecycle ----------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection; the ledger cannot be used afterwards."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> SQLiteLedger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
