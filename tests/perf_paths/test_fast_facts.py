"""Fast paths of the facts layer give exactly what the validating paths give.

``Transaction.from_dict`` and ``event_from_dict`` read well-formed rows without the general
parser; ``_instant_value`` reads ``isoformat()`` texts with ``datetime.fromisoformat``;
``_utc`` subtracts the offset instead of calling pendulum's ``astimezone``. Every property here
compares a fast result with the general path's (same value, same ``repr``, same error).
"""

from __future__ import annotations

import datetime as dt
import types
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardbenefits.clock import ensure_aware
from cardbenefits.errors import CardBenefitsError, FactError
from cardbenefits.facts import (
    Channel,
    Follow,
    Transaction,
    TransactionKind,
    _fast_instant,
    _transaction_from_row,
    _utc,
    event_from_dict,
    event_sort_key,
    event_to_dict,
)
from cardbenefits.money import Money

_FIELDS = frozenset(Transaction.from_dict.__func__.__globals__["_TRANSACTION_FIELDS"])  # type: ignore[attr-defined]

offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: dt.timedelta(minutes=m))
instants = st.builds(
    lambda naive, offset: naive.replace(tzinfo=dt.timezone(offset)),
    st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2099, 12, 31)),
    offsets,
)
ids = st.text(alphabet="abcxyz019_- ", min_size=1, max_size=6).filter(lambda s: bool(s.strip()))
amounts = st.decimals(min_value="0.01", max_value="999999.99", places=2)


def _slow(data: Mapping[str, Any]) -> Transaction:
    """The general path: a read-only mapping is never taken by the fast path."""
    return Transaction.from_dict(types.MappingProxyType(dict(data)))


def _outcome(build: Any, data: Mapping[str, Any]) -> tuple[str, Any]:
    try:
        value = build(data)
    except CardBenefitsError as exc:
        return ("error", (type(exc), str(exc), exc.path))
    return ("value", (value, repr(value)))


@st.composite
def transactions(draw: st.DrawFn) -> Transaction:
    kind = draw(st.sampled_from(list(TransactionKind)))
    tid = draw(ids)
    refund_of = draw(ids.filter(lambda s: s != tid)) if kind.needs_original else None
    at = draw(instants)
    posted = draw(
        st.one_of(st.just(at), st.timedeltas(dt.timedelta(0), dt.timedelta(days=5)).map(lambda d: at + d))
    )
    if posted.year > 9998:
        posted = at
    currency = draw(st.sampled_from(["CNY", "USD", "JPY"]))
    amount = draw(amounts)
    if currency == "JPY":
        amount = amount.to_integral_value() or amount.__class__(1)
    return Transaction(
        tid,
        draw(ids),
        draw(ids),
        Money.of(amount, currency),
        draw(ids),
        draw(st.from_regex(r"\A[0-9]{4}\Z")),
        draw(st.sampled_from(list(Channel))),
        kind,
        at.isoformat(),
        posted_at=posted.astimezone(dt.timezone(draw(offsets))).isoformat(),
        refund_of=refund_of,
        region=draw(st.none() | ids),
        device_id=draw(st.none() | ids),
    )


@settings(max_examples=300, deadline=None)
@given(instants)
def test_fast_instant_is_the_general_parse(value: dt.datetime) -> None:
    text = value.isoformat()
    fast = _fast_instant(text)
    slow = ensure_aware(text)
    assert fast is not None
    assert fast == slow
    assert repr(fast) == repr(slow)
    assert fast.fold == slow.fold
    assert type(fast) is type(slow)
    assert fast.utcoffset() == slow.utcoffset()


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-05T10:00:00Z",  # pendulum's UTC zone, not a fixed offset
        "2026-11-05T10:00+08:00",  # no seconds
        "2026-11-05 10:00:00+08:00",  # space
        "2026-11-05T24:00:00+08:00",  # hour 24
        "2026-02-30T10:00:00+08:00",  # no such day
        "2026-11-05T10:00:00.123+08:00",  # milliseconds
        "２０２６-11-05T10:00:00+08:00",  # non-ASCII digits
        "2026-11-05T10:00:00+08:00\n",
    ],
)
def test_fast_instant_leaves_other_shapes_to_the_general_parser(text: str) -> None:
    assert _fast_instant(text) is None


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        instants,
        instants.map(lambda d: pendulum.instance(d)),
        instants.map(lambda d: pendulum.instance(d).in_timezone(pendulum.timezone("Europe/Berlin"))),
    )
)
def test_utc_matches_astimezone(value: dt.datetime) -> None:
    assert _utc(value) == value.astimezone(dt.UTC).replace(tzinfo=None)


