"""Columnar event reading: an event set's transactions as Python column lists, in chunks.

The object reader (:meth:`EventSource.events <cardbenefits.simulate.io.EventSource.events>`)
builds one :class:`~cardbenefits.facts.Transaction` per row. A columnar engine wants plain
lists instead: :func:`iter_chunks` reads the same event set with polars and yields
:class:`EventChunk`\\ s, each holding up to ``chunk_rows`` transactions as parallel lists
(:class:`TransactionColumns`) plus the non-transaction events (follows, draw requests,
referrals) that fall between the previous chunk's last transaction and its own, so the
chunks replay exactly the events of the object reader, in the same order.

The same rows are refused with the same errors: rows the vectorized checks cannot vouch for
(anything but plain strings in the shape :meth:`Transaction.to_dict
<cardbenefits.facts.Transaction.to_dict>` writes, and every non-transaction row) are read by
the object path itself, which either builds them or raises its own error. Files are read in
blocks cut at line ends (Parquet in row groups or slices of them, by polars when every column
holds text, else by pyarrow), so memory stays bounded by the block and chunk sizes. Each
block's checks are one polars query; a first cheap pass over the block decides which checks
every row passes without their full expression (one offset for every instant, one currency,
ids starting with printable ASCII).

>>> import tempfile, pathlib
>>> from cardbenefits.facts import Customer, Follow, Transaction
>>> from cardbenefits.money import Money
>>> from cardbenefits.simulate.io import EventSource, write_customers, write_events
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = write_customers(folder / "customers.jsonl", [Customer("c1", "p1")])
>>> buy = Transaction("t1", "c1", "k1", Money.of("88.00"), "m1", "5812", "pos", "purchase",
...                   "2026-11-30T23:50:00+08:00", posted_at="2026-12-01T09:00:00+08:00")
>>> _ = write_events(folder / "transactions.csv", [buy])
>>> _ = write_events(folder / "follows.jsonl", [Follow("f1", "c1", "e", "app", "2026-11-05T10:00+08:00")])
>>> [chunk] = iter_chunks(EventSource.open(folder))
>>> cols = chunk.transactions
>>> cols.id, cols.amount, cols.day, cols.posted_day, cols.line
(['t1'], [Decimal('88.00')], ['2026-11-30'], ['2026-12-01'], [2])
>>> [event.id for _key, event in chunk.others], cols.transaction(0) == buy
(['f1'], True)
"""

from __future__ import annotations

import bisect
import csv
import datetime as _dt
import heapq
import io as _io
import re
from collections import deque
from collections.abc import Callable, Iterator
from functools import cache, partial
from itertools import accumulate
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs

from cardbenefits.engine.frames import FRAME_COLUMNS, FrameRows
from cardbenefits.errors import CardBenefitsError
from cardbenefits.facts import (
    TRANSACTION_COLUMNS,
    Channel,
    Event,
    Transaction,
    TransactionKind,
    event_sort_key,
)
from cardbenefits.facts import _utc as _naive_utc
from cardbenefits.money import DEFAULT_CURRENCY, Money
from cardbenefits.simulate.io import (
    EVENT_KINDS,
    EventOrderError,
    EventSource,
    SimulationError,
    _event_of_row,
    _json_record,
    _keyed_events,
    _suffix,
    optional_module,
    read_rows,
)
from cardbenefits.simulate.io import _located_events as _io_located_events

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl

__all__ = ["EventChunk", "TransactionColumns", "iter_chunks"]

Key = tuple[_dt.datetime, int, int, str]

# Transaction fields in the order Transaction.to_dict writes them (the JSON fast shape).
_FIELDS: Final = TRANSACTION_COLUMNS
_ALLOWED: Final = frozenset((*_FIELDS, "type"))
_UNDOING: Final = (TransactionKind.REFUND.value, TransactionKind.REVERSAL.value)
_KIND_RANK: Final = {k.value: (1 if k.value in _UNDOING else 0) for k in TransactionKind}
_TYPE_RANK: Final = {"follow": 0, "draw_request": 1, "transaction": 2, "referral": 3}
_EPOCH: Final = _dt.datetime(1970, 1, 1)
_US: Final = _dt.timedelta(microseconds=1)
_BLOCK_BYTES: Final = 8 << 20
_SLOW_ROWS: Final = 4096

# A JSON string without escapes or control characters, or null: what json.loads and polars
# read the same way. Keys in to_dict order, each at most once (no duplicate-key ambiguity).
_WS: Final = r"[ \t]*"
_VALUE: Final = r'(?:"[^"\\\x00-\x1f]*"|null)'


def _json_pattern(first: str) -> str:
    rest = "".join(f'(?:{_WS},{_WS}"{name}"{_WS}:{_WS}{_VALUE})?' for name in _FIELDS[1:])
    return rf"^{_WS}\{{{_WS}{first}{rest}{_WS}\}}{_WS}(?:\r\n|\r|\n)?$"


# mixed files: the type first; kind files: an optional type (ignored), then the id
_JSON_MIXED: Final = _json_pattern(f'"type"{_WS}:{_WS}"transaction"(?:{_WS},{_WS}"id"{_WS}:{_WS}{_VALUE})?')
_JSON_KIND: Final = _json_pattern(f'(?:"type"{_WS}:{_WS}{_VALUE}{_WS},{_WS})?"id"{_WS}:{_WS}{_VALUE}')
# An id Python's str.strip() leaves non-empty: a character outside Unicode White_Space and
# the information separators \x1c-\x1f (the only other characters str.isspace() accepts).
_NON_BLANK: Final = r"[^\s\x1c-\x1f]"
_MCC: Final = r"^[0-9]{4}$"
_AMOUNT: Final = r"^[0-9]{1,15}(?:\.[0-9]{1,8})?$"


def _amount_pattern(digits: int) -> str:
    r"""One regex for an amount of a currency with ``digits`` places that the object path reads
    as positive: :data:`_AMOUNT`, a non-zero digit, and zeros only past ``digits`` places.

    (A pass of polars' regex over a column costs more than the pattern: one pass, not three.)

    >>> import re
    >>> [bool(re.fullmatch(_amount_pattern(2)[1:-1], t)) for t in ("0.50", "1.500", "0.00", "1.005", "5.")]
    [True, True, False, False, False]
    """
    whole = "|".join(f"{'0' * k}[1-9]" + (f"[0-9]{{0,{14 - k}}}" if k < 14 else "") for k in range(15))
    if digits >= 8:
        places = "[0-9]{1,8}"
        nonzero = "|".join(f"{'0' * j}[1-9][0-9]{{0,{7 - j}}}" for j in range(8))
    elif digits == 0:
        return rf"^(?:{whole})(?:\.0{{1,8}})?$"
    else:
        places = f"[0-9]{{1,{digits}}}|[0-9]{{{digits}}}0{{1,{8 - digits}}}"
        nonzero = "|".join(
            f"{'0' * j}[1-9](?:[0-9]{{0,{digits - 1 - j}}}|[0-9]{{{digits - 1 - j}}}0{{1,{8 - digits}}})"
            for j in range(digits)
        )
    return rf"^(?:(?:{whole})(?:\.(?:{places}))?|0{{1,15}}\.(?:{nonzero}))$"


