"""cardbenefits: credit-card benefits as data, run by a pure, explainable engine.

The public API is re-exported here; submodules hold the rest.

>>> from cardbenefits import Money, CalendarMonth, local_datetime
>>> Money.of("50").percent(10).format("zh_CN")
'¥5.00'
>>> CalendarMonth().containing(local_datetime(2026, 11, 30, 23, 59)).label
'2026-11'
"""

from __future__ import annotations

from cardbenefits.clock import (
    DEFAULT_TIMEZONE,
    Clock,
    FixedClock,
    ManualClock,
    SystemClock,
    ensure_aware,
    local_datetime,
    parse_instant,
    to_local,
)
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
from cardbenefits.facts import (
    CardHolding,
    Channel,
    Customer,
    DrawRequest,
    Follow,
    Referral,
    Transaction,
    TransactionKind,
    customer_record,
)
from cardbenefits.i18n import SUPPORTED_LOCALES, LocalizedText
from cardbenefits.money import Money, Rounding
from cardbenefits.periods import (
    CalendarDay,
    CalendarMonth,
    CalendarWeek,
    Period,
    PeriodBasis,
    RollingDays,
    StatementCycle,
    are_consecutive,
)
from cardbenefits.segments import (
    LifecycleStage,
    RFMAccumulator,
    RFMCutoffs,
    lifecycle_stage,
    score_by_quantiles,
)
from cardbenefits.windows import (
    AllOf,
    AnyOf,
    FixedWindow,
    RecurringWindow,
    RelativeWindow,
    Window,
    day_start,
    next_daily_reset,
)

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_TIMEZONE",
    "SUPPORTED_LOCALES",
    "AllOf",
    "AnyOf",
    "CalendarDay",
    "CalendarMonth",
    "CalendarWeek",
    "CardBenefitsError",
    "CardHolding",
    "CatalogError",
    "Channel",
    "Clock",
    "CurrencyMismatchError",
    "Customer",
    "DrawRequest",
    "EngineError",
    "FactError",
    "FixedClock",
    "FixedWindow",
    "Follow",
    "LedgerError",
    "LifecycleStage",
    "LimitExceededError",
    "LocalizedText",
    "ManualClock",
    "Money",
    "MoneyError",
    "Period",
    "PeriodBasis",
    "PeriodError",
    "RFMAccumulator",
    "RFMCutoffs",
    "RecurringWindow",
    "Referral",
    "RelativeWindow",
    "RollingDays",
    "Rounding",
    "RuleError",
    "RuleSyntaxError",
    "RuleTypeError",
    "StatementCycle",
    "SystemClock",
    "Transaction",
    "TransactionKind",
    "Window",
    "__version__",
    "are_consecutive",
    "customer_record",
    "day_start",
    "ensure_aware",
    "lifecycle_stage",
    "local_datetime",
    "next_daily_reset",
    "parse_instant",
    "score_by_quantiles",
    "to_local",
]
