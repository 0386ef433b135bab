"""Errors raised by cardbenefits.

Every error derives from :class:`CardBenefitsError`. An error says *what* went wrong,
*where* (a dotted/indexed path such as ``products[2].modules[5].requires[0]``) and the
*bad value*, so a campaign author can fix a catalog without reading a traceback.

>>> err = CatalogError("unknown benefit id", path="products[0].core[1]", value="cash_bak")
>>> str(err)
"products[0].core[1]: unknown benefit id (got 'cash_bak')"
>>> err.path, err.value
('products[0].core[1]', 'cash_bak')
>>> isinstance(err, CardBenefitsError)
True
"""

from __future__ import annotations

from typing import Any, Final

__all__ = [
    "CardBenefitsError",
    "CatalogError",
    "CurrencyMismatchError",
    "EngineError",
    "FactError",
    "LedgerError",
    "LimitExceededError",
    "MoneyError",
    "PeriodError",
    "RuleError",
    "RuleSyntaxError",
    "RuleTypeError",
]


class _Missing:
    """Marker for "no value given" (``None`` is a legitimate bad value)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Final = _Missing()


class CardBenefitsError(Exception):
    """Base class of every error the library raises on purpose.

    ``path`` locates the offending item (a field name, a catalog path or a rule position);
    ``value`` is the value that was refused (``MISSING`` when not applicable).
    """

    def __init__(self, message: str, *, path: str | None = None, value: Any = MISSING) -> None:
        self.message = message
        self.path = path
        self.value = value
        super().__init__(self.__str__())

    def __str__(self) -> str:
        text = f"{self.path}: {self.message}" if self.path else self.message
        if self.value is not MISSING:
            text += f" (got {self.value!r})"
        return text

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep errors picklable (they cross process boundaries in simulations).
        return (_rebuild, (type(self), self.message, self.path, self.value))


def _rebuild(cls: type[CardBenefitsError], message: str, path: str | None, value: Any) -> CardBenefitsError:
    err = cls.__new__(cls)
    CardBenefitsError.__init__(err, message, path=path, value=value)
    return err


class MoneyError(CardBenefitsError, ValueError):
    """An amount was invalid: a float, a malformed string, a bad rounding policy..."""


class CurrencyMismatchError(MoneyError):
    """Two amounts in different currencies were combined."""


class PeriodError(CardBenefitsError, ValueError):
    """A time window, period or clock was misused (naive datetime, bad billing day...)."""


class FactError(CardBenefitsError, ValueError):
    """A fact (customer, transaction, event) failed validation."""


class RuleError(CardBenefitsError):
    """An eligibility rule could not be parsed, type-checked or evaluated."""


class RuleSyntaxError(RuleError):
    """The rule text is not well formed; ``path`` holds ``line:column``."""


class RuleTypeError(RuleError):
    """The rule refers to an unknown field or compares values of incompatible types."""


class CatalogError(CardBenefitsError):
    """A catalog file or object is invalid."""


class LedgerError(CardBenefitsError):
    """The ledger refused to apply entries."""


class LimitExceededError(LedgerError):
    """Applying entries would exceed a cap, budget or stock; nothing was applied."""


class EngineError(CardBenefitsError):
    """The engine was given inputs it cannot decide on."""
