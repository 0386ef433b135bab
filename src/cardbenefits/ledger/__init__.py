"""The ledger (账本): an append-only record of grants, clawbacks and coupon movements.

The engine decides; the ledger records. A decision's entries arrive as one
:class:`EntryBatch` under an idempotency key and are applied all-or-nothing, refusing any batch
whose charges would push a cap, budget or stock counter past its limit — even with several
processes writing at once (:class:`SQLiteLedger`). :class:`MemoryLedger` is the fast adapter for
simulations; both satisfy the :class:`Ledger` protocol and refuse exactly the same batches.

>>> import pendulum
>>> from cardbenefits.money import Money
>>> ledger = MemoryLedger()
>>> def cashback(txn: str) -> EntryBatch:
...     return EntryBatch.of(f"{txn}:cashback50", [LedgerEntry(
...         kind=EntryKind.GRANT, customer_id="cust42", programme_id="cashback50", asset="cashback",
...         amount=Money.of(5), at=pendulum.datetime(2026, 11, 3, tz="Asia/Shanghai"),
...         catalog_version="v1", ref=txn, reason="spend_ge_50",
...         charges=[Charge("cap:cashback50:cust42:2026-11", 1, 2), Charge("budget:cashback50", 5, 1000)])])
>>> [ledger.try_apply(cashback(t)).applied for t in ("t1", "t2", "t3")]
[True, True, False]
>>> ledger.try_apply(cashback("t3")).refusal.counter
'cap:cashback50:cust42:2026-11'
>>> ledger.balance("cust42", "cashback"), ledger.usage("budget:cashback50")
(Decimal('10'), Decimal('10'))
"""

from __future__ import annotations

from cardbenefits.ledger.codec import batch_from_json, batch_to_json
from cardbenefits.ledger.entries import (
    Charge,
    EntryBatch,
    EntryKind,
    FrozenMap,
    LedgerEntry,
    is_money_asset,
    split_entry_id,
)
from cardbenefits.ledger.errors import (
    CounterLimitExceededError,
    CounterUnderflowError,
    IdempotencyConflictError,
)
from cardbenefits.ledger.export import ReplaySummary, export_jsonl, import_jsonl, replay
from cardbenefits.ledger.memory import MemoryLedger
from cardbenefits.ledger.protocol import ApplyResult, Ledger, LedgerView, plan_charges
from cardbenefits.ledger.sqlite import SQLiteLedger
from cardbenefits.ledger.windowed import WindowedLedger, WindowStats, parse_horizon

__all__ = [
    "ApplyResult",
    "Charge",
    "CounterLimitExceededError",
    "CounterUnderflowError",
    "EntryBatch",
    "EntryKind",
    "FrozenMap",
    "IdempotencyConflictError",
    "Ledger",
    "LedgerEntry",
    "LedgerView",
    "MemoryLedger",
    "ReplaySummary",
    "SQLiteLedger",
    "WindowStats",
    "WindowedLedger",
    "batch_from_json",
    "batch_to_json",
    "export_jsonl",
    "import_jsonl",
    "is_money_asset",
    "parse_horizon",
    "plan_charges",
    "replay",
    "split_entry_id",
]
