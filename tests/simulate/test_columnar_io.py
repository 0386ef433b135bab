"""Columnar reader: the same events, order and errors as the object reader, in bounded chunks."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pendulum
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cardbenefits.facts import Event, Transaction, event_sort_key, event_to_dict
from cardbenefits.simulate.columnar import EventChunk, TransactionColumns, iter_chunks
from cardbenefits.simulate.io import (
    EventOrderError,
    EventSource,
    SimulationError,
    write_customers,
    write_events,
)
from cardbenefits.synth import SynthConfig, generate_customers, generate_events

FORMATS = ("csv", "jsonl", "parquet")


# -- helpers --------------------------------------------------------------------------------------
def replay(source: EventSource, chunk_rows: int, timezone: str = "Asia/Shanghai") -> list[Event]:
    """Concatenate the chunks' events, checking every chunk invariant on the way."""
    out: list[Event] = []
    previous = None
    chunks = list(iter_chunks(source, chunk_rows=chunk_rows, timezone=timezone))
    for n, chunk in enumerate(chunks):
        cols = chunk.transactions
        assert len(cols) <= chunk_rows
        assert len(cols) or n == len(chunks) - 1, "only the last chunk may lack transactions"
        check_columns(cols, timezone)
        keys = [cols.key(i) for i in range(len(cols))]
        assert keys == sorted(keys)
        last = keys[-1] if keys else None
        for key, event in chunk.others:
            assert key == event_sort_key(event)
            assert previous is None or key > previous
            if n < len(chunks) - 1:
                assert last is not None
                assert key <= last
        if last is not None:
            previous = last
        out.extend(chunk.events())
    return out


def check_columns(cols: TransactionColumns, timezone: str) -> None:
    names = ("id", "customer_id", "card_id", "merchant_id", "mcc", "channel", "kind", "amount")
    for i in range(len(cols)):
        txn = cols.transaction(i)
        assert cols.key(i) == event_sort_key(txn)
        assert [getattr(cols, name)[i] for name in names] == [
            txn.id,
            txn.customer_id,
            txn.card_id,
            txn.merchant_id,
            txn.mcc,
            txn.channel.value,
            txn.kind.value,
            txn.amount.amount,
        ]
        assert (cols.currency[i], cols.refund_of[i], cols.region[i], cols.device_id[i]) == (
            txn.amount.currency,
            txn.refund_of,
            txn.region,
            txn.device_id,
        )
        assert cols.at_us[i] == int(txn.transacted_at.timestamp() * 1_000_000) or cols.at_us[i] == _us(
            txn.transacted_at
        )
        assert cols.posted_us[i] == _us(txn.posted_at)
        assert cols.day[i] == txn.transacted_at.in_timezone(timezone).to_date_string()
        assert cols.posted_day[i] == txn.posted_at.in_timezone(timezone).to_date_string()


def _us(instant: pendulum.DateTime) -> int:
    delta = instant - pendulum.datetime(1970, 1, 1, tz="UTC")
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def same_error(source: EventSource, chunk_rows: int = 7) -> BaseException:
    """Both readers fail the same way; returns the error."""
    with pytest.raises(Exception) as expected:  # noqa: PT011 - whatever the object reader raises
        list(source.events())
    with pytest.raises(Exception) as got:  # noqa: PT011
        list(iter_chunks(source, chunk_rows=chunk_rows))
    assert type(got.value) is type(expected.value)
    assert str(got.value) == str(expected.value)
    assert getattr(got.value, "path", None) == getattr(expected.value, "path", None)
    return got.value


def synth_events(seed: int, customers: int = 12) -> tuple[list[Any], list[Event]]:
    config = SynthConfig(seed=seed, customers=customers, months=1, start="2026-09-01", follow_rate="0.3")
    people = list(generate_customers(config))
    return people, list(generate_events(config, people))


