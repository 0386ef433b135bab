"""The engine's inlined percent reward equals ``PercentReward.earn``; decisions are unchanged."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardbenefits.engine import Engine
from cardbenefits.engine.core import _percent, _Plan
from cardbenefits.errors import CardBenefitsError
from cardbenefits.money import Money, Rounding
from cardbenefits.programmes import PercentReward, Qualifier, TransactionProgramme

rates = st.decimals(min_value="0.01", max_value="100", places=3)
amounts = st.decimals(min_value="0.01", max_value="99999999.99", places=2)


def _outcome(build: Any) -> tuple[str, Any]:
    try:
        return ("value", build())
    except CardBenefitsError as exc:
        return ("error", (type(exc), str(exc)))


@settings(max_examples=400, deadline=None)
@given(
    rates,
    st.none() | amounts,
    st.sampled_from(list(Rounding)),
    amounts,
    st.sampled_from(["CNY", "JPY"]),
    st.sampled_from(["CNY", "JPY"]),
)
def test_percent_is_earn(
    rate: Decimal, cap: Decimal | None, rounding: Rounding, amount: Decimal, currency: str, cap_currency: str
) -> None:
    reward = PercentReward(
        rate=rate, per_transaction_cap=None if cap is None else Money.of(cap, cap_currency), rounding=rounding
    )
    plan = _Plan(TransactionProgramme("p", Qualifier(), reward), "CNY")
    money = Money.of(amount, currency)
    fast = _outcome(lambda: _percent(plan, money))
    slow = _outcome(lambda: reward.earn(money).amount)
    assert fast == slow
    if fast[0] == "value":
        assert str(fast[1]) == str(slow[1])  # same exponent, not only the same number


def test_engine_decision_with_percent_and_cap() -> None:
    from cardbenefits.facts import CardHolding, Customer, Transaction
    from cardbenefits.ledger import MemoryLedger

    programme = TransactionProgramme(
        "cb", Qualifier(), PercentReward(rate=5, per_transaction_cap=Money.of(20))
    )
    engine = Engine([programme], catalog_version="v1")
    alice = Customer("c1", "p1", cards=(CardHolding("k1", "std", "gold", "2026-10-01T10:00+08:00"),))
    ledger = MemoryLedger()
    granted = []
    for i, amount in enumerate(["99.99", "1000", "0.09"]):
        txn = Transaction(f"t{i}", "c1", "k1", Money.of(amount), "m", "5411", "pos", "purchase",
                          "2026-11-03T12:00+08:00")  # fmt: skip
        decision = engine.decide(alice, txn, ledger)
        ledger.apply(decision.batch)
        granted.append([str(g.quantity) for g in decision.grants])
    assert granted == [["5.00"], ["20"], []]
    assert ledger.balance("c1", "cashback") == Decimal("25.00")


def test_cap_in_another_currency_still_raises() -> None:
    reward = PercentReward(rate=5, per_transaction_cap=Money.of(20, "USD"))
    plan = _Plan(TransactionProgramme("p", Qualifier(), reward), "CNY")
    with pytest.raises(CardBenefitsError):
        _percent(plan, Money.of(100))
