"""Benefit and product domain objects refuse inconsistent values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pendulum
import pytest

from cardbenefits.catalog import (
    BenefitKind,
    BenefitModule,
    CardProduct,
    Cashback,
    FeeWaiver,
    InstalmentDiscount,
    Miles,
    ModulePrice,
    Points,
    Validity,
    Voucher,
)
from cardbenefits.catalog.benefits import BENEFIT_TYPES
from cardbenefits.errors import CatalogError
from cardbenefits.i18n import LocalizedText
from cardbenefits.money import Money

NAME = LocalizedText.from_value("名称")
TZ = "Asia/Shanghai"


def test_every_kind_has_a_class() -> None:
    assert set(BENEFIT_TYPES) == set(BenefitKind)
    assert all(cls.kind is kind for kind, cls in BENEFIT_TYPES.items())


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (Cashback, {}),
        (Cashback, {"rate": Decimal(1), "amount": Money.of(5)}),
        (Cashback, {"rate": Decimal(0)}),
        (Points, {}),
        (Miles, {}),
        (Voucher, {}),
        (FeeWaiver, {"fee": "annual_fee", "percent": Decimal(101)}),
        (InstalmentDiscount, {"percent": Decimal(150)}),
        (Cashback, {"amount": Money.of(-1)}),
        (Cashback, {"amount": Money.of(1), "stock": -1}),
    ],
)
def test_inconsistent_benefits_are_refused(cls: type[Any], kwargs: dict[str, Any]) -> None:
    with pytest.raises(CatalogError):
        cls(id="b", name=NAME, **kwargs)


def test_bad_ids_are_refused() -> None:
    with pytest.raises(CatalogError):
        Cashback(id="has space", name=NAME, rate=Decimal(1))


def test_validity() -> None:
    start = pendulum.datetime(2026, 1, 1, tz=TZ)
    end = pendulum.datetime(2026, 12, 31, tz=TZ)
    validity = Validity(days=10, start=start, end=end)
    granted = pendulum.datetime(2026, 12, 25, tz=TZ)
    assert validity.expires_at(granted) == end
    assert validity.contains(pendulum.datetime(2026, 6, 1, tz=TZ))
    assert not validity.contains(pendulum.datetime(2025, 6, 1, tz=TZ))
    assert not validity.contains(pendulum.datetime(2026, 12, 31, 1, tz=TZ), granted)
    assert Validity(days=5).contains(granted.add(days=4), granted)
    assert not Validity(days=5).contains(granted.add(days=5), granted)
    with pytest.raises(CatalogError):
        Validity()
    with pytest.raises(CatalogError):
        Validity(start=end, end=start)
    with pytest.raises(CatalogError):
        Validity(start=pendulum.naive(2026, 1, 1))


def test_module_and_product_invariants() -> None:
    with pytest.raises(CatalogError):
        BenefitModule(id="m", name=NAME, benefits=())
    with pytest.raises(CatalogError):
        BenefitModule(id="m", name=NAME, benefits=("b",), requires=("m",))
    with pytest.raises(CatalogError):
        BenefitModule(id="m", name=NAME, benefits=("b",), affinity={"gamer": "3"})  # type: ignore[dict-item]
    a = BenefitModule(id="a", name=NAME, benefits=("b",), requires=("b",))
    b = BenefitModule(id="b", name=NAME, benefits=("b",), requires=("a",))
    with pytest.raises(CatalogError, match="cycle"):
        CardProduct(id="p", name=NAME, modules=(a, b))
    with pytest.raises(CatalogError, match="duplicate"):
        CardProduct(id="p", name=NAME, modules=(a, a))
    with pytest.raises(CatalogError, match="prerequisite"):
        CardProduct(id="p", name=NAME, modules=(a,))
    assert ModulePrice(fee=Money.of(0)).is_free
    assert not ModulePrice(points=1).is_free


def test_modules_are_hashable_values() -> None:
    one = BenefitModule(id="m", name=NAME, benefits=("b",), affinity={"gamer": 3})
    two = BenefitModule(id="m", name=NAME, benefits=["b"], affinity={"gamer": 3})  # type: ignore[arg-type]
    assert one == two
    assert hash(one) == hash(two)
    assert one.score(["gamer", "gamer", "anime"]) == 3
