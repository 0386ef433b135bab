"""recommend(): ranking and the exact best bundle, checked against brute force."""

from __future__ import annotations

import itertools
import time
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardbenefits.catalog import (
    BenefitModule,
    BundleSelection,
    CardProduct,
    ModulePrice,
    compose,
    load_catalog,
    recommend,
)
from cardbenefits.catalog.eligibility import AT, Eligibility
from cardbenefits.errors import EngineError
from cardbenefits.i18n import LocalizedText
from cardbenefits.money import Money
from cardbenefits.rules import default_schema

TAGS = ("gamer", "traveller", "parent")
OLD_ENOUGH = Eligibility.parse("age >= 40", default_schema())


def documented_key(product: CardProduct, modules: tuple[str, ...], tags: frozenset[str]) -> tuple[Any, ...]:
    """The objective as the recommend docstring states it (larger is better)."""
    chosen = [m for m in product.modules if m.id in modules]
    positions = sorted(product.module_ids.index(m.id) for m in chosen)
    return (
        sum(m.base_score + sum(v for t, v in m.affinity.items() if t in tags) for m in chosen),
        -sum(m.price.points for m in chosen),
        -sum((m.price.fee.amount for m in chosen if m.price.fee), Decimal(0)),
        -len(chosen),
        tuple(-p for p in positions),
    )


def brute_force(product: CardProduct, record: dict[str, Any]) -> tuple[str, ...]:
    best: tuple[str, ...] | None = None
    best_key: tuple[Any, ...] | None = None
    ids = product.module_ids
    for size in range(len(ids) + 1):
        for combo in itertools.combinations(ids, size):
            if not isinstance(compose(product, record, combo, AT), BundleSelection):
                continue
            key = documented_key(product, combo, record["tags"])
            if best_key is None or key > best_key:
                best, best_key = combo, key
    assert best is not None  # the empty bundle is always valid
    return best


@st.composite
def products(draw: st.DrawFn, max_modules: int = 7) -> CardProduct:
    n = draw(st.integers(0, max_modules))
    modules = []
    for i in range(n):
        group = draw(st.sampled_from([None, "g1", "g2"]))
        earlier = [m for m in modules if group is None or m.exclusive_group != group]
        requires = (
            draw(st.lists(st.sampled_from([m.id for m in earlier]), max_size=2, unique=True))
            if earlier
            else []
        )
        fee = draw(st.one_of(st.none(), st.integers(0, 3).map(lambda x: Money.of(x * 50))))
        modules.append(
            BenefitModule(
                id=f"m{i}",
                name=LocalizedText.from_value(f"模块{i}"),
                benefits=(f"b{i}",),
                exclusive_group=group,
                requires=tuple(requires),
                segments=draw(st.sampled_from([(), ("gen_z",)])),
                tiers=draw(st.sampled_from([(), ("gold",)])),
                eligibility=draw(st.sampled_from([None, OLD_ENOUGH])),
                price=ModulePrice(points=draw(st.sampled_from([0, 1000, 2000, 3000])), fee=fee),
                affinity=draw(st.dictionaries(st.sampled_from(TAGS), st.integers(-2, 5), max_size=2)),
                base_score=draw(st.integers(-1, 3)),
            )
        )
    return CardProduct(
        id="p",
        name=LocalizedText.from_value("卡"),
        modules=tuple(modules),
        slots=draw(st.one_of(st.none(), st.integers(0, 4))),
        points_budget=draw(st.one_of(st.none(), st.sampled_from([0, 2000, 3000, 5000]))),
    )


records = st.fixed_dictionaries(
    {
        "id": st.just("c1"),
        "segment": st.sampled_from(["gen_z", "silver"]),
        "age": st.integers(20, 70),
        "tags": st.frozensets(st.sampled_from(TAGS)),
        "card": st.fixed_dictionaries(
            {"product": st.just("p"), "tier": st.sampled_from(["gold", "standard"])}
        ),
    }
)


