"""Money: exact arithmetic, explicit rounding, exact allocation, Babel formatting and parsing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardbenefits.errors import CurrencyMismatchError, MoneyError
from cardbenefits.money import Money, Rounding, to_decimal, total

fen = st.integers(min_value=-(10**12), max_value=10**12)
positive_fen = st.integers(min_value=0, max_value=10**12)
weights = st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=30).filter(any)
decimals = st.decimals(min_value=-(10**9), max_value=10**9, allow_nan=False, allow_infinity=False, places=6)


@given(units=fen, ws=weights)
def test_allocation_sums_exactly(units: int, ws: list[int]) -> None:
    amount = Money.from_minor(units)
    parts = amount.allocate(ws)
    assert len(parts) == len(ws)
    assert sum(parts, Money.zero()) == amount
    # Each part is within one fen of its exact share and has the amount's sign.
    total_w = sum(ws)
    for part, w in zip(parts, ws, strict=True):
        exact = Decimal(units) * w / total_w
        assert abs(Decimal(part.minor_units) - exact) < 1
        assert part.minor_units * units >= 0


@given(units=fen, ws=weights)
def test_allocation_is_deterministic_and_proportional_order(units: int, ws: list[int]) -> None:
    amount = Money.from_minor(units)
    assert amount.allocate(ws) == amount.allocate(list(ws))
    parts = [abs(p.minor_units) for p in amount.allocate(ws)]
    for i in range(len(ws)):
        for j in range(len(ws)):
            if ws[i] > ws[j]:
                assert parts[i] >= parts[j]


@given(units=positive_fen, n=st.integers(min_value=1, max_value=50))
def test_split_parts_differ_by_at_most_one_fen(units: int, n: int) -> None:
    parts = [p.minor_units for p in Money.from_minor(units).split(n)]
    assert sum(parts) == units
    assert max(parts) - min(parts) <= 1


@given(value=st.floats(allow_nan=True, allow_infinity=True))
def test_no_float_is_ever_accepted(value: float) -> None:
    with pytest.raises(MoneyError):
        Money.of(value)
    with pytest.raises(MoneyError):
        Money.of(1) * value  # type: ignore[operator]
    with pytest.raises(MoneyError):
        Money.of(1) / value  # type: ignore[operator]
    with pytest.raises(MoneyError):
        Money.of(1).percent(value)  # type: ignore[arg-type]


@given(value=decimals, mode=st.sampled_from(list(Rounding)))
def test_rounding_policy_is_respected(value: Decimal, mode: Rounding) -> None:
    rounded = Money(value).quantize(mode).amount
    assert rounded == value.quantize(Decimal("0.01"), rounding=mode.decimal_mode)
    assert abs(rounded - value) < Decimal("0.01")
    if mode is Rounding.FLOOR:
        assert rounded <= value
    if mode is Rounding.CEILING:
        assert rounded >= value
    if mode is Rounding.DOWN:
        assert abs(rounded) <= abs(value)


@given(a=decimals, b=decimals)
def test_arithmetic_is_exact(a: Decimal, b: Decimal) -> None:
    assert (Money(a) + Money(b)).amount == a + b
    assert (Money(a) - Money(b)) + Money(b) == Money(a)
    negated = -Money(a)
    assert -negated == Money(a)
    assert (Money(a) < Money(b)) == (a < b)


@given(units=positive_fen, rate=st.decimals(min_value=0, max_value=100, places=3))
def test_percent_matches_decimal_definition(units: int, rate: Decimal) -> None:
    amount = Money.from_minor(units)
    expected = (amount.amount * rate / 100).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
    assert amount.percent(rate).amount == expected


@given(units=fen)
def test_format_parse_round_trip(units: int) -> None:
    amount = Money.from_minor(units)
    for locale in ("zh_CN", "zh_Hant_TW", "zh_Hant_HK", "en"):
        assert Money.parse(amount.format(locale), locale=locale) == amount


def test_currency_mixing_is_refused() -> None:
    with pytest.raises(CurrencyMismatchError) as info:
        _ = Money.of(1) < Money.of(1, "USD")
    assert info.value.value == "USD"
    with pytest.raises(MoneyError):
        Money.of(1, "cny")
    with pytest.raises(MoneyError):
        _ = Money.of(1) + 1  # type: ignore[operator]


def test_babel_output_for_the_three_locales() -> None:
    amount = Money.of("1234567.891")
    assert amount.format("zh_CN") == "¥1,234,567.89"
    assert amount.format("zh_Hant_TW") == "CN¥1,234,567.89"
    assert amount.format("zh_Hant_HK") == "CN¥1,234,567.89"
    assert amount.format("en") == "CN¥1,234,567.89"
    assert Money.of("-5").format("en") == "-CN¥5.00"
    assert Money.of("88", "HKD").format("zh_Hant_HK") == "HK$88.00"
    assert Money.of("100", "TWD").format("zh_Hant_TW") == "$100.00"
    assert Money.of("100", "JPY").format("en") == "¥100"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("¥1,234.50", "1234.50"),
        ("￥ 1,234.50", "1234.50"),
        ("1234.5", "1234.5"),
        ("CN¥12.30", "12.30"),
        ("RMB 8", "8"),
        ("CNY 8", "8"),
        ("8 元", "8"),
        ("-¥3", "-3"),
        ("¥-3", "-3"),
    ],
)
def test_parse_user_amounts(text: str, expected: str) -> None:
    assert Money.parse(text) == Money.of(expected)


@pytest.mark.parametrize("text", ["", "¥", "abc", "1.2.3", "¥1,2x", "$5"])
def test_parse_rejects_junk_with_the_text(text: str) -> None:
    with pytest.raises(MoneyError) as info:
        Money.parse(text)
    assert info.value.value == text


def test_minor_units_refuse_sub_fen_precision() -> None:
    with pytest.raises(MoneyError, match="quantize"):
        _ = Money.of("0.005").minor_units
    assert Money.of("0.005").quantize().minor_units == 1


def test_refund_amounts_and_zero() -> None:
    refund = -Money.of("30")
    assert refund.is_negative()
    assert not refund.is_zero()
    assert Money.zero().is_zero()
    assert not Money.zero()
    assert abs(refund) == Money.of(30)
    assert Money.of(10).min(Money.of(3)) == Money.of(3)
    assert total([]) == Money.zero()
    assert sum([Money.of(1), Money.of(2)]) == Money.of(3)


def test_allocation_errors_name_the_weight() -> None:
    with pytest.raises(MoneyError) as info:
        Money.of(10).allocate([1, -1])
    assert info.value.path == "weights[1]"
    with pytest.raises(MoneyError):
        Money.of(10).allocate([0, 0])
    with pytest.raises(MoneyError):
        Money.of(10).allocate([])


def test_to_decimal_rejects_bool_and_objects() -> None:
    with pytest.raises(MoneyError):
        to_decimal(True)
    with pytest.raises(MoneyError):
        to_decimal(object())
    with pytest.raises(MoneyError):
        to_decimal("Infinity")
    with pytest.raises(MoneyError, match="quantize"):
        round(Money.of("1.005"), 2)  # type: ignore[call-overload]
