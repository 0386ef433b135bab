"""Columnar reader's cheap paths: each shortcut gives what the object reader gives.

The reader decides per block which checks every row passes cheaply (one offset text for
every instant, one currency, ids starting with printable ASCII, no fractions of a second) and
which need their full expression; Parquet files of text columns are read by polars, others by
pyarrow. These tests put rows on both sides of each decision and compare with the object
reader: the same events (instants and their offsets), local days, errors and error lines.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_columnar_io import BASE, replay, same_error, source_of

from cardbenefits.facts import Event, Transaction
from cardbenefits.simulate import columnar
from cardbenefits.simulate.columnar import _AMOUNT, _amount_pattern
from cardbenefits.simulate.io import EventOrderError, EventSource

FORMATS = ("csv", "jsonl", "parquet")
ZONES = ("Asia/Shanghai", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kathmandu")


def offsets(events: list[Event]) -> list[tuple[Any, Any]]:
    return [
        (e.transacted_at.utcoffset(), e.posted_at.utcoffset()) if isinstance(e, Transaction) else (None, None)
        for e in events
    ]


def same_events(source: EventSource, timezone: str, chunk_rows: int = 5) -> list[Event]:
    """Both readers give the same events, offsets included (replay checks days and keys)."""
    expected = list(source.events())
    got = replay(source, chunk_rows, timezone)
    assert got == expected
    assert offsets(got) == offsets(expected)
    return got


def same_outcome(source: EventSource, timezone: str, chunk_rows: int = 5) -> None:
    """Both readers give the same events, or both raise the same error."""
    try:
        list(source.events())
    except Exception:
        same_error(source, chunk_rows)
        return
    same_events(source, timezone, chunk_rows)


def instant(at: dt.datetime, offset: str, fraction: str = "") -> str:
    """``at`` (UTC) written at the offset text ``offset`` (``Z``, ``-00:00``, ``+05:45``...)."""
    if offset in ("Z", "-00:00"):
        minutes = 0
    else:
        sign = -1 if offset[0] == "-" else 1
        minutes = sign * (int(offset[1:3]) * 60 + int(offset[4:6]))
    wall = (at + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{wall}{fraction}{offset}"


def rows_across(
    start: str, hours: int, step_minutes: int, tails: list[str], **extra: Any
) -> list[dict[str, Any]]:
    """Rows every ``step_minutes`` for ``hours`` from ``start`` (UTC), offsets cycling ``tails``."""
    first = dt.datetime.fromisoformat(start)
    rows = []
    for n in range(hours * 60 // step_minutes):
        at = first + dt.timedelta(minutes=n * step_minutes)
        tail = tails[n % len(tails)]
        posted = instant(at + dt.timedelta(hours=n % 30), tail)
        rows.append(
            {**BASE, "id": f"t{n:04d}", "transacted_at": instant(at, tail), "posted_at": posted, **extra}
        )
    return rows


# -- offsets, zones, days --------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("timezone", ZONES)
@pytest.mark.parametrize(
    "tails", [["+08:00"], ["-05:00"], ["Z"], ["-00:00"], ["+05:45"], ["+08:00", "-04:00", "Z"]]
)
def test_days_across_dst_changes_in_any_zone(
    tmp_path: Path, fmt: str, timezone: str, tails: list[str]
) -> None:
    # 2026-11-01: New York leaves DST; 2026-10-25 London; 2026-10-04 Lord Howe starts (30 min)
    rows = rows_across("2026-10-03T12:00:00", 24 * 30, 613, tails)
    rows += rows_across("2026-11-01T04:00:00", 6, 7, tails)[1:]
    rows.sort(key=lambda r: dt.datetime.fromisoformat(r["transacted_at"].replace("Z", "+00:00")))
    for n, row in enumerate(rows):
        row["id"] = f"t{n:04d}"
    same_events(source_of(tmp_path, fmt, rows), timezone)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("timezone", "start"),
    [
        ("Australia/Lord_Howe", "2026-10-03T14:50:00"),  # +10:30 to +11:00 at 15:30 UTC
        ("Australia/Lord_Howe", "2026-04-04T14:20:00"),  # back at 14:30 UTC
        ("Asia/Shanghai", "1900-12-31T15:20:00"),  # local mean time (+08:05:43) to +08:00 at 15:54:17
        ("Asia/Kolkata", "1941-09-30T17:50:00"),  # +05:21:10 to +05:30 at 18:38:50
    ],
)
@pytest.mark.parametrize(("hours", "days"), [(200_000, 4096), (0, 4096), (200_000, 0)])
def test_days_in_an_hour_holding_an_offset_change(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fmt: str,
    timezone: str,
    start: str,
    hours: int,
    days: int,
) -> None:
    # offsets looked up per hour, per row (a span over the table's size), days named per row
    monkeypatch.setattr(columnar, "_HOUR_SPAN", hours)
    monkeypatch.setattr(columnar, "_DAY_SPAN", days)
    rows = rows_across(start, 2, 1, ["Z", "+08:00"])
    same_events(source_of(tmp_path, fmt, rows), timezone, chunk_rows=25)


@pytest.mark.parametrize("fmt", FORMATS)
def test_fractions_of_a_second_with_one_offset(tmp_path: Path, fmt: str) -> None:
    rows = rows_across("2026-11-30T15:00:00", 2, 9, ["-05:00"])
    rows[3]["transacted_at"] = rows[3]["transacted_at"].replace("-05:00", ".5-05:00")
    rows[5]["posted_at"] = rows[5]["posted_at"].replace("-05:00", ".123456-05:00")
    same_events(source_of(tmp_path, fmt, rows), "America/New_York")


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_day_span_wider_than_the_day_table(tmp_path: Path, fmt: str) -> None:
    rows = [
        {**BASE, "id": "t1", "transacted_at": "1950-01-01T10:00:00+08:00"},
        {
            **BASE,
            "id": "t2",
            "transacted_at": "2026-12-01T10:00:00+08:00",
            "posted_at": "2990-01-01T00:00:00Z",
        },
    ]
    same_events(source_of(tmp_path, fmt, rows), "Asia/Shanghai")


# -- blocks of JSON lines and CSV ----------------------------------------------------------------------
@pytest.mark.parametrize("size", [1, 37, 200, 1 << 20])
@pytest.mark.parametrize("ending", ["\n", "\r\n", ""])
def test_text_files_cut_in_blocks_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int, ending: str
) -> None:
    monkeypatch.setattr(columnar, "_BLOCK_BYTES", size)
    rows = rows_across("2026-11-30T15:00:00", 3, 11, ["+08:00", "Z"], region="SH")
    for fmt in ("jsonl", "csv"):
        source = source_of(tmp_path / fmt, fmt, rows)
        path = source.event_paths[0][0]
        lines = path.read_text(encoding="utf-8").splitlines()
        lines.insert(4, "")  # a blank line
        path.write_text("\n".join(lines) + ending, encoding="utf-8", newline="")
        same_events(source, "Asia/Shanghai", chunk_rows=4)
    # a quoted CSV cell over two lines sends the rest of the file to the csv module
    path = tmp_path / "csv" / "transactions.csv"
    text = path.read_text(encoding="utf-8")
    cut = text.index(",SH", len(text) // 2)  # region is the last column
    path.write_text(text[:cut] + ',"S\nH"' + text[cut + 3 :], encoding="utf-8", newline="")
    same_events(EventSource(tmp_path / "csv" / "customers.jsonl", ((path, "transactions"),)), "Asia/Shanghai")
    bad = tmp_path / "bad"
    rows[7]["mcc"] = "58x2"
    same_error(source_of(bad, "jsonl", rows))


# -- cheap checks and their full versions -----------------------------------------------------------
ODD_IDS = [" t1", "t1 ", "!", "~x", "\x7fx", "é", "张三", "\u3000x", "\x1cx", "\tx"]
BLANK_IDS = ["", " ", "\x1c", "\x1f\x1e", "\u3000", "\u2028", "\t \n"]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
@pytest.mark.parametrize("column", ["id", "customer_id", "card_id", "merchant_id", "region", "device_id"])
def test_ids_that_do_not_start_with_printable_ascii(tmp_path: Path, fmt: str, column: str) -> None:
    rows = [
        {**BASE, "id": f"t{n}", "transacted_at": f"2026-12-01T10:00:{n:02d}+08:00"}
        for n in range(len(ODD_IDS))
    ]
    for row, value in zip(rows, ODD_IDS, strict=True):
        row[column] = value if column != "id" else f"{value}{row['id']}"
    same_events(source_of(tmp_path / "ok", fmt, rows), "Asia/Shanghai")
    optional = column in ("region", "device_id")  # an empty one is no region
    for n, blank in enumerate(BLANK_IDS[1:] if optional else BLANK_IDS):
        bad = [dict(row) for row in rows]
        bad[3][column] = blank
        same_error(source_of(tmp_path / f"bad{n}", fmt, bad))


@pytest.mark.parametrize("fmt", FORMATS)
def test_posted_at_on_a_day_that_does_not_exist(tmp_path: Path, fmt: str) -> None:
    # the shape is right, the calendar is not: the object path's error, not the transaction date
    rows = [{**BASE, "id": f"t{n}", "transacted_at": f"2026-02-27T10:00:0{n}+08:00"} for n in range(4)]
    rows[2]["posted_at"] = "2026-02-30T10:00:00+08:00"
    error = same_error(source_of(tmp_path, fmt, rows))
    assert str(getattr(error, "path", "")).endswith(f":{3 if fmt != 'csv' else 4}")


@pytest.mark.parametrize("fmt", FORMATS)
def test_several_currencies_in_a_block(tmp_path: Path, fmt: str) -> None:
    amounts = [
        ("CNY", "1.50"),
        ("JPY", "100"),
        ("USD", "2.5"),
        ("", "3.10"),
        ("KWD", "1.250"),
        ("JPY", "7.000"),
    ]
    rows = [
        {
            **BASE,
            "id": f"t{n}",
            "currency": code,
            "amount": amount,
            "transacted_at": f"2026-12-01T10:00:0{n}Z",
        }
        for n, (code, amount) in enumerate(amounts)
    ]
    same_events(source_of(tmp_path / "ok", fmt, rows), "Asia/Shanghai")
    # more places than the currency has, unknown codes: the object path decides
    for n, (code, amount) in enumerate([("JPY", "1.5"), ("KWD", "1.2505"), ("XYZ", "1.00"), ("usd", "1")]):
        odd = [dict(row) for row in rows]
        odd[4].update(currency=code, amount=amount)
        same_outcome(source_of(tmp_path / f"odd{n}", fmt, odd), "Asia/Shanghai")
    odd[4].update(currency="usd")
    same_error(source_of(tmp_path / "bad", fmt, odd))


amount_texts = st.one_of(
    st.text(alphabet="0123456789.", max_size=26),
    st.builds(
        lambda whole, places: f"{whole}.{places}",
        st.text(alphabet="0001239", max_size=17),
        st.text(alphabet="000001239", max_size=10),
    ),
)


@settings(max_examples=60, deadline=None)
@given(texts=st.lists(amount_texts, min_size=1, max_size=40), digits=st.integers(0, 10))
def test_amount_pattern_is_the_three_checks_in_one(texts: list[str], digits: int) -> None:
    c = pl.col("amount")
    three = (
        c.str.contains(_AMOUNT)
        & c.str.contains("[1-9]")
        & c.str.contains(rf"^[0-9]+(?:\.[0-9]{{0,{digits}}}0*)?$")
    )
    frame = pl.DataFrame({"amount": texts}).select(
        three.alias("three"), c.str.contains(_amount_pattern(digits)).alias("one")
    )
    assert frame["one"].to_list() == frame["three"].to_list()


# -- Parquet: blocks, row groups, polars and pyarrow --------------------------------------------------
def parquet_rows(n: int) -> list[dict[str, Any]]:
    return rows_across("2026-11-30T00:00:00", n, 60, ["+08:00"])


def write_grouped(path: Path, rows: list[dict[str, Any]], group: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = list(dict.fromkeys(k for r in rows for k in r))
    pq.write_table(
        pa.Table.from_pylist([{k: r.get(k) for k in names} for r in rows]), path, row_group_size=group
    )


@pytest.mark.parametrize(("block", "group"), [(5, 3), (4, 4), (7, 100), (20, 3), (9, 8)])
def test_parquet_blocks_over_row_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int, group: int
) -> None:
    monkeypatch.setattr(columnar, "_PARQUET_BLOCK", block)
    source = source_of(tmp_path, "parquet", [])
    write_grouped(source.event_paths[0][0], parquet_rows(23), group)
    same_events(source, "Asia/Shanghai", chunk_rows=6)


@pytest.mark.parametrize("fails_at", [0, 1, 2])
def test_parquet_polars_refuses_pyarrow_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fails_at: int
) -> None:
    monkeypatch.setattr(columnar, "_PARQUET_BLOCK", 5)
    monkeypatch.setattr(columnar, "_PARQUET_BATCH", 3)
    calls = []
    read = columnar._polars_block

    def flaky(path: Path, start: int, length: int) -> pl.DataFrame:
        calls.append(start)
        if len(calls) > fails_at:
            raise pl.exceptions.ComputeError("refused")
        return read(path, start, length)

    monkeypatch.setattr(columnar, "_polars_block", flaky)
    rows = parquet_rows(17)
    source = source_of(tmp_path / "ok", "parquet", rows)
    same_events(source, "Asia/Shanghai", chunk_rows=4)
    assert calls[-1] == 5 * fails_at
    rows[12]["mcc"] = "58x2"
    calls.clear()
    error = same_error(source_of(tmp_path / "bad", "parquet", rows))
    assert str(getattr(error, "path", "")).endswith(":13")


@pytest.mark.parametrize("row", [0, 4, 5, 9])
def test_parquet_order_errors_at_and_across_block_edges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, row: int
) -> None:
    monkeypatch.setattr(columnar, "_PARQUET_BLOCK", 5)
    rows = parquet_rows(12)
    if row == 0:
        rows[0], rows[1] = rows[1], rows[0]
    else:
        rows[row]["transacted_at"] = rows[row - 1]["transacted_at"]
        rows[row]["id"] = "t0000"  # same instant and rank, lower id
    error = same_error(source_of(tmp_path, "parquet", rows))
    assert isinstance(error, EventOrderError)
    assert str(getattr(error, "path", "")).endswith(f":{max(row, 1) + 1}")


@pytest.mark.parametrize("column", [("mcc", 5812), ("region", b"sh"), ("extra", "x"), ("extra", None)])
def test_parquet_columns_that_are_not_text(tmp_path: Path, column: tuple[str, Any]) -> None:
    name, value = column
    rows = [{**BASE, "id": f"t{n}", "transacted_at": f"2026-12-01T10:00:0{n}+08:00"} for n in range(4)]
    for row in rows:
        row[name] = value
    source = source_of(tmp_path, "parquet", rows)
    if name == "extra" and value is None:
        same_events(source, "Asia/Shanghai")
    else:
        same_error(source)


def test_parquet_dictionary_columns(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = parquet_rows(9)
    source = source_of(tmp_path, "parquet", [])
    table = pa.Table.from_pylist(rows)
    table = table.set_column(table.schema.get_field_index("mcc"), "mcc", table["mcc"].dictionary_encode())
    pq.write_table(table, source.event_paths[0][0])
    same_events(source, "Asia/Shanghai")


# -- rows of every kind, as a property ------------------------------------------------------------------
TAILS = ["+08:00", "+08:00", "-05:00", "Z", "-00:00", "+05:45", "+24:00", "+08:60"]
row_changes = st.fixed_dictionaries(
    {},
    optional={
        "id": st.sampled_from(["", " ", "\u3000", "t x", "é", "\x1c"]),
        "customer_id": st.sampled_from(["", "c2", " c3", "\x1f"]),
        "amount": st.sampled_from(["0", "1.005", "5.", "1E+1", "00.10", "12.3400", "-1", "1234567890123456"]),
        "currency": st.sampled_from(["", "USD", "JPY", "KWD", "XYZ"]),
        "mcc": st.sampled_from(["581", "58122", "58x2", "0000"]),
        "channel": st.sampled_from(["fax", "app"]),
        "kind": st.sampled_from(["refund", "reversal", "gift"]),
        "refund_of": st.sampled_from(["t0", "", "t9"]),
        "region": st.sampled_from(["", " ", "sh"]),
        "posted_at": st.sampled_from(
            ["", "2026-02-30T10:00:00+08:00", "2026-12-01T09:00:00+08:00", "2026-12-03"]
        ),
        "fraction": st.sampled_from([".5", ".123456", ".1234567"]),
        "tail": st.sampled_from(TAILS),
        "at": st.sampled_from(
            ["2026-12-01 10:00:00+08:00", "2026-13-01T10:00:00+08:00", "2026-12-01T10:00+08:00"]
        ),
    },
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    changes=st.lists(st.one_of(st.just({}), row_changes), min_size=1, max_size=12),
    fmt=st.sampled_from(FORMATS),
    timezone=st.sampled_from(ZONES),
    chunk_rows=st.integers(1, 8),
)
def test_rows_of_any_shape_read_like_the_object_reader(
    tmp_path_factory: pytest.TempPathFactory,
    changes: list[dict[str, str]],
    fmt: str,
    timezone: str,
    chunk_rows: int,
) -> None:
    start = dt.datetime(2026, 12, 1, 2)
    rows = []
    for n, change in enumerate(changes):
        change = dict(change)
        tail = change.pop("tail", "+08:00")
        fraction = change.pop("fraction", "")
        at = change.pop("at", None)
        when = start + dt.timedelta(minutes=17 * n)
        text = at or (
            instant(when, tail, fraction) if tail in TAILS[:6] else f"{instant(when, 'Z')[:-1]}{tail}"
        )
        rows.append({**BASE, "id": f"t{n + 1}", "transacted_at": text, **change})
    same_outcome(source_of(tmp_path_factory.mktemp("rows"), fmt, rows), timezone, chunk_rows)
