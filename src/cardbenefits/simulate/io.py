"""Event files: read customers and events from CSV, JSON lines or Parquet, streaming; write them back.

A simulation's input is an **event set**: either a directory holding one file per kind —
``customers``, ``transactions``, ``follows``, ``draws`` and ``referrals``, each with the suffix
``.csv``, ``.jsonl`` or ``.parquet`` (any may be missing but ``customers``) — or a single
JSON-lines / CSV file of mixed records with a ``type`` column (``customer``, ``transaction``,
``follow``, ``draw_request``, ``referral``).

Customers are read into memory first (the engine needs each event's customer; 100k customers
are a few hundred MB at most). Events are **streamed**: each file is read row by row (Parquet in
record batches) and the files are merged by :func:`~cardbenefits.facts.event_sort_key`, so
memory stays bounded whatever the number of transactions. Each file must therefore already be
in event-time order (as exports from a warehouse normally are); a row out of order raises
:class:`EventOrderError` naming the file and line rather than silently replaying it late.

CSV and Parquet customers are flat: one row per card with the card's columns (``card_id``, ``product_id``,
``tier``, ``approved_at``, ``activated_at``, ``billing_day``, ``supplementary``,
``primary_card_id``) beside the customer's (``tags`` separated by ``|``); rows repeating a
customer id add cards. JSON-lines customers use :meth:`Customer.to_dict`.

Parquet needs the optional extra ``cardbenefits[parquet]`` (pyarrow), imported only when a
Parquet file is read or written.

>>> import tempfile, pathlib
>>> from cardbenefits.facts import CardHolding, Customer, Follow
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> card = CardHolding("k1", "youth", "classic", "2026-10-01T09:00+08:00")
>>> write_customers(folder / "customers.csv", [Customer("c1", "p1", tags={"gamer"}, cards=(card,))])
1
>>> write_events(folder / "follows.jsonl", [Follow("f1", "c1", "e_life", "app", "2026-11-05T10:00+08:00")])
1
>>> source = EventSource.open(folder)
>>> sorted(source.customers()["c1"].tags), [e.id for e in source.events()]
(['gamer'], ['f1'])
"""

from __future__ import annotations

import csv
import heapq
import importlib
import json
from collections.abc import Iterable, Iterator, Mapping
from operator import itemgetter
from pathlib import Path
from typing import Any, Final

import attrs

from cardbenefits.errors import CardBenefitsError
from cardbenefits.facts import (
    CARD_COLUMNS,
    CUSTOMER_COLUMNS,
    TRANSACTION_COLUMNS,
    Customer,
    DrawRequest,
    Event,
    Follow,
    Referral,
    Transaction,
    event_from_dict,
    event_sort_key,
    event_to_dict,
)

__all__ = [
    "EVENT_KINDS",
    "FORMATS",
    "EventOrderError",
    "EventSource",
    "MissingExtraError",
    "SimulationError",
    "optional_module",
    "read_customers",
    "read_events",
    "read_rows",
    "write_customers",
    "write_events",
]

FORMATS: Final = (".csv", ".jsonl", ".parquet")
"""File suffixes an event set may use."""

EVENT_KINDS: Final[dict[str, type[Transaction] | type[Follow] | type[DrawRequest] | type[Referral]]] = {
    "transactions": Transaction,
    "follows": Follow,
    "draws": DrawRequest,
    "referrals": Referral,
}
"""File stem of each event kind in an event-set directory, and the fact class it holds."""

_TYPE_OF_STEM: Final = {
    "transactions": "transaction",
    "follows": "follow",
    "draws": "draw_request",
    "referrals": "referral",
}
_CARD_COLUMNS: Final = CARD_COLUMNS
# every column of a mixed event file: the type, a transaction's fields, then the other kinds'
_MIXED_COLUMNS: Final = ("type", *TRANSACTION_COLUMNS, "campaign_id", "at", "programme_id", "inviter_id",
                         "invitee_id", "stage")  # fmt: skip
