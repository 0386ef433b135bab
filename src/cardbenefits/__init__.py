"""cardbenefits: credit-card benefits as data, run by a pure, explainable engine.

>>> from cardbenefits import Money
>>> Money.of("50").percent(10).format("zh_CN")
'¥5.00'
"""

from __future__ import annotations

from cardbenefits.errors import (
    CardBenefitsError,
    CatalogError,
    CurrencyMismatchError,
    EngineError,
    FactError,
    LedgerError,
    LimitExceededError,
    MoneyError,
    PeriodError,
    RuleError,
    RuleSyntaxError,
    RuleTypeError,
)
from cardbenefits.money import Money, Rounding

__version__ = "0.1.0"

__all__ = [
    "CardBenefitsError",
    "CatalogError",
    "CurrencyMismatchError",
    "EngineError",
    "FactError",
    "LedgerError",
    "LimitExceededError",
    "Money",
    "MoneyError",
    "PeriodError",
    "Rounding",
    "RuleError",
    "RuleSyntaxError",
    "RuleTypeError",
    "__version__",
]
