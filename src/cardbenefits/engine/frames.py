"""Transaction chunks held as a polars DataFrame, for the batch evaluator's vectorized path.

:class:`FrameRows` is a :class:`~cardbenefits.engine.batch.TransactionRows` over a polars
DataFrame whose columns carry the same names: ``amount`` as its exact decimal text, the
instants as ``Int64`` microseconds, the days as ``YYYY-MM-DD`` strings. Reading a column
attribute builds that whole column as a Python list (once); the batch evaluator avoids that:
it decides most rows with polars expressions on :attr:`FrameRows.frame` and reads single cells
through :class:`Cells`, which converts only the blocks of rows it is asked for. So a chunk of
a million rows where a few thousand need a look one by one costs a few thousand Python values,
not fourteen million.

>>> import polars as pl
>>> rows = FrameRows.of_columns({"id": ["t1", "t2"], "customer_id": ["c1", "c1"], "card_id": ["k1", "k1"],
...     "merchant_id": ["m1", "m1"], "mcc": ["5812", "5812"], "channel": ["pos", "pos"],
...     "kind": ["purchase", "refund"], "amount": ["88.00", "8.00"], "currency": ["CNY", "CNY"],
...     "refund_of": [None, "t1"], "at_us": [1, 2], "posted_us": [1, 2],
...     "day": ["1970-01-01", "1970-01-01"], "posted_day": ["1970-01-01", "1970-01-01"]})
>>> cells = rows.cells("amount")
>>> cells[1], len(cells)
(Decimal('8.00'), 2)
>>> rows.amount, len(rows)
([Decimal('88.00'), Decimal('8.00')], 2)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from cardbenefits.errors import EngineError

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl

__all__ = ["FRAME_COLUMNS", "CellRows", "Cells", "FrameRows", "ListCells", "polars"]

FRAME_COLUMNS: Final = (
    "id",
    "customer_id",
    "card_id",
    "merchant_id",
    "mcc",
    "channel",
    "kind",
    "amount",
    "currency",
    "refund_of",
    "at_us",
    "posted_us",
    "day",
    "posted_day",
)
"""The columns a frame needs (the :class:`~cardbenefits.engine.batch.TransactionRows` fields)."""

_INT_COLUMNS: Final = frozenset({"at_us", "posted_us"})
_BLOCK: Final = 512


def polars() -> Any:
    """The polars module (the ``polars`` extra), or an EngineError naming the extra."""
    try:
        return importlib.import_module("polars")
    except ImportError:  # pragma: no cover - the dev install has polars
        raise EngineError(
            "the vectorized path needs polars: pip install 'cardbenefits[polars]'", path="polars", value=None
        ) from None


def decimals(texts: Sequence[str | None]) -> list[Decimal]:
    """Decimals of amount texts, one object per distinct text (amounts repeat a lot).

    >>> decimals(["1.50", "1.50", "2"])
    [Decimal('1.50'), Decimal('1.50'), Decimal('2')]
    """
    known: dict[str | None, Decimal] = {}
    out: list[Decimal] = []
    append = out.append
    for text in texts:
        value = known.get(text)
        if value is None:
            value = known[text] = Decimal(text)  # type: ignore[arg-type]
        append(value)
    return out


def _converter(name: str) -> Callable[[list[Any]], list[Any]] | None:
    return decimals if name == "amount" else None


class Cells(dict[int, Any]):
    """One column's cells by row index, converted block by block on first use.

    A dict, so reading a loaded cell costs a dict lookup; a missing row loads its block
    (:data:`_BLOCK` rows) from the frame. :meth:`FrameRows.load` converts given rows at once.
    """

    __slots__ = ("_convert", "_series")

    def __init__(self, series: pl.Series, convert: Callable[[list[Any]], list[Any]] | None) -> None:
        super().__init__()
        self._series = series
        self._convert = convert

    def __missing__(self, row: int) -> Any:
        height = self._series.len()
        if not 0 <= row < height:
            raise IndexError(row)
        start = row - row % _BLOCK
        values = self._series.slice(start, _BLOCK).to_list()
        if self._convert is not None:
            values = self._convert(values)
        self.update(zip(range(start, start + len(values)), values, strict=True))
        return values[row - start]

    def fill(self, rows: Sequence[int], values: list[Any]) -> None:
        """Set the cells of ``rows`` from their raw ``values`` (converted here)."""
        if self._convert is not None:
            values = self._convert(values)
        self.update(zip(rows, values, strict=True))


class FrameRows:
    """:class:`~cardbenefits.engine.batch.TransactionRows` over a polars DataFrame (module docstring).

    ``frame`` has (at least) the :data:`FRAME_COLUMNS`. Column attributes are whole Python
    lists, built on first use; :meth:`cells` gives lazily converted cells instead.
    """

    __slots__ = ("_cells", "_lists", "frame")

    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = frame
        self._lists: dict[str, list[Any]] = {}
        self._cells: dict[str, Cells] = {}

    @classmethod
    def of_columns(cls, columns: Mapping[str, Sequence[Any]]) -> FrameRows:
        """Rows of plain columns (``amount`` as text or Decimal)."""
        pl = polars()
        data = dict(columns)
        data["amount"] = [a if a is None or isinstance(a, str) else format(a, "f") for a in data["amount"]]
        schema = {name: (pl.Int64 if name in _INT_COLUMNS else pl.String) for name in data}
        return cls(pl.DataFrame(data, schema=schema))

    @classmethod
    def of_rows(cls, rows: Any, names: Iterable[str] = FRAME_COLUMNS) -> FrameRows:
        """A frame of any :class:`~cardbenefits.engine.batch.TransactionRows` (tests, benchmarks)."""
        return cls.of_columns({name: list(getattr(rows, name)) for name in names})

    def __len__(self) -> int:
        return int(self.frame.height)

    def column(self, name: str) -> list[Any]:
        """Column ``name`` as a Python list (``amount`` as Decimals), built once."""
        found = self._lists.get(name)
        if found is None:
            found = self.frame.get_column(name).to_list()
            convert = _converter(name)
            if convert is not None:
                found = convert(found)
            self._lists[name] = found
        return found

    def cells(self, name: str) -> Cells | ListCells:
        """Column ``name`` by row index, converted as rows are read (or the whole list, if built)."""
        whole = self._lists.get(name)
        if whole is not None:
            return ListCells(whole)
        found = self._cells.get(name)
        if found is None:
            found = self._cells[name] = Cells(self.frame.get_column(name), _converter(name))
        return found

    def load(self, rows: Sequence[int], names: Iterable[str]) -> None:
        """Convert the cells of ``rows`` of columns ``names`` (:meth:`cells`) in one gather."""
        if not rows:
            return
        pending: dict[str, Cells] = {}
        for name in names:
            cells = self.cells(name)
            if isinstance(cells, Cells):
                pending[name] = cells
        if not pending:
            return
        missing = sorted({r for cells in pending.values() for r in rows if r not in cells})
        if not missing:
            return
        pl = polars()
        picked = self.frame.select(list(pending)).gather(pl.Series(missing, dtype=pl.Int64))
        for name, cells in pending.items():
            cells.fill(missing, picked.get_column(name).to_list())

    def slice(self, start: int, stop: int) -> FrameRows:
        """Rows ``start`` to ``stop``."""
        return FrameRows(self.frame.slice(start, max(stop - start, 0)))

    @property
    def id(self) -> Sequence[str]:
        """Transaction ids."""
        return self.column("id")

    @property
    def customer_id(self) -> Sequence[str]:
        """Customer ids."""
        return self.column("customer_id")

    @property
    def card_id(self) -> Sequence[str]:
        """Card ids."""
        return self.column("card_id")

    @property
    def merchant_id(self) -> Sequence[str]:
        """Merchant ids."""
        return self.column("merchant_id")

    @property
    def mcc(self) -> Sequence[str]:
        """Merchant category codes."""
        return self.column("mcc")

    @property
    def channel(self) -> Sequence[str]:
        """Channels (``Channel`` values)."""
        return self.column("channel")

    @property
    def kind(self) -> Sequence[str]:
        """Kinds (``TransactionKind`` values)."""
        return self.column("kind")

    @property
    def amount(self) -> Sequence[Decimal]:
        """Amounts, exact."""
        return self.column("amount")

    @property
    def currency(self) -> Sequence[str]:
        """ISO 4217 currency codes."""
        return self.column("currency")

    @property
    def refund_of(self) -> Sequence[str | None]:
        """What a refund or reversal undoes (None for purchases)."""
        return self.column("refund_of")

    @property
    def at_us(self) -> Sequence[int]:
        """Transaction instants, UTC microseconds."""
        return self.column("at_us")

    @property
    def posted_us(self) -> Sequence[int]:
        """Posting instants, UTC microseconds."""
        return self.column("posted_us")

    @property
    def day(self) -> Sequence[str]:
        """Local transaction dates."""
        return self.column("day")

    @property
    def posted_day(self) -> Sequence[str]:
        """Local posting dates."""
        return self.column("posted_day")


class ListCells(Mapping[int, Any]):
    """A built column read as cells."""

    __slots__ = ("_values",)

    def __init__(self, values: list[Any]) -> None:
        self._values = values

    def __getitem__(self, row: int) -> Any:
        return self._values[row]

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Any:
        return iter(range(len(self._values)))


class CellRows:
    """The columns of a :class:`FrameRows` as cells (:meth:`FrameRows.cells`): what the batch
    evaluator reads row by row. ``rows.amount[i]`` converts only the block of row ``i``."""

    __slots__ = (*FRAME_COLUMNS, "source")

    def __init__(self, source: FrameRows) -> None:
        self.source = source
        for name in FRAME_COLUMNS:
            setattr(self, name, source.cells(name))

    def load(self, rows: Sequence[int], names: Iterable[str] = FRAME_COLUMNS) -> None:
        """Convert the cells of ``rows`` of columns ``names`` (one gather of the frame)."""
        self.source.load(rows, names)

    def __getattr__(self, name: str) -> Any:  # pragma: no cover - for mypy: the columns are set above
        raise AttributeError(name)