def write_set(folder: Path, fmt: str, people: list[Any], events: list[Event], *, mixed: bool) -> EventSource:
    folder.mkdir(parents=True, exist_ok=True)
    write_customers(folder / "customers.jsonl", people)
    if mixed:
        if fmt == "parquet":  # write_events keeps only the first row's columns in Parquet
            write_rows(folder / "events.parquet", [event_to_dict(e) for e in events])
        else:
            write_events(folder / f"events.{fmt}", events, mixed=True)
        return EventSource(folder / "customers.jsonl", ((folder / f"events.{fmt}", None),))
    stems = {
        "transaction": "transactions",
        "follow": "follows",
        "draw_request": "draws",
        "referral": "referrals",
    }
    for kind, stem in stems.items():
        chosen = [e for e in events if e.event_type == kind]
        if chosen:
            write_events(folder / f"{stem}.{fmt}", chosen)
    return EventSource.open(folder)


# -- same events, same order ------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("chunk_rows", [1, 7, 65536])
def test_directory_sets_replay_like_the_object_reader(tmp_path: Path, fmt: str, chunk_rows: int) -> None:
    people, events = synth_events(seed=3)
    source = write_set(tmp_path, fmt, people, events, mixed=False)
    assert replay(source, chunk_rows) == list(source.events()) == sorted(events, key=event_sort_key)


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
@pytest.mark.parametrize("chunk_rows", [1, 7, 65536])
def test_mixed_files_replay_like_the_object_reader(tmp_path: Path, fmt: str, chunk_rows: int) -> None:
    people, events = synth_events(seed=5)
    source = write_set(tmp_path, fmt, people, sorted(events, key=event_sort_key), mixed=True)
    assert replay(source, chunk_rows) == list(source.events())


def test_mixed_csv_of_transactions(tmp_path: Path) -> None:
    # write_events cannot put other kinds in one CSV (their columns differ); a typed file of
    # transactions is what a mixed CSV can hold
    people, events = synth_events(seed=8)
    txns = [e for e in sorted(events, key=event_sort_key) if isinstance(e, Transaction)]
    source = write_set(tmp_path, "csv", people, txns, mixed=True)
    assert replay(source, 5) == list(source.events()) == txns


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), fmt=st.sampled_from(FORMATS), chunk_rows=st.integers(1, 40))
def test_synthetic_sets_property(tmp_path: Path, seed: int, fmt: str, chunk_rows: int) -> None:
    people, events = synth_events(seed, customers=6)
    source = write_set(tmp_path / f"{seed}-{fmt}", fmt, people, events, mixed=False)
    assert replay(source, chunk_rows) == list(source.events())


def test_a_set_without_transactions_gives_one_chunk_of_others(tmp_path: Path) -> None:
    people, events = synth_events(seed=2)
    others = [e for e in events if not isinstance(e, Transaction)]
    assert others
    source = write_set(tmp_path, "jsonl", people, others, mixed=False)
    chunks = list(iter_chunks(source, chunk_rows=3))
    assert len(chunks) == 1
    assert len(chunks[0].transactions) == 0
    assert [e for _k, e in chunks[0].others] == list(source.events())


def test_an_empty_set_gives_no_chunk(tmp_path: Path) -> None:
    write_customers(tmp_path / "customers.jsonl", [])
    assert list(iter_chunks(EventSource.open(tmp_path))) == []


