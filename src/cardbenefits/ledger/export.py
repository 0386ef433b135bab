"""Export, import and replay whole ledgers, canonically.

:func:`export_jsonl` writes one canonical JSON line per batch, in application order, so two
simulation runs (or a memory run and a SQLite run) can be compared byte for byte; instants are
UTC whatever zone the engine used. :func:`replay` copies one ledger into another through the
ordinary :meth:`~cardbenefits.ledger.protocol.Ledger.apply`, so limits and idempotency hold.

>>> import pendulum
>>> from cardbenefits.ledger import Charge, EntryBatch, LedgerEntry, MemoryLedger, SQLiteLedger
>>> source = MemoryLedger()
>>> for n in range(3):
...     entry = LedgerEntry(kind="grant", customer_id=f"c{n}", programme_id="p", asset="miles",
...                         units=300, at=pendulum.datetime(2026, 5, 1, n, tz="Asia/Shanghai"),
...                         catalog_version="v1", reason="airline_3x",
...                         charges=[Charge("budget:miles", 300, 1000)])
...     _ = source.apply(EntryBatch.of(f"txn-{n}", [entry]))
>>> target = SQLiteLedger(":memory:")
>>> replay(source, target)
ReplaySummary(applied=3, already_applied=0)
>>> list(export_jsonl(source)) == list(export_jsonl(target))
True
>>> target.usage("budget:miles")
Decimal('900')
>>> [b.idempotency_key for b in import_jsonl(export_jsonl(source))]
['txn-0', 'txn-1', 'txn-2']
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import attrs

from cardbenefits.ledger.codec import batch_from_json, batch_to_json
from cardbenefits.ledger.entries import EntryBatch
from cardbenefits.ledger.protocol import Ledger, LedgerView

__all__ = ["ReplaySummary", "export_jsonl", "import_jsonl", "replay"]


def export_jsonl(ledger: LedgerView) -> Iterator[str]:
    """Canonical JSON lines (sorted keys, no trailing newline), one per batch, in application order."""
    for batch in ledger.batches():
        yield batch_to_json(batch)


def import_jsonl(lines: Iterable[str]) -> Iterator[EntryBatch]:
    """Batches read back from :func:`export_jsonl` lines (blank lines are skipped)."""
    for line in lines:
        if line.strip():
            yield batch_from_json(line)


@attrs.frozen
class ReplaySummary:
    """How many batches a :func:`replay` applied, and how many the target already had."""

    applied: int
    already_applied: int


def replay(ledger_from: LedgerView | Iterable[EntryBatch], ledger_to: Ledger) -> ReplaySummary:
    """Apply every batch of ``ledger_from`` (a ledger or batches) to ``ledger_to``, in order.

    Limit refusals and idempotency conflicts propagate: a replay that cannot reproduce the
    source stops at the first batch that differs.
    """
    batches = ledger_from.batches() if isinstance(ledger_from, LedgerView) else iter(ledger_from)
    applied = already = 0
    for batch in batches:
        result = ledger_to.apply(batch)
        applied += result.applied
        already += result.already_applied
    return ReplaySummary(applied=applied, already_applied=already)