@settings(max_examples=120, deadline=None)
@given(product=products(max_modules=6), record=records, k=st.integers(0, 8))
def test_recommended_bundle_is_the_brute_force_optimum(
    product: CardProduct, record: dict[str, Any], k: int
) -> None:
    rec = recommend(product, record, k, AT)
    assert rec.bundle.modules == brute_force(product, record)
    assert rec.score == documented_key(product, rec.bundle.modules, record["tags"])[0]
    # Ranking: eligible modules only, best first, ties in declaration order, at most k.
    scores = [s.score for s in rec.ranked]
    assert scores == sorted(scores, reverse=True)
    assert len(rec.ranked) <= k
    for scored in rec.ranked:
        closure = product.prerequisite_closure(scored.module)
        alone = compose(product, record, list(closure), AT)
        restricted = isinstance(alone, BundleSelection) or all(
            v.code.value not in ("segment_restricted", "tier_restricted", "not_eligible")
            for v in alone.violations
        )
        assert restricted


def test_ranking_and_bundle_on_the_youth_card() -> None:
    youth = load_catalog("examples/catalogs/benefits.yaml").product("youth")
    record = {
        "id": "c1",
        "segment": "gen_z",
        "age": 22,
        "tags": frozenset({"trend", "guochao"}),
        "card": {"product": "youth", "tier": "gold", "supplementary": False},
    }
    rec = recommend(youth, record, 10, AT)
    # trend_box (3 + 1) needs heritage_points (3): both fit in 3 slots with esports_pass (1) or anime (1).
    assert rec.bundle.modules == ("esports_pass", "heritage_points", "trend_box")
    assert rec.score == 1 + 3 + 4
    assert {s.module for s in rec.ranked} == set(youth.module_ids)
    older = recommend(youth, {**record, "age": 40, "segment": "millennial"}, 10, AT)
    assert "video_month" not in {s.module for s in older.ranked}
    assert "esports_pass" not in {s.module for s in older.ranked}


def test_a_module_whose_prerequisite_is_not_allowed_is_not_ranked() -> None:
    youth = load_catalog("examples/catalogs/benefits.yaml").product("youth")
    record = {
        "id": "c1",
        "segment": "gen_z",
        "age": 22,
        "tags": frozenset({"trend"}),
        "card": {"tier": "standard"},
    }
    ranked = {s.module for s in recommend(youth, record, 10, AT).ranked}
    assert "trend_box" not in ranked  # gold tier only
    assert "heritage_points" in ranked


def test_k_must_be_a_non_negative_int() -> None:
    youth = load_catalog("examples/catalogs/benefits.yaml").product("youth")
    with pytest.raises(EngineError):
        recommend(youth, {"tags": frozenset()}, -1, AT)
    assert recommend(youth, {"tags": frozenset()}, 0, AT).ranked == ()


def test_forty_modules_are_solved_exactly_and_fast() -> None:
    modules = []
    for i in range(40):
        modules.append(
            BenefitModule(
                id=f"m{i:02d}",
                name=LocalizedText.from_value(f"模块{i}"),
                benefits=(f"b{i}",),
                exclusive_group=f"g{i % 8}" if i % 3 == 0 else None,
                requires=(f"m{i - 7:02d}",) if i % 5 == 4 and i >= 7 and (i - 7) % 3 != 0 else (),
                price=ModulePrice(points=500 * (i % 7)),
                affinity={TAGS[i % 3]: (i * 7) % 5 + 1, TAGS[(i + 1) % 3]: (i * 3) % 4},
                base_score=i % 3,
            )
        )
    product = CardProduct(
        id="p", name=LocalizedText.from_value("大卡"), modules=tuple(modules), slots=6, points_budget=8000
    )
    record = {"id": "c1", "tags": frozenset(TAGS)}
    started = time.perf_counter()
    rec = recommend(product, record, 5, AT)
    elapsed = time.perf_counter() - started
    assert isinstance(compose(product, record, rec.bundle.modules, AT), BundleSelection)
    assert len(rec.bundle.modules) <= 6
    assert rec.bundle.points <= 8000
    assert elapsed < 5, elapsed
    # No single swap of a chosen module for an unchosen one improves a valid bundle.
    best = documented_key(product, rec.bundle.modules, record["tags"])
    for out in rec.bundle.modules:
        for inn in product.module_ids:
            if inn in rec.bundle.modules:
                continue
            trial = (*(m for m in rec.bundle.modules if m != out), inn)
            if isinstance(compose(product, record, trial, AT), BundleSelection):
                assert documented_key(product, trial, record["tags"]) <= best