def test_utc_across_a_dst_fold() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    first = dt.datetime(2026, 10, 25, 2, 30, tzinfo=berlin)
    second = first.replace(fold=1)
    assert _utc(first) < _utc(second)
    for value in (first, second, pendulum.instance(first), pendulum.instance(second)):
        assert _utc(value) == value.astimezone(dt.UTC).replace(tzinfo=None)


@settings(max_examples=300, deadline=None)
@given(transactions(), st.booleans())
def test_fast_row_is_the_validated_transaction(txn: Transaction, csv_like: bool) -> None:
    row = txn.to_dict()
    if csv_like:
        row = {k: ("" if v is None else v) for k, v in row.items()}
    fast = _transaction_from_row(row, _FIELDS)
    assert fast is not None
    slow = _slow(row)
    assert fast == slow == txn
    assert repr(fast) == repr(slow)
    typed = event_to_dict(txn)
    assert event_from_dict(typed) == txn
    assert event_sort_key(fast) == event_sort_key(slow)


# (field, bad value) pairs the fast path must refuse, leaving the error to the validators
_BAD = st.sampled_from(
    [
        ("id", ""),
        ("id", "  "),
        ("id", 7),
        ("customer_id", None),
        ("card_id", " "),
        ("merchant_id", ["m"]),
        ("mcc", "58x2"),
        ("mcc", "541"),
        ("mcc", "５４１１"),
        ("mcc", 5411),
        ("channel", "fax"),
        ("channel", None),
        ("kind", "gift"),
        ("amount", "0"),
        ("amount", "-5.00"),
        ("amount", "5.001"),
        ("amount", "NaN"),
        ("amount", "1e3"),
        ("amount", 5.5),
        ("amount", ""),
        ("currency", "cny"),
        ("currency", "CN"),
        ("transacted_at", "2026-11-05T10:00:00"),
        ("transacted_at", "yesterday"),
        ("transacted_at", ""),
        ("posted_at", "2000-01-01T00:00:00+08:00"),
        ("posted_at", "2026-13-01T00:00:00+08:00"),
        ("refund_of", "  "),
        ("region", 3),
        ("device_id", " "),
        ("colour", "red"),
    ]
)


@settings(max_examples=300, deadline=None)
@given(transactions(), _BAD, st.sampled_from([None, "", "t0", "same"]))
def test_bad_rows_fail_as_the_validators_say(
    txn: Transaction, bad: tuple[str, Any], refund: str | None
) -> None:
    row = txn.to_dict()
    key, value = bad
    row[key] = value
    if refund is not None:
        row["refund_of"] = row["id"] if refund == "same" else refund
    expected = _outcome(_slow, row)
    assert _outcome(Transaction.from_dict, row) == expected
    typed = {"type": "transaction", **row}
    assert _outcome(event_from_dict, typed) == expected
    if expected[0] == "error":
        assert isinstance(expected[1][0], type)
        assert issubclass(expected[1][0], FactError)


def test_named_errors_through_the_fast_path() -> None:
    row = Transaction(
        "t1", "c1", "k1", Money.of("88.00"), "m1", "5812", "pos", "purchase", "2026-11-05T10:00:00+08:00"
    ).to_dict()
    for key, value, message in [
        ("mcc", "58x2", "transaction.mcc: an MCC is 4 digits"),
        ("amount", "5.001", "transaction.amount: amount has more precision"),
        ("kind", "refund", "transaction.refund_of: a refund names the transaction it undoes"),
        ("posted_at", "2026-11-05T09:00:00+08:00", "transaction.posted_at: posting cannot precede"),
        ("channel", "fax", "transaction.channel: unknown channel"),
    ]:
        with pytest.raises(FactError) as caught:
            Transaction.from_dict({**row, key: value})
        assert str(caught.value).startswith(message)


def test_other_events_still_read_by_the_general_path() -> None:
    follow = Follow("f1", "c1", "e_life", "app", "2026-11-05T10:00:00+08:00")
    assert event_from_dict(event_to_dict(follow)) == follow
    with pytest.raises(FactError, match="unknown event type"):
        event_from_dict({"type": "transfer", "id": "x"})