# -- hand-written rows -------------------------------------------------------------------------------
BASE = {
    "id": "t1",
    "customer_id": "c1",
    "card_id": "k1",
    "amount": "88.00",
    "currency": "CNY",
    "merchant_id": "m1",
    "mcc": "5812",
    "channel": "pos",
    "kind": "purchase",
    "transacted_at": "2026-11-30T23:50:00+08:00",
}
ODD_ROWS = [
    {"transacted_at": "2026-11-30T15:50:00Z"},
    {"transacted_at": "2026-11-30T10:50:00-05:00", "posted_at": "2026-12-02T10:00:00.25-05:00"},
    {"transacted_at": "2026-11-30T23:59:59.123456+08:00"},
    {"transacted_at": "2026-12-01T00:00:00.5+08:00", "posted_at": "2026-12-01T00:00:00.5+08:00"},
    {"transacted_at": "2026-12-01T00:00:01-00:00", "region": "", "device_id": "", "currency": ""},
    {"transacted_at": "2026-12-01T08:00:01+05:30", "amount": "0088.1", "region": "sh"},
    {"transacted_at": "2026-12-01T11:00:00+08:00", "kind": "refund", "refund_of": "t0", "amount": "3"},
    {"transacted_at": "2026-12-01T11:00:00+08:00", "kind": "reversal", "refund_of": "t0", "id": "t17r"},
    {"transacted_at": "2026-12-01T11:00:01+08:00", "kind": "purchase", "id": "t17r"},
    {"transacted_at": "2026-12-01 12:00:00+08:00"},  # read by pendulum through the object path
    {"transacted_at": "2026-12-01T12:30+08:00", "amount": "1E+1"},  # object path too
    {"transacted_at": "2026-12-01T13:00:00+08:00", "currency": "USD", "amount": "5.5"},
    {"transacted_at": "2026-12-01T15:00:00+09:00", "id": " 张三 ", "merchant_id": "商户"},
]


def odd_transactions() -> list[dict[str, Any]]:
    rows = []
    for n, extra in enumerate(ODD_ROWS):
        row = {**BASE, "id": f"t{n + 10}", **extra}
        row["id"] = extra.get("id", row["id"])
        rows.append(row)
    return rows


def write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    elif path.suffix == ".csv":
        names = list(dict.fromkeys(k for r in rows for k in r))
        with path.open("w", encoding="utf-8", newline="") as handle:
            out = csv.DictWriter(handle, fieldnames=names)
            out.writeheader()
            out.writerows(rows)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        names = list(dict.fromkeys(k for r in rows for k in r))
        pq.write_table(pa.Table.from_pylist([{k: r.get(k) for k in names} for r in rows]), path)


def source_of(folder: Path, fmt: str, rows: list[dict[str, Any]], *, mixed: bool = False) -> EventSource:
    folder.mkdir(parents=True, exist_ok=True)
    write_customers(folder / "customers.jsonl", [])
    name = f"events.{fmt}" if mixed else f"transactions.{fmt}"
    if mixed:
        rows = [{"type": "transaction", **r} for r in rows]
    write_rows(folder / name, rows)
    return EventSource(folder / "customers.jsonl", ((folder / name, None if mixed else "transactions"),))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("mixed", [False, True])
@pytest.mark.parametrize("timezone", ["Asia/Shanghai", "America/New_York"])
def test_odd_but_valid_rows(tmp_path: Path, fmt: str, mixed: bool, timezone: str) -> None:
    rows = odd_transactions()
    source = source_of(tmp_path, fmt, rows, mixed=mixed)
    expected = list(source.events())
    got = replay(source, 4, timezone)
    assert got == expected
    # same offsets as the file gave, not only the same instants
    assert [(t.transacted_at.utcoffset(), t.posted_at.utcoffset()) for t in got] == [  # type: ignore[union-attr]
        (t.transacted_at.utcoffset(), t.posted_at.utcoffset())
        for t in expected  # type: ignore[union-attr]
    ]
    [chunk, *_] = iter_chunks(source, chunk_rows=100, timezone=timezone)
    assert chunk.transactions.line == list(
        range(2 if fmt == "csv" else 1, len(rows) + (2 if fmt == "csv" else 1))
    )


