"""The batch table's fast column builders give exactly the columns Polars builds from objects."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardbenefits.money import Money
from cardbenefits.rules import FieldSpec, FieldType, default_schema
from cardbenefits.rules.batch import _series, polars_dtype, records_to_frame

pl = pytest.importorskip("polars")

tag_sets = st.one_of(
    st.none(),
    st.frozensets(st.text(max_size=4) | st.sampled_from(["", "\x1f", "a\x1fb", "gamer"]), max_size=4),
)
instants = st.one_of(
    st.none(),
    st.datetimes(
        min_value=datetime(1950, 1, 1),
        max_value=datetime(2090, 1, 1),
        timezones=st.sampled_from(
            [UTC, pendulum.timezone("Asia/Shanghai"), pendulum.timezone("Europe/Berlin")]
        ),
    ),
)
amounts = st.one_of(st.none(), st.decimals(min_value=-(10**12), max_value=10**12, places=4))


def _slow(name: str, spec: FieldSpec, values: list[object], scale: int = 2) -> object:
    return pl.Series(name, values, dtype=polars_dtype(spec, scale))


@settings(max_examples=60, deadline=None)
@given(st.lists(tag_sets, max_size=30))
def test_string_sets(values: list[frozenset[str] | None]) -> None:
    spec = FieldSpec(FieldType.STRING_SET)
    cells = [None if v is None else sorted(v) for v in values]
    assert _series(pl, "tags", spec, cells).to_list() == _slow("tags", spec, cells).to_list()


@settings(max_examples=60, deadline=None)
@given(st.lists(instants, max_size=30))
def test_datetimes(values: list[datetime | None]) -> None:
    spec = FieldSpec(FieldType.DATETIME)
    cells = [None if v is None else v.astimezone(UTC) for v in values]
    fast = _series(pl, "at", spec, cells)
    assert fast.dtype == polars_dtype(spec)
    assert fast.to_list() == _slow("at", spec, cells).to_list()


@settings(max_examples=60, deadline=None)
@given(st.lists(amounts, max_size=30))
def test_decimals(values: list[Decimal | None]) -> None:
    spec = FieldSpec(FieldType.DECIMAL)
    fast = _series(pl, "x", spec, list(values))
    scale = fast.dtype.scale
    assert fast.to_list() == _slow("x", spec, list(values), scale).to_list()


def test_missing_empty_and_present_stay_distinct() -> None:
    schema = default_schema()
    rows = [
        {"tags": None, "spend": {"month": Money.of("1.5")}},
        {"tags": frozenset(), "card": {"approved_at": pendulum.datetime(2026, 11, 1, tz="Asia/Shanghai")}},
        {"tags": frozenset({"a", "b"}), "spend": {"month": Money.of("1234.567")}},
    ]
    frame = records_to_frame(rows, schema)
    assert frame["tags"].to_list() == [None, [], ["a", "b"]]
    months = frame["spend"].struct.field("month").to_list()
    assert months == [Decimal("1.500"), None, Decimal("1234.567")]
    approved = frame["card"].struct.field("approved_at").to_list()
    assert approved[1] == datetime(2026, 10, 31, 16, tzinfo=UTC)
    assert approved[0] is None
