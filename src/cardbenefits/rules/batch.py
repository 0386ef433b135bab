"""Batch evaluation of a rule over a columnar table of customers (Polars, optional).

The rule is compiled to one Polars expression; Polars' ``&``, ``|`` and ``~`` already follow
Kleene three-valued logic with ``null`` as UNKNOWN, so the batch answers equal the
per-record answers (a property test checks it). Polars is imported lazily: the library
imports without it.

Table layout (what :func:`records_to_frame` builds, and what a caller's own table must
follow):

- one column per top-level key; a group (``card``, ``rfm``, ``spend``) is a **struct**
  column whose row is ``null`` when the group is missing; alternatively a field may be a
  **flat** column named by its dotted name (``"card.tier"``), which wins if present (then a
  group counts as present when any of its flat columns is non-null);
- ``str`` / ``enum`` → ``Utf8``; ``int`` → an integer type; ``decimal`` → ``Decimal``;
  ``bool`` → ``Boolean``; ``money`` → ``Decimal`` amount in the field's declared currency
  (``FieldSpec.currency``); ``datetime`` → time-zone-aware ``Datetime``;
  ``string_set`` → ``List(Utf8)``; ``null`` means missing.

>>> from datetime import datetime, timezone
>>> from cardbenefits.money import Money
>>> from cardbenefits.rules import parse
>>> rule = parse('spend.month >= ¥3000 and "gamer" in tags')
>>> records = [{"spend": {"month": Money.of(3500)}, "tags": {"gamer"}},
...            {"spend": {"month": Money.of(100)}, "tags": {"gamer"}},
...            {"tags": {"gamer"}}]
>>> evaluate_batch(rule, records, datetime(2026, 1, 1, tzinfo=timezone.utc))
[True, False, False]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import reduce
from typing import TYPE_CHECKING, Any, cast

from cardbenefits.errors import RuleError
from cardbenefits.money import Money
from cardbenefits.rules.ast import (
    After,
    And,
    Before,
    Compare,
    CompareFields,
    Contains,
    Flag,
    HasTags,
    Leaf,
    Member,
    Node,
    Not,
    OlderThan,
    Or,
    Presence,
    Value,
    Within,
)
from cardbenefits.rules.runtime import check_instant, window_start
from cardbenefits.rules.schema import FieldSchema, FieldSpec, FieldType

if TYPE_CHECKING:
    import polars as pl

    from cardbenefits.rules.rule import Rule

__all__ = ["evaluate_batch", "polars_dtype", "records_to_frame", "to_polars_expr"]


def _polars() -> Any:
    try:
        import polars
    except ImportError:  # pragma: no cover - polars is installed in development
        raise RuleError(
            "batch evaluation needs polars: pip install 'cardbenefits[polars]'", path="polars"
        ) from None
    return polars


def _utc(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return datetime(
        moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second,
        moment.microsecond, tzinfo=UTC,
    )  # fmt: skip


def polars_dtype(spec: FieldSpec, scale: int = 2) -> Any:
    """The Polars dtype of a field in the batch table layout."""
    pl_ = _polars()
    return {
        FieldType.STR: pl_.Utf8,
        FieldType.ENUM: pl_.Utf8,
        FieldType.INT: pl_.Int64,
        FieldType.DECIMAL: pl_.Decimal(38, scale),
        FieldType.MONEY: pl_.Decimal(38, scale),
        FieldType.BOOL: pl_.Boolean,
        FieldType.DATETIME: pl_.Datetime("us", "UTC"),
        FieldType.STRING_SET: pl_.List(pl_.Utf8),
    }[spec.type]


def _cell(name: str, spec: FieldSpec, value: object) -> object:
    if value is None:
        return None
    if spec.type is FieldType.MONEY:
        if not isinstance(value, Money):
            raise RuleError("expected Money", path=name, value=value)
        if value.currency != spec.currency:
            raise RuleError(f"expected {spec.currency} money", path=name, value=value)
        return value.amount
    if spec.type is FieldType.STRING_SET:
        return sorted(value)  # type: ignore[call-overload]
    if spec.type is FieldType.DATETIME:
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise RuleError("expected an aware datetime", path=name, value=value)
        return _utc(value)
    if spec.type is FieldType.BOOL and not isinstance(value, bool):
        raise RuleError("expected a bool", path=name, value=value)
    return value


def _scale(values: list[object]) -> int:
    scale = 2
    for value in values:
        if isinstance(value, Decimal):
            exponent = value.as_tuple().exponent
            if isinstance(exponent, int):
                scale = max(scale, -exponent)
    return min(scale, 18)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# Joins a row's tags for a vectorised split; a tag holding it (or an empty tag) takes the slow path.
_SEP = "\x1f"


def _series(pl_: Any, name: str, spec: FieldSpec, values: list[object]) -> Any:
    """One column from converted cells.

    Building Polars columns from Python objects is slow for lists, decimals and datetimes,
    so those go through cheap primitive columns (joined text, decimal text, integer
    microseconds) and are converted inside Polars. The result is the same column.
    """
    kind = spec.type
    if kind in (FieldType.MONEY, FieldType.DECIMAL):
        scale = _scale(values)
        text = pl_.Series(name, [None if v is None else str(v) for v in values], dtype=pl_.Utf8)
        return text.str.to_decimal(scale=scale).cast(polars_dtype(spec, scale))
    if kind is FieldType.DATETIME:
        micros = [None if v is None else (v - _EPOCH) // _MICROSECOND for v in values]  # type: ignore[operator]
        return pl_.Series(name, micros, dtype=pl_.Int64).cast(polars_dtype(spec))
    if kind is FieldType.STRING_SET:
        sets: list[list[str] | None] = values  # type: ignore[assignment]
        if any(not tag or _SEP in tag for tags in sets if tags for tag in tags):
            return pl_.Series(name, sets, dtype=polars_dtype(spec))
        joined = pl_.Series(name, [None if t is None else _SEP.join(t) for t in sets], dtype=pl_.Utf8)
        column = pl_.col(name)
        empty = pl_.lit([], dtype=polars_dtype(spec))
        return (
            pl_.DataFrame([joined])
            .select(pl_.when(column == "").then(empty).otherwise(column.str.split(_SEP)).alias(name))
            .to_series()
        )
    return pl_.Series(name, values, dtype=polars_dtype(spec))


def records_to_frame(records: Sequence[Mapping[str, object]], schema: FieldSchema) -> pl.DataFrame:
    """Build the batch table (struct columns for groups) from customer records."""
    pl_ = _polars()
    tree: dict[str, Any] = {}
    for name in schema:
        node = tree
        parts = name.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = name

    def column(path: str, subtree: Any, rows: list[Mapping[str, object] | None]) -> Any:
        if isinstance(subtree, str):
            spec = schema[subtree]
            values = [None if row is None else _cell(subtree, spec, row.get(path)) for row in rows]
            return _series(pl_, path, spec, values)
        subrows: list[Mapping[str, object] | None] = []
        for row in rows:
            sub = None if row is None else row.get(path)
            if sub is not None and not isinstance(sub, Mapping):
                raise RuleError("expected a group of fields (a mapping)", path=path, value=sub)
            subrows.append(sub or None)
        fields = [column(key, value, subrows) for key, value in subtree.items()]
        frame = pl_.DataFrame(fields)
        struct = frame.select(pl_.struct(pl_.all()).alias(path)).to_series()
        mask = pl_.Series([sub is None for sub in subrows], dtype=pl_.Boolean)
        return struct.set(mask, None) if len(rows) else struct

    rows: list[Mapping[str, object] | None] = list(records)
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise RuleError("a customer record is a mapping", path=f"records[{i}]", value=row)
    frame: pl.DataFrame = pl_.DataFrame([column(key, value, rows) for key, value in tree.items()])
    return frame


class _ExprBuilder:
    def __init__(self, schema: FieldSchema, columns: Mapping[str, Any], at: datetime) -> None:
        self.pl = _polars()
        self.schema = schema
        self.columns = columns
        self.at = at

    def resolve(self, name: str) -> tuple[Any, Any] | None:
        """The expression and dtype of field or group ``name``; ``None`` when the table lacks it."""
        pl_ = self.pl
        if name in self.columns:
            return pl_.col(name), self.columns[name]
        parts = name.split(".")
        if parts[0] not in self.columns:
            return None
        expr, dtype = pl_.col(parts[0]), self.columns[parts[0]]
        for part in parts[1:]:
            inner = {f.name: f.dtype for f in dtype.fields} if isinstance(dtype, pl_.Struct) else {}
            if part not in inner:
                return None
            expr, dtype = expr.struct.field(part), inner[part]
        return expr, dtype

    def col(self, name: str) -> Any:
        """A field's values (all null when the table lacks the column: the field is missing)."""
        found = self.resolve(name)
        if found is None:
            return self.pl.lit(None)
        expr, dtype = found
        if isinstance(dtype, self.pl.Datetime):
            if dtype.time_zone is None:
                raise RuleError("datetime columns must be time-zone aware", path=name, value=str(dtype))
            expr = expr.dt.convert_time_zone("UTC")
        return expr

    def present(self, name: str) -> Any:
        """``name is present``: a non-null field, a non-null group struct, or any flat field of a group."""
        found = self.resolve(name)
        if found is not None:
            return found[0].is_not_null()
        prefix = name + "."
        flat = [self.col(field).is_not_null() for field in self.schema if field.startswith(prefix)]
        return reduce(lambda a, b: a | b, flat, self.pl.lit(False))

    def lit(self, value: Value) -> Any:
        pl_ = self.pl
        if isinstance(value, Money):
            return pl_.lit(value.amount)
        if isinstance(value, bool):
            return pl_.lit(value, dtype=pl_.Boolean)
        return pl_.lit(value)

    def build(self, node: Node) -> Any:
        pl_ = self.pl
        if isinstance(node, And):
            return reduce(lambda a, b: a & b, [self.build(arg) for arg in node.args])
        if isinstance(node, Or):
            return reduce(lambda a, b: a | b, [self.build(arg) for arg in node.args])
        if isinstance(node, Not):
            return ~self.build(node.arg)
        if isinstance(node, Presence):
            present = self.present(node.field)
            return present if node.present else ~present
        unknown = pl_.lit(None, dtype=pl_.Boolean)
        column = self.col(node.field)
        missing = column.is_null()
        if isinstance(node, CompareFields):
            missing = missing | self.col(node.other).is_null()
        return pl_.when(missing).then(unknown).otherwise(self.leaf(node, column))

    def leaf(self, node: Leaf, column: Any) -> Any:
        pl_ = self.pl
        if isinstance(node, Flag):
            return column
        if isinstance(node, Compare):
            return _compare(column, node.op, self.lit(node.value))
        if isinstance(node, CompareFields):
            return _compare(column, node.op, self.col(node.other))
        if isinstance(node, Member):
            hits = [column == self.lit(v) for v in node.values]
            result = reduce(lambda a, b: a | b, hits) if hits else pl_.lit(False)
            return ~result if node.negated else result
        if isinstance(node, Contains):
            result = column.list.contains(pl_.lit(node.value))
            return ~result if node.negated else result
        if isinstance(node, HasTags):
            tests = [column.list.contains(pl_.lit(v)) for v in node.values]
            if node.mode == "any":
                return reduce(lambda a, b: a | b, tests) if tests else pl_.lit(False)
            return reduce(lambda a, b: a & b, tests) if tests else pl_.lit(True)
        if isinstance(node, Within):
            start = _utc(window_start(self.at, node.amount, node.unit))
            return (column >= pl_.lit(start)) & (column <= pl_.lit(_utc(self.at)))
        if isinstance(node, OlderThan):
            return column < pl_.lit(_utc(window_start(self.at, node.amount, node.unit)))
        if isinstance(node, Before):
            return column < pl_.lit(_utc(node.instant))
        if isinstance(node, After):
            return column > pl_.lit(_utc(node.instant))
        raise RuleError("not a rule clause", path="rule", value=node)  # pragma: no cover