def test_jsonl_shapes_other_than_to_dict(tmp_path: Path) -> None:
    lines = [
        json.dumps({"kind": "purchase", **{k: v for k, v in BASE.items() if k != "kind"}}),  # key order
        json.dumps({**BASE, "id": "t2"}, indent=None, separators=(" , ", " : ")),
        "",
        "   ",
        json.dumps({**BASE, "id": "t3", "region": None, "refund_of": None}),
        json.dumps({**BASE, "id": "t4\u00e9"}),  # escaped non-ASCII
        json.dumps({**BASE, "id": "t5"}) + "\r",
    ]
    folder = tmp_path / "set"
    folder.mkdir()
    write_customers(folder / "customers.jsonl", [])
    (folder / "transactions.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8", newline="")
    source = EventSource.open(folder)
    assert replay(source, 2) == list(source.events())
    [chunk] = iter_chunks(source)
    assert chunk.transactions.line == [1, 2, 5, 6, 7]


def test_csv_quoted_cells_and_blank_lines(tmp_path: Path) -> None:
    text = (
        "id,customer_id,card_id,amount,currency,merchant_id,mcc,channel,kind,transacted_at,region\n"
        "t1,c1,k1,1.00,CNY,m1,5812,pos,purchase,2026-11-01T10:00:00+08:00,\n"
        "\n"
        "t2,c1,k1,2.00,,m1,5812,pos,purchase,2026-11-01T10:00:01+08:00,sh\n"
        't3,c1,k1,3.00,CNY,"m,1",5812,pos,purchase,2026-11-01T10:00:02+08:00,"multi\nline"\n'
        "t4,c1,k1,4.00,CNY,m1,5812,pos,purchase,2026-11-01T10:00:03+08:00,sh\n"
    )
    folder = tmp_path / "set"
    folder.mkdir()
    write_customers(folder / "customers.jsonl", [])
    (folder / "transactions.csv").write_text(text, encoding="utf-8", newline="")
    source = EventSource.open(folder)
    assert replay(source, 1) == list(source.events())
    lines = [line for chunk in iter_chunks(source) for line in chunk.transactions.line]
    assert lines == [2, 3, 4, 5]