_CUSTOMER_COLUMNS: Final = CUSTOMER_COLUMNS


class SimulationError(CardBenefitsError):
    """A simulation cannot run: unreadable input, unknown customer, events out of order..."""


class EventOrderError(SimulationError):
    """An event file is not in event-time order (``path`` is ``file:line``)."""


class MissingExtraError(SimulationError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


def optional_module(module: str, what: str, extra: str) -> Any:
    """Import ``module`` of an optional extra, or say which extra ``what`` needs.

    >>> optional_module("no_such_module", "this", "polars")
    Traceback (most recent call last):
      ...
    cardbenefits.simulate.io.MissingExtraError: this needs no_such_module: pip install '...[polars]' (got ...)
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(
            f"{what} needs {module}: pip install 'cardbenefits[{extra}]'", path=extra, value=module
        ) from None


def _pyarrow_parquet() -> Any:
    return optional_module("pyarrow.parquet", "reading or writing Parquet", "parquet")


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise SimulationError(f"unsupported file type (one of: {', '.join(FORMATS)})", path=str(path),
                              value=path.suffix)  # fmt: skip
    return suffix


def read_rows(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line or row number, record)`` pairs of a CSV, JSON-lines or Parquet file, streaming."""
    path = Path(path)
    suffix = _suffix(path)
    if suffix == ".parquet":
        pq = _pyarrow_parquet()
        n = 0
        for batch in pq.ParquetFile(path).iter_batches(batch_size=65536):
            for row in batch.to_pylist():
                n += 1
                yield n, {k: v for k, v in row.items() if v is not None}
        return
    with path.open(encoding="utf-8", newline="") as handle:
        if suffix == ".csv":
            for n, row in enumerate(csv.DictReader(handle), start=2):
                yield n, row
            return
        for n, line in enumerate(handle, start=1):
            data = _json_record(line, path, n)
            if data is not None:
                yield n, data


def _json_record(line: str, path: str | Path, n: int) -> dict[str, Any] | None:
    """The JSON object on line ``n`` of ``path`` (None for a blank line)."""
    if not line.strip():
        return None
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise SimulationError(f"not JSON: {exc.msg}", path=f"{path}:{n}", value=line[:80]) from None
    if not isinstance(data, dict):
        raise SimulationError("a line must hold a JSON object", path=f"{path}:{n}", value=data)
    return data


def _customer_of_row(row: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Split a flat CSV customer row into the customer's dict and its card (if any)."""
    if "cards" in row:
        return dict(row), None
    customer = {k: row[k] for k in _CUSTOMER_COLUMNS if k in row}
    card = {k: row[k] for k in _CARD_COLUMNS if k in row and row[k] not in ("", None)}
    unknown = sorted(set(row) - set(_CUSTOMER_COLUMNS) - set(_CARD_COLUMNS) - {"type"})
    if unknown:
        customer[unknown[0]] = row[unknown[0]]  # let Customer.from_dict name it
    return customer, (card or None)


def read_customers(path: str | Path) -> dict[str, Customer]:
    """Every customer of a customers file, by id (flat CSV rows repeating an id add cards)."""
    raw: dict[str, dict[str, Any]] = {}
    where: dict[str, str] = {}
    for n, row in read_rows(path):
        row.pop("type", None)
        customer, card = _customer_of_row(row)
        cid = str(customer.get("id", ""))
        if cid in raw and card is not None:
            raw[cid]["cards"].append(card)
            continue
        if cid in raw:
            raise SimulationError("customer id appears twice", path=f"{path}:{n}", value=cid)
        if card is not None:
            customer["cards"] = [card]
        raw[cid] = customer
        where[cid] = f"{path}:{n}"
    out: dict[str, Customer] = {}
    for cid, data in raw.items():
        try:
            out[cid] = Customer.from_dict(data)
        except CardBenefitsError as exc:
            raise SimulationError(str(exc), path=where[cid], value=exc.value) from None
    return out


def read_events(path: str | Path, kind: str | None = None) -> Iterator[Event]:
    """The events of one file, in file order, checking that event time never goes back.

    ``kind`` is a stem of :data:`EVENT_KINDS` (every row is that kind); without it each row
    names its ``type`` (customer rows are skipped: see :func:`read_customers`).
    """
    for _key, event in _keyed_events(path, kind):
        yield event


def _event_of_row(path: str | Path, cls: type[Any] | None, line: int, row: dict[str, Any]) -> Event | None:
    """The event of one raw row (None: a customer row of a mixed file, skipped); errors name
    ``path:line``. ``cls`` is the fact class of a one-kind file, None for a mixed one."""
    try:
        if cls is not None:
            row.pop("type", None)
            event: Event = cls.from_dict(row)
            return event
        if row.get("type") == "customer":
            return None
        return event_from_dict(row)
    except CardBenefitsError as exc:
        raise SimulationError(str(exc), path=f"{path}:{line}", value=exc.value) from None


def _located_events(path: str | Path, kind: str | None) -> Iterator[tuple[tuple[Any, ...], Event, int]]:
    """``(event_sort_key(event), event, line)`` for each event of one file, checking the order."""
    cls = EVENT_KINDS[kind] if kind is not None else None
    last: tuple[Any, ...] | None = None
    for n, row in read_rows(path):
        event = _event_of_row(path, cls, n, row)
        if event is None:
            continue
        key = event_sort_key(event)
        if last is not None and key < last:
            raise EventOrderError(
                "events must be sorted by event time in each file (sort the file first)",
                path=f"{path}:{n}",
                value=event.id,
            )
        last = key
        yield key, event, n


def _keyed_events(path: str | Path, kind: str | None) -> Iterator[tuple[tuple[Any, ...], Event]]:
    """``(event_sort_key(event), event)`` for each event of one file (the key is computed once)."""
    for key, event, _line in _located_events(path, kind):
        yield key, event


_second: Final = itemgetter(1)


def _find(folder: Path, stem: str) -> Path | None:
    found = [folder / f"{stem}{suffix}" for suffix in FORMATS if (folder / f"{stem}{suffix}").exists()]
    if len(found) > 1:
        raise SimulationError("more than one file for the same kind", path=str(folder),
                              value=[p.name for p in found])  # fmt: skip
    return found[0] if found else None


@attrs.frozen
class EventSource:
    """Where a simulation's customers and events come from (see the module docstring).

    ``customers_path`` holds the customers; ``event_paths`` the event files with their kind
    (``None``: mixed file whose rows name their type).
    """

    customers_path: Path
    event_paths: tuple[tuple[Path, str | None], ...]

    @classmethod
    def open(cls, path: str | Path) -> EventSource:
        """An event-set directory, or one mixed file (customers and events with a ``type``)."""
        path = Path(path)
        if path.is_dir():
            customers = _find(path, "customers")
            if customers is None:
                raise SimulationError(
                    f"no customers file (customers{{{','.join(FORMATS)}}})", path=str(path), value=None
                )
            events = tuple((p, stem) for stem in EVENT_KINDS if (p := _find(path, stem)) is not None)
            return cls(customers, events)
        if not path.exists():
            raise SimulationError("no such file or directory", path=str(path), value=str(path))
        _suffix(path)
        return cls(path, ((path, None),))

    def customers(self) -> dict[str, Customer]:
        """Every customer, by id."""
        return read_customers(self.customers_path)

    def events(self) -> Iterator[Event]:
        """All events merged into replay order (:func:`~cardbenefits.facts.event_sort_key`)."""
        streams = [_keyed_events(path, kind) for path, kind in self.event_paths]
        if len(streams) == 1:
            return map(_second, streams[0])
        # merge on the keys the readers computed for their order check (never on the events)
        return map(_second, heapq.merge(*streams, key=itemgetter(0)))


# -- writers ----------------------------------------------------------------------------------
def _flat_customer_rows(customer: Customer) -> Iterator[dict[str, Any]]:
    data = customer.to_dict()
    if data["attributes"]:
        raise SimulationError(
            "CSV customers cannot hold attributes (use .jsonl)", path=f"customers.{customer.id}.attributes",
            value=sorted(data["attributes"]),
        )  # fmt: skip
    base = {k: data[k] for k in _CUSTOMER_COLUMNS}
    base["tags"] = "|".join(data["tags"])
    cards = data["cards"] or [dict.fromkeys(_CARD_COLUMNS)]
    for card in cards:
        yield {**base, **{k: card[k] for k in _CARD_COLUMNS}}


def _write_rows(
    path: Path, rows: Iterable[dict[str, Any]], columns: tuple[str, ...] | None, *, text: bool = False
) -> int:
    """Write rows; ``text``: every value is a string or None (events), so Parquet columns are
    strings from the start (``columns``, else the first row's keys) whatever the first rows hold."""
    suffix = _suffix(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    if suffix == ".parquet":
        pq = _pyarrow_parquet()
        import pyarrow as pa

        writer = None
        chunk: list[dict[str, Any]] = []

        def flush() -> None:
            nonlocal writer
            schema = None
            if text:
                names = columns or (tuple(chunk[0]) if chunk else ())
                unknown = set().union(*chunk) - set(names)
                if unknown:  # pragma: no cover - a new event field missing from _MIXED_COLUMNS
                    raise SimulationError("no column for these fields", path=str(path), value=sorted(unknown))
                schema = pa.schema([(name, pa.string()) for name in names])
            table = pa.Table.from_pylist(
                [
                    {k: (json.dumps(v) if isinstance(v, list | dict) else v) for k, v in r.items()}
                    for r in chunk
                ],
                schema=writer.schema if writer is not None and text else schema,
            )
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table.cast(writer.schema))
            chunk.clear()

        for row in rows:
            chunk.append(row)
            count += 1
            if len(chunk) >= 65536:
                flush()
        if chunk or writer is None:
            flush()
        assert writer is not None
        writer.close()
        return count
    with path.open("w", encoding="utf-8", newline="") as handle:
        if suffix == ".jsonl":
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
                count += 1
            return count
        out: csv.DictWriter[str] | None = None
        for row in rows:
            if out is None:
                out = csv.DictWriter(handle, fieldnames=list(columns or row))
                out.writeheader()
            out.writerow({k: ("" if v is None else v) for k, v in row.items()})
            count += 1
    return count


def write_customers(path: str | Path, customers: Iterable[Customer]) -> int:
    """Write customers (flat rows for CSV, :meth:`Customer.to_dict` otherwise); returns the count."""
    path = Path(path)
    flat = _suffix(path) in (".csv", ".parquet")
    written = 0

    def rows() -> Iterator[dict[str, Any]]:
        nonlocal written
        for customer in customers:
            written += 1
            if flat:
                yield from _flat_customer_rows(customer)
            else:
                yield customer.to_dict()

    _write_rows(path, rows(), (*_CUSTOMER_COLUMNS, *_CARD_COLUMNS) if flat else None)
    return written


def write_events(path: str | Path, events: Iterable[Event], *, mixed: bool = False) -> int:
    """Write events (one kind per file unless ``mixed``, which adds the ``type`` column).

    Event values are strings (or missing), and Parquet columns are typed so from the first row:
    a mixed file has every kind's columns, whatever kind comes first.
    """
    path = Path(path)
    rows = (event_to_dict(e) if mixed else e.to_dict() for e in events)
    columns = _MIXED_COLUMNS if mixed else None  # CSV and Parquet: every kind's columns
    return _write_rows(path, rows, columns, text=True)