def _compare(left: Any, op: str, right: Any) -> Any:
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == ">":
        return left > right
    return left >= right


def to_polars_expr(rule: Rule, at: datetime, columns: Mapping[str, Any]) -> pl.Expr:
    """The rule as a Boolean Polars expression (``null`` = UNKNOWN) for a table with ``columns``.

    ``columns`` maps column names to dtypes (``frame.schema``).
    """
    check_instant(at)
    return _ExprBuilder(rule.schema, columns, at).build(rule.node)  # type: ignore[no-any-return]


def evaluate_batch(
    rule: Rule, table: pl.DataFrame | Sequence[Mapping[str, object]], at: datetime
) -> list[bool]:
    """Eligibility of every row of ``table`` (a Polars DataFrame or a list of records).

    UNKNOWN rows are ``False``, as in :meth:`Rule.evaluate`.
    """
    check_instant(at)
    pl_ = _polars()
    if isinstance(table, pl_.DataFrame):
        frame: pl.DataFrame = table
    else:
        frame = records_to_frame(cast("Sequence[Mapping[str, object]]", table), rule.schema)
    if frame.height == 0:
        return []
    expr = to_polars_expr(rule, at, dict(frame.schema))
    try:
        result = frame.select(expr.fill_null(False).alias("eligible")).to_series()
    except pl_.exceptions.PolarsError as exc:
        raise RuleError(f"table does not match the rule's fields ({exc})", path=rule.canonical) from exc
    return [bool(v) for v in result.to_list()]
