"""Canonical text forms of ledger entries: exact decimals, UTC instants, sorted JSON keys.

The same entry always encodes to the same bytes, which is what lets two simulation runs be
compared with ``cmp`` and lets the SQLite adapter store entries without losing a fen.

>>> import json, pendulum
>>> from cardbenefits.money import Money
>>> from cardbenefits.ledger.entries import Charge, EntryBatch, LedgerEntry
>>> entry = LedgerEntry(
...     kind="grant", customer_id="c1", programme_id="p", asset="cashback", amount=Money.of("5.00"),
...     at=pendulum.datetime(2026, 11, 3, 8, tz="Asia/Shanghai"), catalog_version="v1", reason="ok",
...     charges=[Charge("budget:p", "5.00", 1000)], meta={"why": "spend>=50"})
>>> line = batch_to_json(EntryBatch.of("evt-1", [entry]))
>>> line[:61]
'{"entries":[{"amount":"5.00","asset":"cashback","at":"2026-11'
>>> record = json.loads(line)["entries"][0]
>>> record["at"], record["charges"]
('2026-11-03T00:00:00.000000Z', [{'counter': 'budget:p', 'delta': '5.00', 'limit': '1000'}])
>>> batch_from_json(line) == EntryBatch.of("evt-1", [entry])
True
>>> format_instant(pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"))
'2025-12-31T16:00:00.000000Z'
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import attrs
import pendulum

from cardbenefits.errors import LedgerError
from cardbenefits.ledger.entries import Charge, EntryBatch, EntryKind, FrozenMap, LedgerEntry
from cardbenefits.money import Money

__all__ = [
    "batch_from_dict",
    "batch_from_json",
    "batch_to_dict",
    "batch_to_json",
    "canonical_json",
    "charges_from_json",
    "charges_to_json",
    "entry_fields",
    "entry_from_dict",
    "entry_to_dict",
    "format_instant",
    "parse_instant",
]

_INSTANT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def format_instant(at: datetime) -> str:
    """An aware datetime as fixed-width ISO-8601 UTC text (sorts like the instants it names)."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise LedgerError("must be an aware datetime", path="at", value=at)
    return at.astimezone(UTC).strftime(_INSTANT_FORMAT)


def parse_instant(text: str) -> pendulum.DateTime:
    """Read :func:`format_instant` text back as a UTC :class:`pendulum.DateTime`.

    >>> parse_instant("2025-12-31T16:00:00.000000Z")
    DateTime(2025, 12, 31, 16, 0, 0, tzinfo=Timezone('UTC'))
    """
    try:
        parsed = datetime.strptime(text, _INSTANT_FORMAT).replace(tzinfo=UTC)
    except (TypeError, ValueError):
        raise LedgerError(
            "not a UTC instant like 2026-01-01T00:00:00.000000Z", path="at", value=text
        ) from None
    return pendulum.instance(parsed, tz=pendulum.UTC)


def canonical_json(data: Any) -> str:
    """JSON with sorted keys, no spaces and raw UTF-8: one value, one text."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def charges_to_json(charges: tuple[Charge, ...]) -> str:
    """The charges of an entry as canonical JSON text."""
    return canonical_json(
        [{"counter": c.counter, "delta": str(c.delta), "limit": _dec(c.limit)} for c in charges]
    )


def charges_from_json(text: str) -> tuple[Charge, ...]:
    """Inverse of :func:`charges_to_json`."""
    return tuple(Charge(c["counter"], Decimal(c["delta"]), _read_dec(c["limit"])) for c in json.loads(text))


def _read_dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def entry_fields(entry: LedgerEntry) -> dict[str, Any]:
    """The entry's attributes as keyword arguments for :class:`LedgerEntry`."""
    return {a.name: getattr(entry, a.name) for a in attrs.fields(LedgerEntry)}


def entry_to_dict(entry: LedgerEntry) -> dict[str, Any]:
    """A JSON-ready dict: decimals as exact text, the instant in UTC, charges and meta nested."""
    return {
        "entry_id": entry.entry_id,
        "kind": entry.kind.value,
        "customer_id": entry.customer_id,
        "person_id": entry.person_id,
        "programme_id": entry.programme_id,
        "benefit_id": entry.benefit_id,
        "asset": entry.asset,
        "amount": None if entry.amount is None else str(entry.amount.amount),
        "currency": None if entry.amount is None else entry.amount.currency,
        "units": str(entry.units),
        "at": format_instant(entry.at),
        "catalog_version": entry.catalog_version,
        "ref": entry.ref,
        "reason": entry.reason,
        "charges": [
            {"counter": c.counter, "delta": str(c.delta), "limit": _dec(c.limit)} for c in entry.charges
        ],
        "meta": dict(entry.meta),
    }


def entry_from_dict(data: dict[str, Any]) -> LedgerEntry:
    """Inverse of :func:`entry_to_dict` (the instant comes back in UTC)."""
    try:
        amount = None if data["amount"] is None else Money(Decimal(data["amount"]), data["currency"])
        return LedgerEntry(
            entry_id=data["entry_id"],
            kind=EntryKind(data["kind"]),
            customer_id=data["customer_id"],
            person_id=data["person_id"],
            programme_id=data["programme_id"],
            benefit_id=data["benefit_id"],
            asset=data["asset"],
            amount=amount,
            units=Decimal(data["units"]),
            at=parse_instant(data["at"]),
            catalog_version=data["catalog_version"],
            ref=data["ref"],
            reason=data["reason"],
            charges=tuple(
                Charge(c["counter"], Decimal(c["delta"]), _read_dec(c["limit"])) for c in data["charges"]
            ),
            meta=FrozenMap(data["meta"]),
        )
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise LedgerError(
            f"malformed entry record: {exc}", path="entry", value=data.get("entry_id")
        ) from None


def batch_to_dict(batch: EntryBatch) -> dict[str, Any]:
    """A JSON-ready dict of a batch."""
    return {"idempotency_key": batch.idempotency_key, "entries": [entry_to_dict(e) for e in batch.entries]}


def batch_from_dict(data: dict[str, Any]) -> EntryBatch:
    """Inverse of :func:`batch_to_dict`."""
    try:
        key, entries = data["idempotency_key"], data["entries"]
    except (KeyError, TypeError):
        raise LedgerError(
            "a batch record needs idempotency_key and entries", path="batch", value=data
        ) from None
    return EntryBatch(key, tuple(entry_from_dict(e) for e in entries))


def batch_to_json(batch: EntryBatch) -> str:
    """One canonical JSON line (no newline) for a batch."""
    return canonical_json(batch_to_dict(batch))


def batch_from_json(line: str) -> EntryBatch:
    """Inverse of :func:`batch_to_json`."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise LedgerError(f"not JSON: {exc.msg}", path="line", value=line[:80]) from None
    return batch_from_dict(data)
