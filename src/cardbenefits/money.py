"""Money: exact amounts with a currency, explicit rounding and exact allocation.

Amounts are :class:`decimal.Decimal`; a ``float`` is refused everywhere because binary
floating point cannot represent fen exactly. Arithmetic keeps full precision; rounding to
the currency's minor unit happens only when asked (:meth:`Money.quantize`) or in
operations whose result must be payable (:meth:`Money.percent`, :meth:`Money.allocate`).

>>> price = Money.of("199.90")
>>> price
Money('199.90', 'CNY')
>>> price + Money.of(10)
Money('209.90', 'CNY')
>>> price.percent(5)                      # 5 % cashback, half-up to the fen
Money('10.00', 'CNY')
>>> [str(part) for part in Money.of("100.00").allocate([1, 1, 1])]
['33.34', '33.33', '33.33']
>>> Money.of("1234.5").format("zh_CN")
'¥1,234.50'
>>> Money.parse("¥1,234.50")
Money('1234.50', 'CNY')
>>> Money.of(1.5)
Traceback (most recent call last):
  ...
cardbenefits.errors.MoneyError: amount: floats are not accepted, pass a str, int or Decimal (got 1.5)
"""

from __future__ import annotations

import decimal
import enum
import functools
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import SupportsIndex, TypeAlias

import attrs
from babel.numbers import (
    NumberFormatError,
    format_currency,
    get_currency_precision,
    parse_decimal,
)

from cardbenefits.errors import CurrencyMismatchError, MoneyError

__all__ = ["DEFAULT_CURRENCY", "Money", "Rounding", "to_decimal", "total"]

DEFAULT_CURRENCY = "CNY"

#: What may be turned into a Decimal amount without loss.
AmountLike: TypeAlias = "Decimal | int | str"

# A generous context: banking sums stay far below 10**28, and we never want silent rounding.
_CONTEXT = decimal.Context(prec=38, rounding=decimal.ROUND_HALF_UP, traps=[decimal.InvalidOperation])


class Rounding(enum.StrEnum):
    """How an amount is rounded to the currency's minor unit.

    >>> Money.of("0.125").quantize(Rounding.HALF_EVEN)
    Money('0.12', 'CNY')
    >>> Money.of("0.125").quantize(Rounding.HALF_UP)
    Money('0.13', 'CNY')
    >>> Money.of("0.129").quantize(Rounding.DOWN)
    Money('0.12', 'CNY')
    """

    HALF_UP = "half_up"
    """Round half away from zero (the usual retail rule)."""
    HALF_EVEN = "half_even"
    """Banker's rounding."""
    HALF_DOWN = "half_down"
    """Round half toward zero."""
    DOWN = "down"
    """Truncate toward zero (e.g. "floor per transaction" for positive amounts)."""
    UP = "up"
    """Away from zero."""
    FLOOR = "floor"
    """Toward negative infinity."""
    CEILING = "ceiling"
    """Toward positive infinity."""

    @property
    def decimal_mode(self) -> str:
        """The matching :mod:`decimal` rounding constant."""
        return _DECIMAL_MODES[self]


_DECIMAL_MODES: dict[Rounding, str] = {
    Rounding.HALF_UP: decimal.ROUND_HALF_UP,
    Rounding.HALF_EVEN: decimal.ROUND_HALF_EVEN,
    Rounding.HALF_DOWN: decimal.ROUND_HALF_DOWN,
    Rounding.DOWN: decimal.ROUND_DOWN,
    Rounding.UP: decimal.ROUND_UP,
    Rounding.FLOOR: decimal.ROUND_FLOOR,
    Rounding.CEILING: decimal.ROUND_CEILING,
}


def to_decimal(value: object, *, path: str = "amount") -> Decimal:
    """Convert ``value`` to a finite Decimal, refusing floats, bools and junk.

    >>> to_decimal("12.50"), to_decimal(3)
    (Decimal('12.50'), Decimal('3'))
    >>> to_decimal(float("nan"))
    Traceback (most recent call last):
      ...
    cardbenefits.errors.MoneyError: amount: floats are not accepted, pass a str, int or Decimal (got nan)
    """
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool):
        raise MoneyError("booleans are not amounts", path=path, value=value)
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        raise MoneyError("floats are not accepted, pass a str, int or Decimal", path=path, value=value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip().replace("_", ""))
        except decimal.InvalidOperation:
            raise MoneyError("not a decimal number", path=path, value=value) from None
    else:
        raise MoneyError(f"cannot use {type(value).__name__} as an amount", path=path, value=value)
    if not result.is_finite():
        raise MoneyError("amount must be finite", path=path, value=value)
    return result