# -- same errors ----------------------------------------------------------------------------------------
BAD = [
    {"amount": "abc"},
    {"amount": "1.001"},
    {"amount": "0"},
    {"amount": "-5"},
    {"kind": "gift"},
    {"channel": "fax"},
    {"mcc": "58x2"},
    {"mcc": "581"},
    {"transacted_at": "2026-12-01T10:00:00"},
    {"transacted_at": "2026-02-30T10:00:00+08:00"},
    {"posted_at": "2026-12-01T09:00:00+08:00"},
    {"kind": "refund"},
    {"refund_of": "t0"},
    {"kind": "refund", "refund_of": "t4"},
    {"id": ""},
    {"customer_id": "  "},
    {"region": " "},
    {"unknown": "x"},
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("bad", BAD, ids=lambda b: "-".join(f"{k}={v}" for k, v in b.items()))
def test_invalid_rows_raise_what_the_object_reader_raises(tmp_path: Path, fmt: str, bad: dict) -> None:
    rows = [{**BASE, "id": f"t{n}", "transacted_at": f"2026-12-01T10:00:0{n}+08:00"} for n in range(9)]
    rows[4] = {**rows[4], **bad}
    if "id" in bad:
        rows[4]["id"] = bad["id"]
    error = same_error(source_of(tmp_path / "kind", fmt, rows))
    line = 5 if fmt != "csv" else (2 if "unknown" in bad else 6)  # a CSV column is in every row
    assert str(getattr(error, "path", "")).endswith(f":{line}")
    same_error(source_of(tmp_path / "mixed", fmt, rows, mixed=True))


@pytest.mark.parametrize("fmt", FORMATS)
def test_missing_id(tmp_path: Path, fmt: str) -> None:
    rows = [{**BASE, "id": f"t{n}"} for n in range(3)]
    del rows[1]["id"]
    same_error(source_of(tmp_path, fmt, rows))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("chunk_rows", [1, 3, 100])
def test_rows_out_of_order(tmp_path: Path, fmt: str, chunk_rows: int) -> None:
    rows = [{**BASE, "id": f"t{n}", "transacted_at": f"2026-12-01T10:00:0{n}+08:00"} for n in range(8)]
    rows[5]["transacted_at"] = "2026-12-01T09:00:00+08:00"
    error = same_error(source_of(tmp_path, fmt, rows), chunk_rows)
    assert isinstance(error, EventOrderError)
    # the chunks before the error hold only rows before it
    seen: list[int] = []
    chunks = iter_chunks(source_of(tmp_path, fmt, rows), chunk_rows=chunk_rows)
    with pytest.raises(EventOrderError):
        seen.extend(line for chunk in chunks for line in chunk.transactions.line)
    assert all(line < (7 if fmt == "csv" else 6) for line in seen)


def test_same_id_and_instant_out_of_order_by_id(tmp_path: Path) -> None:
    rows = [{**BASE, "id": "t2"}, {**BASE, "id": "t1"}]
    assert isinstance(same_error(source_of(tmp_path, "jsonl", rows)), EventOrderError)


def test_order_is_checked_across_object_path_rows(tmp_path: Path) -> None:
    rows = [
        {**BASE, "id": "t1", "transacted_at": "2026-12-01T10:00:00+08:00"},
        {**BASE, "id": "t2", "transacted_at": "2026-12-01T11:00+08:00"},  # object path
        {**BASE, "id": "t3", "transacted_at": "2026-12-01T10:30:00+08:00"},
    ]
    assert isinstance(same_error(source_of(tmp_path, "jsonl", rows)), EventOrderError)


@pytest.mark.parametrize(
    "line",
    ["not json", "[1, 2]", '{"id": "t9", "amount": 5}', '{"id": "t9", "amount": "5", "id": "t8"}'],
)
def test_json_lines_the_object_path_refuses(tmp_path: Path, line: str) -> None:
    folder = tmp_path / "set"
    folder.mkdir()
    write_customers(folder / "customers.jsonl", [])
    good = json.dumps({**BASE, "id": "t0"})
    (folder / "transactions.jsonl").write_text(f"{good}\n{line}\n", encoding="utf-8")
    same_error(EventSource.open(folder))


def test_numbers_in_json_are_refused_like_the_object_reader(tmp_path: Path) -> None:
    rows = [{**BASE, "mcc": 5812}]
    same_error(source_of(tmp_path, "jsonl", rows))


def test_errors_in_other_event_files(tmp_path: Path) -> None:
    people, events = synth_events(seed=4)
    source = write_set(tmp_path, "jsonl", people, events, mixed=False)
    follows = tmp_path / "follows.jsonl"
    lines = follows.read_text(encoding="utf-8").splitlines()
    lines[0] = lines[0].replace('"at":"', '"at":"x')
    follows.write_text("\n".join(lines) + "\n", encoding="utf-8")
    same_error(source)


def test_chunk_rows_must_be_positive(tmp_path: Path) -> None:
    source = source_of(tmp_path, "jsonl", [BASE])
    with pytest.raises(SimulationError):
        list(iter_chunks(source, chunk_rows=0))


def test_several_transaction_files_go_through_the_object_path(tmp_path: Path) -> None:
    a = [{**BASE, "id": f"a{n}", "transacted_at": f"2026-12-01T10:00:0{2 * n}+08:00"} for n in range(4)]
    b = [{**BASE, "id": f"b{n}", "transacted_at": f"2026-12-01T10:00:0{2 * n + 1}+08:00"} for n in range(4)]
    one = source_of(tmp_path / "a", "jsonl", a)
    two = source_of(tmp_path / "b", "csv", b)
    source = EventSource(one.customers_path, one.event_paths + two.event_paths)
    chunks = list(iter_chunks(source, chunk_rows=3))
    assert [e for c in chunks for e in c.events()] == list(source.events())
    assert {c.transactions.path for c in chunks} == {str(p) for p, _k in source.event_paths}


def test_event_chunk_values() -> None:
    empty = EventChunk(TransactionColumns.from_transactions("x", [], []), ())
    assert len(empty.transactions) == 0
    assert list(empty.events()) == []
