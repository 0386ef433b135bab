"""``Customer.with_attributes`` checks only the new values yet equals ``attrs.evolve``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cardbenefits.errors import CardBenefitsError
from cardbenefits.facts import CardHolding, Customer
from cardbenefits.money import Money

leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.text(max_size=3),
    st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-100, max_value=100),
    st.just(Money.of("1.50")),
    st.just(Decimal("NaN")),
    st.just(0.5),
)
values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=2)
        | st.dictionaries(st.sampled_from(["a", "b", "$x", ""]), inner, max_size=2)
    ),
    max_leaves=5,
)
names = st.sampled_from(["rfm", "lifecycle", "spend", "segment", "card", "tags", "score"])


def _outcome(build: Any) -> tuple[str, Any]:
    try:
        value = build()
    except CardBenefitsError as exc:
        return ("error", (type(exc), str(exc), exc.path))
    return ("value", (value, repr(value), value.to_dict()))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(names, values, max_size=3), st.dictionaries(names, values, max_size=3))
# Shrunk failure: two bad new values, the first one already a key of the customer's attributes.
@example(before={"spend": None}, new={"rfm": [Decimal("NaN")], "spend": Decimal("NaN")})
def test_with_attributes_is_evolve(before: dict[str, Any], new: dict[str, Any]) -> None:
    card = CardHolding("k1", "p", "gold", "2026-11-01T09:00:00+08:00", billing_day=5)
    try:
        customer = Customer("c1", "p1", tags={"a"}, cards=(card,), attributes=before)
    except CardBenefitsError:
        return
    fast = _outcome(lambda: customer.with_attributes(**new))
    slow = _outcome(lambda: attrs.evolve(customer, attributes={**customer.attributes, **new}))
    assert fast == slow


def test_with_attributes_keeps_the_original() -> None:
    customer = Customer("c1", "p1", attributes={"lifecycle": "new"})
    changed = customer.with_attributes(lifecycle="active", rfm={"score": 5})
    assert customer.attributes["lifecycle"] == "new"
    assert changed.attributes["rfm"]["score"] == 5
    assert list(changed.attributes) == ["lifecycle", "rfm"]
    with pytest.raises(CardBenefitsError, match="clashes"):
        customer.with_attributes(segment="x")