@functools.cache
def _exponent(currency: str) -> Decimal:
    return Decimal(1).scaleb(-get_currency_precision(currency))


_CURRENCY_CODE = re.compile(r"[A-Z]{3}")
# Codes already checked: Money is built for every amount, and the regex is the costly part.
_KNOWN_CURRENCIES: set[str] = {DEFAULT_CURRENCY}


def _check_currency(value: str) -> str:
    if isinstance(value, str):
        if value in _KNOWN_CURRENCIES:
            return value
        if _CURRENCY_CODE.fullmatch(value):
            _KNOWN_CURRENCIES.add(value)
            return value
    raise MoneyError("currency must be an ISO 4217 code such as 'CNY'", path="currency", value=value)


def _amount_converter(value: object) -> Decimal:
    return to_decimal(value)


@functools.lru_cache(maxsize=4096)
def _format(amount: str, currency: str, locale: str, currency_digits: bool) -> str:
    """Babel's currency format (slow: ~0.4 ms), cached by the amount's text."""
    return str(format_currency(Decimal(amount), currency, locale=locale, currency_digits=currency_digits))


@attrs.frozen(repr=False, order=False)
class Money:
    """An exact amount of one currency (``CNY`` unless stated).

    Comparison and arithmetic between different currencies raise
    :class:`~cardbenefits.errors.CurrencyMismatchError`; multiplying by a float raises
    :class:`~cardbenefits.errors.MoneyError`.

    >>> Money.of("50") >= Money.of("49.99")
    True
    >>> -Money.of("5")
    Money('-5', 'CNY')
    >>> Money.of(5) + Money.of(5, "USD")
    Traceback (most recent call last):
      ...
    cardbenefits.errors.CurrencyMismatchError: currency: cannot combine CNY with USD (got 'USD')
    """

    amount: Decimal = attrs.field(converter=_amount_converter)
    currency: str = attrs.field(default=DEFAULT_CURRENCY, validator=lambda _i, _a, v: _check_currency(v))

    # -- construction -------------------------------------------------------------------
    @classmethod
    def of(cls, amount: object, currency: str = DEFAULT_CURRENCY) -> Money:
        """Build from a ``str``, ``int`` or ``Decimal`` (never a float)."""
        return cls(to_decimal(amount), currency)

    @classmethod
    def zero(cls, currency: str = DEFAULT_CURRENCY) -> Money:
        """The zero amount, quantized to the currency's minor unit.

        >>> Money.zero()
        Money('0.00', 'CNY')
        """
        return cls(Decimal(0).quantize(_exponent(currency)), currency)

    @classmethod
    def from_minor(cls, units: int, currency: str = DEFAULT_CURRENCY) -> Money:
        """Build from an integer count of minor units (fen for CNY).

        >>> Money.from_minor(12345)
        Money('123.45', 'CNY')
        """
        if isinstance(units, bool) or not isinstance(units, int):
            raise MoneyError("minor units must be an int", path="units", value=units)
        return cls(Decimal(units).scaleb(-get_currency_precision(currency)), currency)

    @classmethod
    def parse(cls, text: str, currency: str = DEFAULT_CURRENCY, *, locale: str = "zh_CN") -> Money:
        """Parse a user-entered amount such as ``"¥1,234.50"``, ``"1234.5"`` or ``"CNY 12"``.

        Currency symbols and codes are accepted for ``currency`` only; grouping and decimal
        separators follow ``locale``.

        >>> Money.parse("1234.5")
        Money('1234.5', 'CNY')
        >>> Money.parse("-￥3.00")
        Money('-3.00', 'CNY')
        >>> Money.parse("12元")
        Money('12', 'CNY')
        >>> Money.parse("US$5", "USD", locale="en")
        Money('5', 'USD')
        >>> Money.parse("¥1,2x")
        Traceback (most recent call last):
          ...
        cardbenefits.errors.MoneyError: amount: not a valid amount for locale zh_CN (got '¥1,2x')
        """
        if not isinstance(text, str):
            raise MoneyError("expected text", path="amount", value=text)
        body = text.strip()
        negative = False
        if body.startswith(("-", "−")):
            negative, body = True, body[1:].strip()
        for marker in _currency_markers(currency):
            if body.upper().startswith(marker.upper()):
                body = body[len(marker) :].strip()
                break
        for marker in _currency_markers(currency):
            if body.upper().endswith(marker.upper()):
                body = body[: -len(marker)].strip()
                break
        if body.startswith(("-", "−")):
            negative, body = not negative, body[1:].strip()
        try:
            value = parse_decimal(body, locale=locale, strict=True)
        except (NumberFormatError, ValueError, decimal.InvalidOperation):
            raise MoneyError(f"not a valid amount for locale {locale}", path="amount", value=text) from None
        return cls(-value if negative else value, currency)

    # -- properties ---------------------------------------------------------------------
    @property
    def minor_units(self) -> int:
        """The amount in minor units, refusing sub-minor precision.

        >>> Money.of("12.34").minor_units
        1234
        """
        exp = _exponent(self.currency)
        quantized = self.amount.quantize(exp, context=_CONTEXT)
        if quantized != self.amount:
            raise MoneyError(
                f"amount has more precision than {self.currency} allows; quantize it first",
                path="amount",
                value=self.amount,
            )
        return int(quantized.scaleb(get_currency_precision(self.currency)))

    @property
    def precision(self) -> int:
        """Number of digits of the currency's minor unit (2 for CNY)."""
        return int(get_currency_precision(self.currency))

    def is_zero(self) -> bool:
        """True for a zero amount."""
        return self.amount == 0

    def is_negative(self) -> bool:
        """True for a negative amount (e.g. a refund)."""
        return self.amount < 0

    def is_positive(self) -> bool:
        """True for a positive amount."""
        return self.amount > 0

    # -- rounding -----------------------------------------------------------------------
    def quantize(self, rounding: Rounding | str = Rounding.HALF_UP) -> Money:
        """Round to the currency's minor unit with an explicit policy."""
        mode = Rounding(rounding).decimal_mode
        return Money(
            self.amount.quantize(_exponent(self.currency), rounding=mode, context=_CONTEXT),
            self.currency,
        )

    def percent(self, rate: AmountLike, rounding: Rounding | str = Rounding.HALF_UP) -> Money:
        """``rate`` percent of this amount, rounded to the minor unit.

        >>> Money.of("33.33").percent("1.5")
        Money('0.50', 'CNY')
        >>> Money.of("33.33").percent("1.5", Rounding.DOWN)
        Money('0.49', 'CNY')
        """
        return (self * (to_decimal(rate, path="rate") / 100)).quantize(rounding)

    def allocate(self, weights: Sequence[AmountLike]) -> list[Money]:
        """Split into parts proportional to ``weights`` that sum exactly to this amount.

        The amount is first quantized to the minor unit (half-up). Remaining minor units go
        to the parts with the largest remainders; ties go to the earlier part, so the result
        is deterministic. Negative amounts (refunds) split the same way, with the sign.

        >>> [str(p) for p in Money.of("10").allocate([70, 20, 10])]
        ['7.00', '2.00', '1.00']
        >>> [str(p) for p in Money.of("-0.05").allocate([1, 1])]
        ['-0.03', '-0.02']
        """
        decimals = [to_decimal(w, path=f"weights[{i}]") for i, w in enumerate(weights)]
        if not decimals:
            raise MoneyError("need at least one weight", path="weights", value=list(weights))
        for i, w in enumerate(decimals):
            if w < 0:
                raise MoneyError("weights must not be negative", path=f"weights[{i}]", value=w)
        total_weight = sum(decimals, Decimal(0))
        if total_weight == 0:
            raise MoneyError("weights must not all be zero", path="weights", value=list(weights))
        units = self.quantize().minor_units
        sign = -1 if units < 0 else 1
        units = abs(units)
        shares = [(units * w) / total_weight for w in decimals]
        floors = [int(s) for s in shares]
        leftover = units - sum(floors)
        order = sorted(range(len(shares)), key=lambda i: (-(shares[i] - floors[i]), i))
        for i in order[:leftover]:
            floors[i] += 1
        return [Money.from_minor(sign * f, self.currency) for f in floors]

    def split(self, parts: int) -> list[Money]:
        """Split into ``parts`` near-equal parts that sum exactly (see :meth:`allocate`)."""
        if isinstance(parts, bool) or not isinstance(parts, int) or parts < 1:
            raise MoneyError("parts must be a positive int", path="parts", value=parts)
        return self.allocate([1] * parts)

    # -- formatting -----------------------------------------------------------------------
    def format(self, locale: str = "zh_CN", *, currency_digits: bool = True) -> str:
        """Format through Babel for ``locale`` (``zh_CN``, ``zh_Hant_TW``, ``en`` ...).

        >>> Money.of("1234.5").format("en")
        'CN¥1,234.50'
        >>> Money.of("1234.5").format("zh_Hant_HK")
        'CN¥1,234.50'
        >>> Money.of("-5").format("zh_CN")
        '-¥5.00'
        """
        return _format(str(self.amount), self.currency, locale, currency_digits)

    def __str__(self) -> str:
        return str(self.amount)

    def __repr__(self) -> str:
        return f"Money({str(self.amount)!r}, {self.currency!r})"

    # -- arithmetic ---------------------------------------------------------------------
    def _same(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise MoneyError(f"cannot combine Money with {type(other).__name__}", path="operand", value=other)
        if other.currency != self.currency:
            raise CurrencyMismatchError(
                f"cannot combine {self.currency} with {other.currency}",
                path="currency",
                value=other.currency,
            )
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.amount + self._same(other).amount, self.currency)

    def __radd__(self, other: object) -> Money:
        # Lets ``sum(amounts, Money.zero())`` and ``sum(amounts)`` work.
        if isinstance(other, int) and not isinstance(other, bool) and other == 0:
            return self
        return self._same(other) + self

    def __sub__(self, other: Money) -> Money:
        return Money(self.amount - self._same(other).amount, self.currency)

    def __mul__(self, factor: AmountLike) -> Money:
        if isinstance(factor, Money):
            raise MoneyError("cannot multiply Money by Money", path="operand", value=factor)
        return Money(_CONTEXT.multiply(self.amount, to_decimal(factor, path="factor")), self.currency)

    __rmul__ = __mul__

    def __truediv__(self, divisor: AmountLike) -> Money:
        d = to_decimal(divisor, path="divisor")
        if d == 0:
            raise MoneyError("division by zero", path="divisor", value=divisor)
        return Money(_CONTEXT.divide(self.amount, d), self.currency)

    def ratio(self, other: Money) -> Decimal:
        """This amount divided by ``other`` as a Decimal (e.g. budget burn).

        >>> Money.of(25).ratio(Money.of(100))
        Decimal('0.25')
        """
        o = self._same(other)
        if o.amount == 0:
            raise MoneyError("division by zero", path="divisor", value=other)
        return _CONTEXT.divide(self.amount, o.amount)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __pos__(self) -> Money:
        return self

    def __abs__(self) -> Money:
        return Money(abs(self.amount), self.currency)

    def __bool__(self) -> bool:
        return self.amount != 0

    def __round__(self, ndigits: SupportsIndex | None = None) -> Money:
        raise MoneyError("use Money.quantize(rounding) to round explicitly", path="round", value=ndigits)

    # -- comparison ---------------------------------------------------------------------
    def __lt__(self, other: Money) -> bool:
        return self.amount < self._same(other).amount

    def __le__(self, other: Money) -> bool:
        return self.amount <= self._same(other).amount

    def __gt__(self, other: Money) -> bool:
        return self.amount > self._same(other).amount

    def __ge__(self, other: Money) -> bool:
        return self.amount >= self._same(other).amount

    def min(self, other: Money) -> Money:
        """The smaller of two amounts of the same currency (caps)."""
        return self if self <= other else other

    def max(self, other: Money) -> Money:
        """The larger of two amounts of the same currency."""
        return self if self >= other else other


def total(amounts: Iterable[Money], currency: str = DEFAULT_CURRENCY) -> Money:
    """Sum ``amounts`` (zero in ``currency`` when empty).

    >>> total([Money.of("1.10"), Money.of("2.20")])
    Money('3.30', 'CNY')
    """
    result = Money.zero(currency)
    for amount in amounts:
        result = result + amount
    return result


@functools.cache
def _currency_markers(currency: str) -> tuple[str, ...]:
    from babel.numbers import get_currency_symbol

    markers = {currency}
    for loc in ("zh_CN", "zh_Hant_TW", "zh_Hant_HK", "en"):
        markers.add(get_currency_symbol(currency, locale=loc))
    if currency == "CNY":
        markers.update({"¥", "￥", "CN¥", "RMB", "元", "人民币"})
    # Longest first so "CN¥" is stripped before "¥".
    return tuple(sorted(markers, key=len, reverse=True))