# Instants in a shape pendulum reads the same: years 1900-2999, seconds < 60, whole offsets.
_INSTANT: Final = (
    r"^(?:19|2[0-9])[0-9]{2}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(?:\.[0-9]{1,6})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
)
_WALL_FORMAT: Final = "%Y-%m-%dT%H:%M:%S"
# offset codes kept per row (seconds east of UTC), and two that are not plain offsets
_Z: Final = 100_000
_MINUS_ZERO: Final = 200_000
_OFFSET_TEXT: Final = re.compile(r"([+-])([0-9]{2}):([0-9]{2})", re.ASCII)


def _offset_code(tail: str) -> int | None:
    """The offset code of an instant's last six characters (None: not an offset we read)."""
    if tail.endswith("Z"):
        return _Z
    match = _OFFSET_TEXT.fullmatch(tail)
    if match is None:
        return None
    seconds = int(match[2]) * 3600 + int(match[3]) * 60
    if match[1] == "-":
        return _MINUS_ZERO if seconds == 0 else -seconds
    return seconds


def _instant_text(us: int, code: int) -> str:
    """An ISO-8601 text of the instant ``us`` at the offset ``code`` (what the file said)."""
    offset = 0 if code in (_Z, _MINUS_ZERO) else code
    wall = (_EPOCH + _dt.timedelta(microseconds=us + offset * 1_000_000)).isoformat()
    if code == _Z:
        return wall + "Z"
    if code == _MINUS_ZERO:
        return wall + "-00:00"
    sign = "-" if offset < 0 else "+"
    hours, minutes = divmod(abs(offset) // 60, 60)
    return f"{wall}{sign}{hours:02d}:{minutes:02d}"


def _polars() -> Any:
    return optional_module("polars", "columnar reading", "polars")


@cache
def _engine() -> dict[str, str]:
    """``collect`` arguments choosing polars' in-memory engine, where this polars has it.

    Its results keep one chunk per column; the streaming engine (the default of recent polars
    for eager calls) cuts them into morsels that differ between columns, and every later eager
    operation on such a frame copies its columns to realign them.
    """
    try:
        _polars().LazyFrame().collect(engine="in-memory")
    except Exception:  # pragma: no cover - polars before the engine choice
        return {}
    return {"engine": "in-memory"}


def _collect(frame: Any) -> pl.DataFrame:
    """A LazyFrame collected by :func:`_engine`'s engine."""
    result: pl.DataFrame = frame.collect(**_engine())
    return result


# -- public values ----------------------------------------------------------------------------
def _key_of(at_us: int, kind: str, tid: str) -> Key:
    return (_EPOCH + _dt.timedelta(microseconds=at_us), 2, _KIND_RANK[kind], tid)


class TransactionColumns(FrameRows):
    """Transactions of one chunk as a polars frame (:class:`~cardbenefits.engine.frames.FrameRows`), in order.

    ``at_us``/``posted_us`` are UTC microseconds since the Unix epoch; ``day``/``posted_day``
    the local dates (``YYYY-MM-DD``) in the reader's time zone; ``amount`` the exact Decimal
    of :attr:`Transaction.amount <cardbenefits.facts.Transaction.amount>` (its text in the
    frame). ``line`` is the row's line (JSON lines, CSV: as
    :func:`~cardbenefits.simulate.io.read_rows` numbers them) or row number (Parquet) in
    ``path``. Column attributes are Python lists built on first use; the batch evaluator reads
    :attr:`frame` instead.

    >>> cols = TransactionColumns.from_transactions("t.jsonl", [1], [Transaction(
    ...     "t1", "c1", "k1", Money.of("5.00"), "m1", "5411", "pos", "purchase", "2026-11-01T00:30Z")])
    >>> len(cols), cols.at_us, cols.day, cols.key(0)[1:]
    (1, [1793493000000000], ['2026-11-01'], (2, 0, 't1'))
    """

    __slots__ = ("_objects", "path")

    def __init__(self, path: str, frame: pl.DataFrame, objects: dict[int, Transaction] | None = None) -> None:
        super().__init__(frame)
        self.path = path
        # the Transactions the object path built, by the frame's "_built" key
        self._objects = objects if objects is not None else {}

    @property
    def line(self) -> list[int]:
        """Line (or Parquet row) numbers in :attr:`path`."""
        return self.column("line")

    @property
    def region(self) -> list[str | None]:
        """Regions (None where the row has none)."""
        return self.column("region")

    @property
    def device_id(self) -> list[str | None]:
        """Device ids (None where the row has none)."""
        return self.column("device_id")

    def transaction(self, i: int) -> Transaction:
        """Row ``i`` as the :class:`~cardbenefits.facts.Transaction` the object reader builds."""
        key = self.cells("_built")[i]
        if key is not None:
            return self._objects[key]
        cell = self.cells
        at_us, posted_us = cell("at_us")[i], cell("posted_us")[i]
        at_code, posted_code = cell("_at_offset")[i], cell("_posted_offset")[i]
        same = at_us == posted_us and at_code == posted_code
        return Transaction.from_dict(
            {
                "id": cell("id")[i],
                "customer_id": cell("customer_id")[i],
                "card_id": cell("card_id")[i],
                "amount": str(cell("amount")[i]),
                "currency": cell("currency")[i],
                "merchant_id": cell("merchant_id")[i],
                "mcc": cell("mcc")[i],
                "channel": cell("channel")[i],
                "kind": cell("kind")[i],
                "transacted_at": _instant_text(at_us, at_code),
                "posted_at": None if same else _instant_text(posted_us, posted_code),
                "refund_of": cell("refund_of")[i],
                "region": cell("region")[i],
                "device_id": cell("device_id")[i],
            }
        )

    def transactions(self, rows: list[int]) -> list[Transaction]:
        """:meth:`transaction` of each of ``rows`` (ascending), their cells gathered at once."""
        self.load(rows, _COLUMNS[1:])
        return [self.transaction(i) for i in rows]

    def key(self, i: int) -> Key:
        """``event_sort_key(self.transaction(i))``, from the columns alone."""
        cell = self.cells
        return _key_of(cell("at_us")[i], cell("kind")[i], cell("id")[i])

    def slice(self, start: int, stop: int) -> TransactionColumns:
        """Rows ``start`` to ``stop``."""
        return TransactionColumns(self.path, self.frame.slice(start, max(stop - start, 0)), self._objects)

    @classmethod
    def from_transactions(
        cls, path: str, lines: list[int], transactions: list[Transaction], *, timezone: str = "Asia/Shanghai"
    ) -> TransactionColumns:
        """Columns of built transactions (the object path's rows; also handy in tests)."""
        return cls(path, _object_frame(lines, transactions, timezone, 0), dict(enumerate(transactions)))


@attrs.frozen(slots=True, eq=False)
class EventChunk:
    """One step of a columnar replay: transactions as columns and the other events among them.

    ``others`` are the non-transaction events with their
    :func:`~cardbenefits.facts.event_sort_key`, in replay order, whose key is after the
    previous chunk's last transaction key and at or before this chunk's last one (the final
    chunk carries every remaining one). Merging them with the transactions by key gives the
    chunk's events in replay order (:meth:`events`).
    """

    transactions: TransactionColumns
    others: tuple[tuple[Key, Event], ...]

    def events(self) -> Iterator[Event]:
        """The chunk's events in replay order (builds each Transaction: for checks, not speed).

        >>> list(EventChunk(TransactionColumns.from_transactions("x.csv", [], []), ()).events())
        []
        """
        cols = self.transactions
        txns = ((cols.key(i), i) for i in range(len(cols)))
        merged = heapq.merge(txns, ((key, n) for n, (key, _e) in enumerate(self.others)), key=itemgetter(0))
        for key, index in merged:
            if key[1] == 2:
                yield cols.transaction(index)
            else:
                yield self.others[index][1]


# -- column buffer ----------------------------------------------------------------------------
# the frame's columns, in order
_COLUMNS: Final = ("line", *FRAME_COLUMNS, "region", "device_id", "_at_offset", "_posted_offset", "_built")


def _schema() -> dict[str, Any]:
    pl = _polars()
    ints = {"line", "at_us", "posted_us", "_at_offset", "_posted_offset", "_built"}
    return {name: (pl.Int64 if name in ints else pl.String) for name in _COLUMNS}


class _Buffer:
    """Rows read so far and not yet handed out: frames, and the Transactions of object-path rows."""

    __slots__ = ("frames", "next_key", "objects", "rows")

    def __init__(self) -> None:
        self.frames: list[pl.DataFrame] = []
        self.objects: dict[int, Transaction] = {}
        self.next_key = 0
        self.rows = 0

    def __len__(self) -> int:
        return self.rows

    def extend(self, frame: pl.DataFrame, objects: list[Transaction]) -> None:
        """Append ``frame``; its ``_built`` cells index ``objects``."""
        if objects:
            pl = _polars()
            frame = frame.with_columns(pl.col("_built") + self.next_key)
            self.objects.update(enumerate(objects, self.next_key))
            self.next_key += len(objects)
        self.frames.append(frame)
        self.rows += int(frame.height)

    def take(self, path: str, n: int) -> TransactionColumns:
        pl = _polars()
        if not self.frames:
            return TransactionColumns(path, pl.DataFrame(schema=_schema()), {})
        frame = self.frames[0] if len(self.frames) == 1 else pl.concat(self.frames, rechunk=False)
        head, rest = frame.slice(0, n), frame.slice(n)
        self.frames = [rest] if rest.height else []
        self.rows = int(rest.height)
        objects: dict[int, Transaction] = {}
        if self.objects:
            for key in head.get_column("_built").drop_nulls().to_list():
                objects[key] = self.objects.pop(key)
        return TransactionColumns(path, head, objects)


def _local_days(us: list[int], timezone: str) -> list[str]:
    pl = _polars()
    frame = pl.DataFrame({"us": us}, schema={"us": pl.Int64})
    return frame.select(_day(pl.col("us"), timezone))["us"].to_list()  # type: ignore[no-any-return]


def _object_frame(lines: list[int], txns: list[Transaction], timezone: str, first: int) -> pl.DataFrame:
    """The frame of transactions the object path built; their ``_built`` keys count from ``first``."""
    plm = _polars()
    at_us = [(_naive_utc(t.transacted_at) - _EPOCH) // _US for t in txns]
    posted_us = [(_naive_utc(t.posted_at) - _EPOCH) // _US for t in txns]
    data = {
        "line": list(lines),
        "id": [t.id for t in txns],
        "customer_id": [t.customer_id for t in txns],
        "card_id": [t.card_id for t in txns],
        "merchant_id": [t.merchant_id for t in txns],
        "mcc": [t.mcc for t in txns],
        "channel": [t.channel.value for t in txns],
        "kind": [t.kind.value for t in txns],
        "amount": [format(t.amount.amount, "f") for t in txns],
        "currency": [t.amount.currency for t in txns],
        "refund_of": [t.refund_of for t in txns],
        "at_us": at_us,
        "posted_us": posted_us,
        "day": _local_days(at_us, timezone) if txns else [],
        "posted_day": _local_days(posted_us, timezone) if txns else [],
        "region": [t.region for t in txns],
        "device_id": [t.device_id for t in txns],
        "_at_offset": [0] * len(txns),
        "_posted_offset": [0] * len(txns),
        "_built": list(range(first, first + len(txns))),
    }
    frame: pl.DataFrame = plm.DataFrame(data, schema=_schema()).select(_COLUMNS)
    return frame


# -- object path ------------------------------------------------------------------------------
def _micros(key: tuple[Any, ...]) -> int:
    return (key[0] - _EPOCH) // _US  # type: ignore[no-any-return]


@attrs.define
class _Block:
    """Rows of one block of a file: candidates for the vectorized path, the rest for the object path.

    ``cand`` holds ``__line``, ``__idx`` and every transaction field as (nullable) strings;
    ``slow`` the ``(line, idx)`` of rows for the object path; ``row(idx)`` gives a row's raw
    record as :func:`~cardbenefits.simulate.io.read_rows` does (None: a blank line), raising
    its errors.
    """

    cand: pl.DataFrame | None
    slow: list[tuple[int, int]]
    row: Callable[[int], dict[Any, Any] | None]


class _Deferred:
    """Rows read through a Python reader, with the reader's error kept for its place in the file."""

    def __init__(self) -> None:
        self.rows: list[dict[Any, Any]] = []
        self.error: BaseException | None = None

    def row(self, idx: int) -> dict[Any, Any] | None:
        if idx == len(self.rows):
            assert self.error is not None
            raise self.error
        return self.rows[idx]


def _python_blocks(rows: Iterator[tuple[int, dict[Any, Any]]]) -> Iterator[_Block]:
    """Blocks of rows a Python reader gives; its error is raised after the rows before it."""
    last = 0
    while True:
        batch = _Deferred()
        slow: list[tuple[int, int]] = []
        try:
            for n, row in rows:
                last = n
                slow.append((n, len(batch.rows)))
                batch.rows.append(row)
                if len(slow) >= _SLOW_ROWS:
                    break
        except Exception as exc:  # the reader's own error, raised in file order below
            batch.error = exc
            slow.append((last + 1, len(batch.rows)))
        if slow:
            yield _Block(None, slow, batch.row)
        if batch.error is not None or len(slow) < _SLOW_ROWS:
            return


def _byte_blocks(handle: Any) -> Iterator[tuple[int, bytes]]:
    """``(offset, bytes)`` blocks of a binary file of about :data:`_BLOCK_BYTES`, each ending
    just after a ``\n`` (but the last): a read, completed up to its next line end."""
    offset = handle.tell()
    while True:
        data = handle.read(_BLOCK_BYTES)
        if not data:
            return
        if not data.endswith(b"\n"):
            data += handle.readline()
        yield offset, data
        offset += len(data)


def _string_lines(pl: Any, lines: list[bytes], block: bytes) -> Any:
    try:
        return pl.Series("t", lines, dtype=pl.Binary).cast(pl.String)
    except Exception:  # invalid UTF-8: raise what the object reader raises
        block.decode("utf-8")
        raise


_FIELD_DTYPES: Final = ("type", *_FIELDS)


def _jsonl_blocks(path: Path, mixed: bool) -> Iterator[_Block]:
    pl = _polars()
    pattern = _JSON_MIXED if mixed else _JSON_KIND
    schema = {name: pl.String for name in _FIELD_DTYPES}
    first = 1
    with path.open("rb") as handle:
        for _offset, block in _byte_blocks(handle):
            lines = block.splitlines(keepends=True)
            texts = _string_lines(pl, lines, block)
            count = len(lines)
            fast = texts.str.contains(pattern)
            frame = pl.DataFrame({"__idx": pl.int_range(0, count, eager=True), "fast": fast})
            chosen = _collect(
                frame.lazy().filter(pl.col("fast")).select((pl.col("__idx") + first).alias("__line"), "__idx")
            )
            if chosen.height == count and b"\r" not in block:
                body = block  # every line is a plain object on its own \n-terminated line
            else:
                kept = texts.filter(fast).str.strip_chars_end("\r\n")
                body = kept.str.join("\n").cast(pl.Binary)[0] if chosen.height else b""
            decoded = pl.read_ndjson(body, schema=schema) if chosen.height else None
            if decoded is not None and decoded.height != chosen.height:  # pragma: no cover - defensive
                decoded, chosen = None, chosen.clear()
            cand = None
            if decoded is not None:
                cand = pl.concat([chosen, decoded.drop("type")], how="horizontal")
                if max(cand.n_chunks("all")) > 1:
                    cand = cand.rechunk()
            slow_idx = (~fast).arg_true().to_list() if chosen.height < count else []
            if decoded is None and chosen.height:  # pragma: no cover - defensive
                slow_idx = list(range(count))
            yield _Block(cand, [(first + i, i) for i in slow_idx], _json_row(path, lines, first))
            first += count


def _json_row(path: Path, lines: list[bytes], first: int) -> Callable[[int], dict[Any, Any] | None]:
    def row(idx: int) -> dict[Any, Any] | None:
        return _json_record(lines[idx].decode("utf-8"), path, first + idx)

    return row


def _dict_row(header: list[str], cells: list[str]) -> dict[Any, Any]:
    """What :class:`csv.DictReader` makes of ``cells`` (extra cells under None, missing ones None)."""
    row: dict[Any, Any] = dict(zip(header, cells, strict=False))
    if len(cells) > len(header):
        row[None] = cells[len(header) :]
    else:
        for name in header[len(cells) :]:
            row[name] = None
    return row


def _csv_blocks(path: Path, mixed: bool) -> Iterator[_Block]:
    pl = _polars()
    with path.open("rb") as handle:
        head = handle.readline()
        text = head[:-1] if head.endswith(b"\n") else head
        text = text[:-1] if text.endswith(b"\r") else text
        try:
            names = text.decode("utf-8").split(",")
        except UnicodeDecodeError:
            names = []
        if (
            not text
            or any(c in text for c in (b'"', b"\r", b"\x00"))
            or len(set(names)) != len(names)
            or not set(names) <= _ALLOWED
            or (mixed and "type" not in names)
        ):
            yield from _python_blocks(iter(read_rows(path)))
            return
        width = len(names)
        records = 0  # records read (the header excluded): row n is line records + 1
        for offset, block in _byte_blocks(handle):
            if b'"' in block or b"\x00" in block:
                # quoted cells may span lines: the csv module reads the rest of the file
                handle.seek(offset)
                reader = csv.reader(_io.TextIOWrapper(handle, encoding="utf-8", newline=""))
                yield from _python_blocks(_csv_records(reader, names, records))
                return
            lines = block.splitlines(keepends=True)
            texts = _string_lines(pl, lines, block).str.strip_chars_end("\r\n")
            frame = pl.DataFrame({"__idx": pl.int_range(0, len(lines), eager=True), "t": texts})
            frame = frame.with_columns(
                (pl.col("t") != "").alias("record"),
                (pl.col("t").str.count_matches(",", literal=True) == width - 1).alias("shaped"),
            ).with_columns((pl.col("record").cum_sum() + records + 1).alias("__line"))
            frame = frame.filter(pl.col("record"))
            cells = frame.select(
                "__line", "__idx", "shaped", pl.col("t").str.split_exact(",", width - 1).struct.unnest()
            ).rename({f"field_{i}": name for i, name in enumerate(names)})
            fast = pl.col("shaped")
            if mixed:
                cells = cells.filter(~(fast & (pl.col("type") == "customer")))
                fast = fast & (pl.col("type") == "transaction")
            cells = cells.with_columns(fast.alias("shaped"))
            missing = [pl.lit(None, pl.String).alias(name) for name in _FIELDS if name not in names]
            cand = cells.filter(pl.col("shaped")).select(
                "__line", "__idx", *[n for n in _FIELDS if n in names], *missing
            )
            slow = cells.filter(~pl.col("shaped")).select("__line", "__idx")
            records += int(frame.height)
            yield _Block(
                cand.select("__line", "__idx", *_FIELDS),
                list(zip(slow["__line"].to_list(), slow["__idx"].to_list(), strict=True)),
                _csv_row(names, texts),
            )


def _csv_records(
    reader: Iterator[list[str]], names: list[str], records: int
) -> Iterator[tuple[int, dict[Any, Any]]]:
    """``(line, row)`` of the records left in ``reader`` (as csv.DictReader numbers them)."""
    for cells in reader:
        if cells:
            records += 1
            yield records + 1, _dict_row(names, cells)


def _csv_row(names: list[str], texts: Any) -> Callable[[int], dict[Any, Any] | None]:
    def row(idx: int) -> dict[Any, Any] | None:
        return _dict_row(names, texts[idx].split(","))

    return row


_PARQUET_BATCH: Final = 65536  # rows per pyarrow record batch
_PARQUET_BLOCK: Final = 262144  # rows per block read by polars (fewer, larger polars passes)


def _text_columns(parquet: Any) -> bool:
    """Whether every column of ``parquet`` (a ``pyarrow.parquet.ParquetFile``) holds text or
    nulls, under distinct names: polars then reads the same values as pyarrow."""
    types = optional_module("pyarrow.types", "reading or writing Parquet", "parquet")
    text = (types.is_string, types.is_large_string, getattr(types, "is_string_view", types.is_string))
    schema = parquet.schema_arrow
    names = list(schema.names)
    return (
        bool(names)
        and len(set(names)) == len(names)
        and all(types.is_null(t) or any(is_text(t) for is_text in text) for t in schema.types)
    )


def _block_end(group_ends: list[int], start: int) -> int:
    """Where the Parquet block from row ``start`` ends: with its row group when that holds a
    quarter block or more (polars gives the rows of one group as one chunk a column: nothing to
    copy), else a whole block over the small groups."""
    end = group_ends[bisect.bisect_right(group_ends, start)]
    if end - start >= _PARQUET_BLOCK // 4:
        return min(end, start + _PARQUET_BLOCK)
    return min(start + _PARQUET_BLOCK, group_ends[-1])


def _polars_block(path: Path, start: int, length: int) -> pl.DataFrame:
    """``length`` rows of a Parquet file from row ``start``, read by polars, one chunk a column."""
    scan = _polars().scan_parquet(path, glob=False, hive_partitioning=False)
    frame = _collect(scan.slice(start, length))
    if max(frame.n_chunks("all")) > 1:  # rows of several row groups
        frame = frame.rechunk()
    return frame


def _parquet_frames(path: Path) -> Iterator[tuple[pl.DataFrame, Callable[[int], dict[Any, Any] | None]]]:
    """Record batches of a Parquet file as frames, with the raw record of a row as pyarrow gives it.

    A file of text columns is read by polars (several times faster than pyarrow and a
    conversion); anything else, or anything polars refuses, by pyarrow from that row on, so
    values and errors are pyarrow's.
    """
    pl = _polars()
    pq = optional_module("pyarrow.parquet", "reading or writing Parquet", "parquet")
    parquet = pq.ParquetFile(path)
    start = 0
    if _text_columns(parquet):
        meta = parquet.metadata
        group_ends = list(accumulate(meta.row_group(i).num_rows for i in range(meta.num_row_groups)))
        rows = int(meta.num_rows)
        while start < rows:
            try:
                frame = _polars_block(path, start, _block_end(group_ends, start) - start)
            except (Exception, pl.exceptions.PanicException):  # pyarrow reads it, or raises its error
                break
            if not frame.height or any(dtype not in (pl.String, pl.Null) for dtype in frame.dtypes):
                break  # pragma: no cover - defensive: pyarrow's schema said text
            yield frame, _frame_row(frame)
            start += frame.height
        else:
            return
    skip = start  # rows polars gave already
    for batch in parquet.iter_batches(batch_size=_PARQUET_BATCH):
        if skip >= batch.num_rows:
            skip -= batch.num_rows
            continue
        if skip:
            batch, skip = batch.slice(skip), 0
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        yield frame, _arrow_row(batch)


def _parquet_blocks(path: Path, mixed: bool) -> Iterator[_Block]:
    pl = _polars()
    first = 1
    for frame, row in _parquet_frames(path):
        height = int(frame.height)
        odd: Any = None
        strings: list[str] = []
        for name, dtype in frame.schema.items():
            if dtype == pl.Categorical or isinstance(dtype, pl.Enum):
                frame = frame.with_columns(pl.col(name).cast(pl.String))
                dtype = pl.String
            if name in _ALLOWED and dtype in (pl.String, pl.Null):
                strings.append(name)
            else:
                odd = pl.col(name).is_not_null() if odd is None else odd | pl.col(name).is_not_null()
        cast = [
            (pl.col(name).cast(pl.String) if name in strings else pl.lit(None, pl.String)).alias(name)
            for name in _FIELDS
        ]
        index = [
            (pl.int_range(0, pl.len()) + first).alias("__line"),
            pl.int_range(0, pl.len()).alias("__idx"),
        ]
        if odd is None and not mixed:  # every row is a candidate: no filtering
            yield _Block(_collect(frame.lazy().select(*index, *cast)), [], row)
            first += height
            continue
        fast = pl.lit(True) if odd is None else ~odd
        typed = "type" in strings
        if mixed:
            fast = fast & (pl.col("type") == "transaction").fill_null(False) if typed else pl.lit(False)
        frame = frame.with_columns(*index, fast.alias("fast"))
        if mixed and typed:  # customer rows are skipped, as the object reader does
            frame = frame.filter((pl.col("type") != "customer").fill_null(True))
        cand = frame.filter(pl.col("fast")).select("__line", "__idx", *cast)
        slow = frame.filter(~pl.col("fast"))
        yield _Block(cand, list(zip(slow["__line"].to_list(), slow["__idx"].to_list(), strict=True)), row)
        first += height


def _arrow_row(batch: Any) -> Callable[[int], dict[Any, Any] | None]:
    def row(idx: int) -> dict[Any, Any] | None:
        record = batch.slice(idx, 1).to_pylist()[0]
        return {k: v for k, v in record.items() if v is not None}

    return row


def _frame_row(frame: pl.DataFrame) -> Callable[[int], dict[Any, Any] | None]:
    def row(idx: int) -> dict[Any, Any] | None:
        return {k: v for k, v in frame.row(idx, named=True).items() if v is not None}

    return row


# -- the transaction file: vectorized checks, object path, order -------------------------------
_CHANNEL_VALUES: Final = [c.value for c in Channel]
_KIND_VALUES: Final = [k.value for k in TransactionKind]
_ID_COLUMNS: Final = ("id", "customer_id", "card_id", "merchant_id")
_OPTIONAL_IDS: Final = ("refund_of", "region", "device_id")
_DAY_US: Final = 86_400_000_000
_HOUR_US: Final = 3_600_000_000
# local days spanned by a block past which day names are formatted row by row
_DAY_SPAN: Final = 4096
# hours spanned by a block past which local days are converted row by row
_HOUR_SPAN: Final = 200_000


def _minor_digits(currency: str) -> int | None:
    """Decimal places of ``currency`` when the object path reads it unchanged, else None."""
    try:
        money = Money.of("0", currency)
    except CardBenefitsError:
        return None
    if money.currency != currency:
        return None
    from babel.numbers import get_currency_precision

    return int(get_currency_precision(currency))


def _present(name: str) -> Any:
    c = _polars().col
    return c(name).is_not_null() & (c(name) != "")


def _printable_start(name: str) -> Any:
    """The cell starts with printable ASCII other than a space: Python's strip() leaves it
    non-empty (a cheap sufficient test for :data:`_NON_BLANK`; bytes compare in order)."""
    c = _polars().col
    return (c(name) >= "!") & (c(name) < "\x7f")


def _tail(text: str | None) -> str | None:
    """The offset text an instant ends with (``Z`` or its last six characters)."""
    if text is None:
        return None
    return "Z" if text.endswith("Z") else text[-6:]


@attrs.frozen
class _Plan:
    """What a block's probe found: which checks every row passes cheaply, and shared values."""

    ids: frozenset[str]  # id columns whose every cell starts printable (no regex needed)
    currency: str | None  # the block's one currency (None: several)
    tail: str | None  # the offset text every instant ends with (None: several or unread)
    at_dot: bool  # some transacted_at has a '.'
    posted_dot: bool


class _TransactionFile:
    """Reads the one file that holds transactions: columns and its other events, in file order."""

    def __init__(self, path: Path, kind: str | None, timezone: str) -> None:
        self.path = path
        self.kind = kind
        self.cls = EVENT_KINDS[kind] if kind is not None else None
        self.timezone = timezone
        self.last: tuple[int, int, str] | None = None  # (at_us, rank, id) of the last event read
        self.minor: dict[str, int | None] = {}

    def blocks(self) -> Iterator[_Block]:
        suffix = _suffix(self.path)
        mixed = self.kind is None
        if self.kind not in (None, "transactions"):  # pragma: no cover - only carriers come here
            raise AssertionError(self.kind)
        if suffix == ".jsonl":
            return _jsonl_blocks(self.path, mixed)
        if suffix == ".csv":
            return _csv_blocks(self.path, mixed)
        return _parquet_blocks(self.path, mixed)

    def parts(self) -> Iterator[tuple[pl.DataFrame | None, list[Transaction], list[tuple[Key, Event]]]]:
        """Per block: the transactions' frame (``_built`` keys index the list of object-path
        Transactions next to it) and the other events (keyed), all in file order."""
        for block in self.blocks():
            yield self._part(block)

    # vectorized checks: exactly the rows facts' fast path (or its general path) accepts
    def _probe(self, cand: pl.DataFrame) -> _Plan:
        """One pass of cheap aggregates deciding which checks need their full expression."""
        pl = _polars()
        c = pl.col
        first = cand.row(0, named=True)
        currency = first["currency"] if first["currency"] not in (None, "") else DEFAULT_CURRENCY
        tail = _tail(first["transacted_at"])
        if tail is not None and _offset_code(tail) is None:
            tail = None
        at, posted = c("transacted_at"), c("posted_at")
        probes = [
            (
                pl.when(_present("currency")).then(c("currency")).otherwise(pl.lit(DEFAULT_CURRENCY))
                == currency
            )
            .fill_null(False)
            .all()
            .alias("currency"),
        ]
        probes += [_printable_start(name).fill_null(False).all().alias(name) for name in _ID_COLUMNS]
        probes += [
            (~_present(name) | _printable_start(name)).fill_null(False).all().alias(name)
            for name in _OPTIONAL_IDS
        ]
        if tail is not None:
            ends = at.str.ends_with(tail) & (~_present("posted_at") | posted.str.ends_with(tail))
            probes.append(ends.fill_null(False).all().alias("tail"))
            # every instant is 19 characters and the offset: none has a fraction
            size = 19 + len(tail)
            short = (at.str.len_bytes() == size) & (~_present("posted_at") | (posted.str.len_bytes() == size))
            probes.append(short.fill_null(False).all().alias("short"))
        found = _collect(cand.lazy().select(probes)).row(0, named=True)
        if found.get("tail") and found.get("short"):
            dots = (False, False)
        else:
            dots = _collect(
                cand.lazy().select(
                    at.str.contains(".", literal=True).any(), posted.str.contains(".", literal=True).any()
                )
            ).row(0)
        return _Plan(
            ids=frozenset(name for name in (*_ID_COLUMNS, *_OPTIONAL_IDS) if found[name]),
            currency=currency if found["currency"] else None,
            tail=tail if found.get("tail") else None,
            at_dot=bool(dots[0]),
            posted_dot=bool(dots[1]),
        )

    def _amount_check(self, cand: pl.DataFrame, plan: _Plan) -> Any:
        """The amount is positive, in :data:`_AMOUNT`'s shape, with no more places than its
        currency allows (trailing zeros aside)."""
        pl = _polars()
        c = pl.col
        codes = [plan.currency] if plan.currency is not None else cand["__currency"].unique().to_list()
        for code in codes:
            if code not in self.minor:
                self.minor[code] = _minor_digits(code)
        if plan.currency is not None:
            digits = self.minor[plan.currency]
            return pl.lit(False) if digits is None else c("amount").str.contains(_amount_pattern(digits))
        check: Any = pl.lit(False)
        for code, digits in self.minor.items():
            if digits is not None:
                unit = c("amount").str.contains(_amount_pattern(digits))
                check = pl.when(c("__currency") == code).then(unit).otherwise(check)
        return check

    def _checked(self, cand: pl.DataFrame) -> pl.DataFrame:
        """The block's rows as frame columns (:data:`_COLUMNS`), with ``__ok`` (the vectorized
        path vouches for the row), ``__idx``, and the order key's ``__rank`` and ``__back``
        (the row's key is below the previous row's)."""
        pl = _polars()
        c = pl.col
        present = _present
        plan = self._probe(cand)
        currency = pl.when(present("currency")).then(c("currency")).otherwise(pl.lit(DEFAULT_CURRENCY))
        if plan.currency is None:
            cand = cand.with_columns(currency.alias("__currency"))
            currency = c("__currency")
        amount = self._amount_check(cand, plan)
        checks = [c(n).str.contains(_NON_BLANK) for n in _ID_COLUMNS if n not in plan.ids]
        checks += [~present(n) | c(n).str.contains(_NON_BLANK) for n in _OPTIONAL_IDS if n not in plan.ids]
        undoing = c("kind").is_in(list(_UNDOING))
        checks += [
            c("mcc").str.contains(_MCC),
            c("channel").is_in(_CHANNEL_VALUES),
            c("kind").is_in(_KIND_VALUES),
            pl.when(undoing)
            .then(present("refund_of") & (c("refund_of") != c("id")))
            .otherwise(~present("refund_of")),
            amount,
            c("transacted_at").str.contains(_INSTANT),
            ~present("posted_at") | c("posted_at").str.contains(_INSTANT),
        ]
        ok: Any = pl.lit(True)
        for check in checks:
            ok = ok & check.fill_null(False)
        at_us, at_code = self._instant(cand, "transacted_at", plan, plan.at_dot)
        posted_us, posted_code = self._instant(cand, "posted_at", plan, plan.posted_dot)

        def optional(name: str) -> Any:
            return pl.when(c(name) != "").then(c(name))

        at, rank, tid = c("at_us"), c("__rank"), c("id")
        p_at, p_rank, p_id = at.shift(1), rank.shift(1), tid.shift(1)
        back = (at < p_at) | ((at == p_at) & ((rank < p_rank) | ((rank == p_rank) & (tid < p_id))))
        frame = (
            cand.lazy()
            .with_columns(
                ok.alias("__ok"),
                at_us.alias("at_us"),
                at_code.alias("_at_offset"),
                posted_us.alias("__posted"),
                posted_code.alias("__posted_code"),
            )
            .with_columns(
                (
                    c("__ok")
                    & c("at_us").is_not_null()
                    & (~present("posted_at") | (c("__posted").is_not_null() & (c("__posted") >= c("at_us"))))
                )
                .fill_null(False)
                .alias("__ok"),
                c("__posted").fill_null(c("at_us")).alias("posted_us"),
                c("__posted_code").fill_null(c("_at_offset")).alias("_posted_offset"),
                (undoing.cast(pl.Int64) + 4).alias("__rank"),
            )
            .select(
                c("__line").cast(pl.Int64).alias("line"),
                "id",
                "customer_id",
                "card_id",
                "merchant_id",
                "mcc",
                "channel",
                "kind",
                "amount",
                currency.alias("currency"),
                optional("refund_of"),
                "at_us",
                "posted_us",
                optional("region"),
                optional("device_id"),
                "_at_offset",
                "_posted_offset",
                pl.lit(None, pl.Int64).alias("_built"),
                "__ok",
                "__idx",
                "__rank",
                back.fill_null(False).alias("__back"),
            )
        )
        return _with_days(_collect(frame), self.timezone)

    def _instant(self, frame: pl.DataFrame, name: str, plan: _Plan, dot: bool) -> tuple[Any, Any]:
        """UTC microseconds and offset code of the instant column ``name`` (null where unread)."""
        pl = _polars()
        text = pl.col(name)
        if plan.tail is not None:
            code_value = _offset_code(plan.tail)
            assert code_value is not None
            code: Any = pl.lit(code_value, pl.Int64)
            seconds: Any = pl.lit(0 if code_value in (_Z, _MINUS_ZERO) else code_value, pl.Int64)
        else:
            tails = _collect(frame.lazy().select(text.str.slice(-6).unique()))[name].to_list()
            codes = {tail: _offset_code(tail) for tail in tails if tail is not None}
            code = text.str.slice(-6).replace_strict(codes, default=None, return_dtype=pl.Int64)
            seconds = pl.when(code.is_in([_Z, _MINUS_ZERO])).then(0).otherwise(code)
        wall = text.str.slice(0, 19).str.to_datetime(_WALL_FORMAT, time_unit="us", strict=False, cache=False)
        us = wall.dt.epoch("us")
        if dot:
            digits = text.str.extract(r"^.{19}\.([0-9]{1,6})", 1).str.pad_end(6, "0")
            us = us + digits.cast(pl.Int64, strict=False).fill_null(0)
        return us - seconds * 1_000_000, code

    def _part(self, block: _Block) -> tuple[pl.DataFrame | None, list[Transaction], list[tuple[Key, Event]]]:
        pl = _polars()
        slow = list(block.slow)
        good = None
        whole = False  # every candidate passed: the frame's __back flags hold for good
        if block.cand is not None and block.cand.height:
            checked = self._checked(block.cand)
            if checked.get_column("__ok").all():
                good, whole = checked, True
            else:
                bad = _collect(checked.lazy().filter(~pl.col("__ok")).select("line", "__idx"))
                slow += zip(bad["line"].to_list(), bad["__idx"].to_list(), strict=True)
                slow.sort()
                good = _collect(checked.lazy().filter(pl.col("__ok")))
        # the object path, in file order, up to its first error
        events: list[tuple[int, Key, Event]] = []
        error: BaseException | None = None
        error_line = -1
        for line, idx in slow:
            try:
                row = block.row(idx)
                event = None if row is None else _event_of_row(self.path, self.cls, line, row)
            except Exception as exc:  # raised below, unless an order error comes first
                error, error_line = exc, line
                break
            if event is not None:
                events.append((line, event_sort_key(event), event))
        if whole and not events and error is None and good is not None:
            self._check_run(good)
        else:
            self._check_order(good, events, error_line if error is not None else None)
        if error is not None:
            raise error
        part = (
            _collect(good.lazy().select(_COLUMNS).cast(_schema()))  # type: ignore[arg-type]
            if good is not None and good.height
            else None
        )
        txn_lines = [line for line, _key, event in events if isinstance(event, Transaction)]
        built = [e for _l, _k, e in events if isinstance(e, Transaction)]
        if txn_lines:
            objects = _object_frame(txn_lines, built, self.timezone, 0)
            part = objects if part is None else pl.concat([part, objects]).sort("line")
        others: list[tuple[Key, Event]] = [
            (key, event) for _line, key, event in events if not isinstance(event, Transaction)
        ]
        return part, built, others

    def _order_error(self, line: int, tid: str) -> EventOrderError:
        return EventOrderError(
            "events must be sorted by event time in each file (sort the file first)",
            path=f"{self.path}:{line}",
            value=tid,
        )

    def _check_run(self, good: pl.DataFrame) -> None:
        """:meth:`_check_order` of a block whose rows all passed: its ``__back`` flags say it."""
        first = tuple(good.get_column(name)[0] for name in ("line", "at_us", "__rank", "id"))
        if self.last is not None and first[1:] < self.last:
            raise self._order_error(first[0], first[3])
        back = good.get_column("__back")
        if back.any():
            i = int(back.arg_true()[0])
            raise self._order_error(good.get_column("line")[i], good.get_column("id")[i])
        end = good.height - 1
        self.last = (
            good.get_column("at_us")[end],
            good.get_column("__rank")[end],
            good.get_column("id")[end],
        )

    def _check_order(
        self, good: pl.DataFrame | None, events: list[tuple[int, Key, Event]], before: int | None
    ) -> None:
        """Raise EventOrderError at the first row whose key is below the previous row's."""
        pl = _polars()
        frames = []
        if good is not None and good.height:
            frames.append(
                good.select(
                    pl.col("line").alias("__line"),
                    pl.col("at_us").alias("at"),
                    pl.col("__rank").alias("rank"),
                    "id",
                )
            )
        if events:
            frames.append(
                pl.DataFrame(
                    {
                        "__line": [line for line, _k, _e in events],
                        "at": [_micros(key) for _l, key, _e in events],
                        "rank": [2 * key[1] + key[2] for _l, key, _e in events],
                        "id": [key[3] for _l, key, _e in events],
                    },
                    schema={"__line": pl.Int64, "at": pl.Int64, "rank": pl.Int64, "id": pl.String},
                )
            )
        if not frames:
            return
        seq = frames[0] if len(frames) == 1 else pl.concat(frames).sort("__line")
        if before is not None:
            seq = seq.filter(pl.col("__line") < before)
        if not seq.height:
            return
        if self.last is not None:
            at, rank, tid = self.last
            carry = pl.DataFrame({"__line": [-1], "at": [at], "rank": [rank], "id": [tid]}, schema=seq.schema)
            seq = pl.concat([carry, seq])
        c = pl.col
        p_at, p_rank, p_id = c("at").shift(1), c("rank").shift(1), c("id").shift(1)
        back = (c("at") < p_at) | (
            (c("at") == p_at) & ((c("rank") < p_rank) | ((c("rank") == p_rank) & (c("id") < p_id)))
        )
        wrong = seq.filter(back.fill_null(False))
        if wrong.height:
            raise self._order_error(wrong["__line"][0], wrong["id"][0])
        last = seq.row(seq.height - 1)
        self.last = (last[1], last[2], last[3])


def _utc_offset(us: Any, timezone: str) -> Any:
    """Microseconds ``timezone`` is ahead of UTC at the instants ``us`` (UTC microseconds)."""
    pl = _polars()
    local = us.cast(pl.Datetime("us", "UTC")).dt.convert_time_zone(timezone).dt.replace_time_zone(None)
    return local.dt.epoch("us") - us


def _with_days(frame: pl.DataFrame, timezone: str) -> pl.DataFrame:
    """``frame`` with ``day`` and ``posted_day``: the local dates (``YYYY-MM-DD`` in
    ``timezone``) of ``at_us`` and ``posted_us`` on its ``__ok`` rows (null on the others).

    A block spans few hours: the zone's offset is looked up once an hour of the span, at the
    hour's first and last microsecond, and a row in an hour whose two offsets agree is
    shifted by it (a zone whose offset changes and changes back within one hour would break
    this; no zone comes close: the nearest two changes of any zone are days apart). Rows in
    an hour holding a change, and blocks spanning more than :data:`_HOUR_SPAN` hours, are
    converted one by one. Each distinct day is formatted once.
    """
    pl = _polars()
    c = pl.col
    lazy = frame.lazy()
    names = ("day", "posted_day")
    instants = {
        "day": pl.when(c("__ok")).then(c("at_us")),
        "posted_day": pl.when(c("__ok")).then(c("posted_us")),
    }
    lo, hi = _collect(
        lazy.filter(c("__ok")).select(
            pl.min_horizontal(c("at_us").min(), c("posted_us").min()).alias("lo"),
            pl.max_horizontal(c("at_us").max(), c("posted_us").max()).alias("hi"),
        )
    ).row(0)
    if lo is None:
        return _collect(lazy.with_columns(pl.lit(None, pl.String).alias(n) for n in names))

    def exact(us: Any) -> Any:
        return us.cast(pl.Datetime("us", "UTC")).dt.convert_time_zone(timezone).dt.date().cast(pl.Int64)

    first, last = lo // _HOUR_US, hi // _HOUR_US
    days: dict[str, Any] = {}
    if last - first <= _HOUR_SPAN:
        starts = pl.DataFrame({"s": pl.int_range(first, last + 1, eager=True) * _HOUR_US})
        table = _collect(
            starts.lazy().select(
                _utc_offset(c("s"), timezone).alias("offset"),
                (_utc_offset(c("s"), timezone) == _utc_offset(c("s") + (_HOUR_US - 1), timezone)).alias(
                    "steady"
                ),
            )
        )
        offsets, steady = table.get_column("offset"), table.get_column("steady")
        for name, us in instants.items():
            hour = us // _HOUR_US - first
            shifted = (us + pl.lit(offsets).gather(hour)) // _DAY_US
            if not steady.all():
                shifted = pl.when(pl.lit(steady).gather(hour)).then(shifted).otherwise(exact(us))
            days[name] = shifted
    else:
        days = {name: exact(us) for name, us in instants.items()}
    low, high = lo // _DAY_US - 2, hi // _DAY_US + 2  # an offset is less than a day
    if high - low > _DAY_SPAN:
        return _collect(
            lazy.with_columns(
                day.cast(pl.Int32).cast(pl.Date).dt.strftime("%Y-%m-%d").alias(name)
                for name, day in days.items()
            )
        )
    text = pl.int_range(low, high + 1, eager=True, dtype=pl.Int32).cast(pl.Date).dt.strftime("%Y-%m-%d")
    return _collect(
        lazy.with_columns(pl.lit(text).gather(day - low).alias(name) for name, day in days.items())
    )


def _day(us: Any, timezone: str) -> Any:
    pl = _polars()
    return us.cast(pl.Datetime("us", "UTC")).dt.convert_time_zone(timezone).dt.strftime("%Y-%m-%d")


# -- chunks -----------------------------------------------------------------------------------
class _Peek:
    """A keyed event stream with a look at its next item; ``pull`` gives None when dry (for now)."""

    __slots__ = ("head", "pull")

    def __init__(self, pull: Callable[[], tuple[Key, Event] | None]) -> None:
        self.pull = pull
        self.head = pull()

    def take_through(self, bound: Key | None) -> Iterator[tuple[Key, Event]]:
        """Items with a key at or before ``bound`` (every one when None), consumed."""
        while self.head is not None and (bound is None or self.head[0] <= bound):
            item = self.head
            self.head = self.pull()
            yield item


def _take_others(streams: list[_Peek], bound: Key | None) -> tuple[tuple[Key, Event], ...]:
    # heapq.merge keeps the streams' order on equal keys, as EventSource.events does
    if len(streams) == 1:
        return tuple(streams[0].take_through(bound))
    return tuple(heapq.merge(*(s.take_through(bound) for s in streams), key=itemgetter(0)))


def _check_timezone(timezone: str) -> None:
    from cardbenefits.clock import check_timezone

    check_timezone(timezone)


def iter_chunks(
    source: EventSource, *, timezone: str = "Asia/Shanghai", chunk_rows: int = 65536
) -> Iterator[EventChunk]:
    """The events of ``source`` as :class:`EventChunk`\\ s of up to ``chunk_rows`` transactions.

    Chunk by chunk, merging each chunk's ``others`` with its transactions by key replays
    exactly ``source.events()`` (see the module docstring); ``day``/``posted_day`` are local
    dates in ``timezone``. Errors are those of the object reader, raised before any chunk that
    would hold later rows. An event set without events yields no chunk.
    """
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise SimulationError("chunk_rows must be a positive int", path="chunk_rows", value=chunk_rows)
    _polars()
    _check_timezone(timezone)
    carriers = [(p, k) for p, k in source.event_paths if k in (None, "transactions")]
    if len(carriers) > 1:
        yield from _object_chunks(source, timezone, chunk_rows)
        return
    reader = _TransactionFile(carriers[0][0], carriers[0][1], timezone) if carriers else None
    mine: deque[tuple[Key, Event]] = deque()  # the transaction file's other events, read ahead
    streams: list[_Peek] = []
    for path, kind in source.event_paths:
        if reader is not None and (path, kind) == (reader.path, reader.kind):
            streams.append(_Peek(partial(_pop, mine)))
        else:
            streams.append(_Peek(partial(next, _keyed_events(path, kind), None)))
    buffer = _Buffer()
    parts = reader.parts() if reader is not None else iter(())
    where = str(reader.path) if reader is not None else ""
    done = False
    while True:
        while not done and len(buffer) <= chunk_rows:
            part = next(parts, None)
            if part is None:
                done = True
                break
            frame, built, others = part
            if frame is not None and frame.height:
                buffer.extend(frame, built)
            mine.extend(others)
            for stream in streams:  # a stream that ran dry may have more now
                if stream.head is None:
                    stream.head = stream.pull()
        if len(buffer) > chunk_rows:
            cols = buffer.take(where, chunk_rows)
            # every later event of the transaction file sorts after the next buffered row
            yield EventChunk(cols, _take_others(streams, cols.key(chunk_rows - 1)))
            continue
        cols = buffer.take(where, len(buffer))
        rest = _take_others(streams, None)
        if len(cols) or rest:
            yield EventChunk(cols, rest)
        return


def _pop(items: deque[tuple[Key, Event]]) -> tuple[Key, Event] | None:
    return items.popleft() if items else None


def _located_events(path: Path, kind: str | None) -> Iterator[tuple[Key, Event, str, int]]:
    """``(key, event, path, line)`` of one file through the object path."""
    for key, event, line in _io_located_events(path, kind):
        yield key, event, str(path), line


def _object_chunks(source: EventSource, timezone: str, chunk_rows: int) -> Iterator[EventChunk]:
    """Chunks of an event set with several files of transactions, all read through the object path.

    A chunk holds the transactions of one file (its ``path``), so chunks are cut where the
    merged order switches files as well as every ``chunk_rows`` transactions.
    """
    merged = heapq.merge(*(_located_events(p, k) for p, k in source.event_paths), key=itemgetter(0))
    txns: list[Transaction] = []
    lines: list[int] = []
    where = ""
    kept: list[tuple[Key, Event]] = []  # others up to the last buffered transaction
    pending: list[tuple[Key, Event]] = []  # others after it

    def flush() -> EventChunk:
        cols = TransactionColumns.from_transactions(where, list(lines), list(txns), timezone=timezone)
        chunk = EventChunk(cols, tuple(kept))
        txns.clear()
        lines.clear()
        kept.clear()
        return chunk

    for key, event, path, line in merged:
        if not isinstance(event, Transaction):
            pending.append((key, event))
            continue
        if txns and (len(txns) >= chunk_rows or path != where):
            yield flush()
        where = path
        txns.append(event)
        lines.append(line)
        kept.extend(pending)
        pending.clear()
    if txns or kept or pending:
        kept.extend(pending)
        yield flush()
