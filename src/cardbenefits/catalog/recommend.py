"""Recommend modules and the best valid bundle for a customer.

Scoring is declared in the catalog: a module scores its ``base_score`` plus the ``affinity``
of each tag the customer has (``affinity: {gamer: 3, anime: 2}``). :func:`recommend` ranks
the modules the customer may hold (segment, tier and rule restrictions pass, for the module
and everything it requires) and proposes the best valid bundle.

**Objective** (exact, deterministic). Among bundles that :func:`~cardbenefits.catalog.compose.compose`
accepts, choose the one with, in order:

1. the highest total score;
2. then the fewest budget points spent;
3. then the lowest total fee;
4. then the fewest modules;
5. then the earliest-declared modules (compare the sorted declaration positions).

The search is a branch and bound over the candidates in a prerequisite-first order: a module
may be taken only when all its prerequisites are, at most one per exclusive group, within the
slots and the points budget. The bound adds, to the score so far, the best remaining positive
scores (one per exclusive group) limited both by the free slots and by a fractional knapsack
on the remaining points budget; a branch is cut when even that cannot beat the best bundle on
criteria 1-4. Modules that score nothing and that no better module requires are never added,
which the objective (criterion 4) would refuse anyway.

>>> from cardbenefits.catalog.loader import load_catalog
>>> from cardbenefits.catalog.eligibility import AT
>>> youth = load_catalog("examples/catalogs/benefits.yaml").product("youth")
>>> gamer = {"id": "c1", "segment": "gen_z", "age": 22, "tags": frozenset({"gamer", "anime"}),
...          "card": {"product": "youth", "tier": "standard", "supplementary": False}}
>>> rec = recommend(youth, gamer, 3, AT)
>>> [(s.module, s.score) for s in rec.ranked]
[('esports_pass', 5), ('game_skins', 4), ('anime_pass', 4)]
>>> rec.bundle.modules, rec.score
(('esports_pass', 'anime_pass', 'video_month'), 10)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import attrs
import pendulum

from cardbenefits.catalog.compose import BundleSelection, compose, module_restrictions, record_of
from cardbenefits.catalog.products import BenefitModule, CardProduct
from cardbenefits.errors import EngineError
from cardbenefits.money import DEFAULT_CURRENCY

if TYPE_CHECKING:
    from cardbenefits.facts import CardHolding, Customer

__all__ = ["Recommendation", "ScoredModule", "bundle_key", "recommend"]


@attrs.frozen
class ScoredModule:
    """A module the customer may hold and its declared score for this customer."""

    module: str
    score: int


@attrs.frozen
class Recommendation:
    """The top ``k`` eligible modules and the best valid bundle (see the module docstring)."""

    product: str
    customer: str | None
    ranked: tuple[ScoredModule, ...]
    bundle: BundleSelection
    score: int
    """Total score of :attr:`bundle`."""


def bundle_key(product: CardProduct, modules: Sequence[str], scores: Mapping[str, int]) -> tuple[Any, ...]:
    """The objective of a bundle as a tuple: larger is better (criteria 1-5 above)."""
    chosen = [m for m in product.modules if m.id in set(modules)]
    position = {m.id: i for i, m in enumerate(product.modules)}
    fee = sum((m.price.fee.amount for m in chosen if m.price.fee is not None), Decimal(0))
    return (
        sum(scores[m.id] for m in chosen),
        -sum(m.price.points for m in chosen),
        -fee,
        -len(chosen),
        tuple(-p for p in sorted(position[m.id] for m in chosen)),
    )


def _fee(module: BenefitModule) -> Decimal:
    return module.price.fee.amount if module.price.fee is not None else Decimal(0)


def recommend(
    product: CardProduct,
    customer: Customer | Mapping[str, Any],
    k: int,
    at: pendulum.DateTime,
    *,
    card: CardHolding | None = None,
    currency: str = DEFAULT_CURRENCY,
) -> Recommendation:
    """Rank the eligible modules (best ``k``) and find the best valid bundle for ``customer``."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise EngineError("k must be a non-negative int", path="k", value=k)
    record = record_of(customer, card, product.id)
    raw_tags = record.get("tags")
    tags: frozenset[str] = (
        frozenset(raw_tags) if isinstance(raw_tags, set | frozenset | list | tuple) else frozenset()
    )
    scores = {m.id: m.score(tags) for m in product.modules}
    allowed = {m.id for m in product.modules if not module_restrictions(m, record, at)}
    eligible = [m for m in product.modules if set(product.prerequisite_closure(m.id)) <= allowed]
    position = {m.id: i for i, m in enumerate(product.modules)}
    ranked = sorted(eligible, key=lambda m: (-scores[m.id], position[m.id]))[:k]

    chosen = _best_bundle(product, eligible, scores)
    result = compose(product, record, chosen, at, currency=currency)
    if not isinstance(result, BundleSelection):  # pragma: no cover - a bug in the search
        raise EngineError("recommended bundle is not valid", path=product.id, value=result.codes)
    customer_id = record.get("id")
    return Recommendation(
        product=product.id,
        customer=customer_id if isinstance(customer_id, str) else None,
        ranked=tuple(ScoredModule(m.id, scores[m.id]) for m in ranked),
        bundle=result,
        score=sum(scores[m] for m in result.modules),
    )


def _best_bundle(
    product: CardProduct, eligible: Sequence[BenefitModule], scores: Mapping[str, int]
) -> list[str]:
    # Keep modules that score, and everything they need; others can only worsen the objective.
    useful: set[str] = set()
    for m in eligible:
        if scores[m.id] > 0:
            useful.update(product.prerequisite_closure(m.id))
    candidates = [m for m in eligible if m.id in useful]
    order = _prerequisite_first(candidates, scores)
    slots = product.slots if product.slots is not None else len(order)
    budget = product.points_budget
    position = {m.id: i for i, m in enumerate(product.modules)}

    best_key: list[tuple[Any, ...]] = [bundle_key(product, (), scores)]
    best: list[list[str]] = [[]]
    selected: list[str] = []
    selected_set: set[str] = set()
    groups: set[str] = set()

    def bound(start: int, points_left: int | None, slots_left: int) -> int:
        per_group: dict[str, BenefitModule] = {}
        free: list[BenefitModule] = []
        for m in order[start:]:
            s = scores[m.id]
            if s <= 0 or (m.exclusive_group is not None and m.exclusive_group in groups):
                continue
            if points_left is not None and m.price.points > points_left:
                continue
            if m.exclusive_group is None:
                free.append(m)
            elif m.exclusive_group not in per_group or scores[per_group[m.exclusive_group].id] < s:
                per_group[m.exclusive_group] = m
        pool = free + list(per_group.values())
        by_slots = sum(sorted((scores[m.id] for m in pool), reverse=True)[:slots_left])
        if points_left is None:
            return by_slots
        # Fractional knapsack on the points budget (exact with Fractions).
        total = Fraction(0)
        room = Fraction(points_left)
        zero_cost = [m for m in pool if m.price.points == 0]
        total += sum(scores[m.id] for m in zero_cost)
        for m in sorted(
            (m for m in pool if m.price.points > 0),
            key=lambda m: Fraction(scores[m.id], m.price.points),
            reverse=True,
        ):
            if room <= 0:
                break
            take = min(Fraction(1), room / m.price.points)
            total += take * scores[m.id]
            room -= take * m.price.points
        return min(by_slots, int(total))

    def visit(i: int, score: int, points: int, fee: Decimal) -> None:
        if i == len(order):
            key = (
                score,
                -points,
                -fee,
                -len(selected),
                tuple(-p for p in sorted(position[s] for s in selected)),
            )
            if key > best_key[0]:
                best_key[0], best[0] = key, list(selected)
            return
        points_left = None if budget is None else budget - points
        optimistic = (score + bound(i, points_left, slots - len(selected)), -points, -fee, -len(selected))
        if optimistic < best_key[0][:4]:
            return
        m = order[i]
        fits = (
            len(selected) < slots
            and (points_left is None or m.price.points <= points_left)
            and (m.exclusive_group is None or m.exclusive_group not in groups)
            and all(r in selected_set for r in m.requires)
        )
        if fits:
            selected.append(m.id)
            selected_set.add(m.id)
            if m.exclusive_group is not None:
                groups.add(m.exclusive_group)
            visit(i + 1, score + scores[m.id], points + m.price.points, fee + _fee(m))
            if m.exclusive_group is not None:
                groups.discard(m.exclusive_group)
            selected_set.discard(m.id)
            selected.pop()
        visit(i + 1, score, points, fee)

    visit(0, 0, 0, Decimal(0))
    return best[0]


def _prerequisite_first(modules: Sequence[BenefitModule], scores: Mapping[str, int]) -> list[BenefitModule]:
    """Order so every module comes after its prerequisites; higher scores first otherwise."""
    ids = {m.id for m in modules}
    pending = {m.id: {r for r in m.requires if r in ids} for m in modules}
    index = {m.id: i for i, m in enumerate(modules)}
    by_id = {m.id: m for m in modules}
    done: list[BenefitModule] = []
    while pending:
        ready = [mid for mid, reqs in pending.items() if not reqs]
        nxt = min(ready, key=lambda mid: (-scores[mid], index[mid]))
        done.append(by_id[nxt])
        del pending[nxt]
        for reqs in pending.values():
            reqs.discard(nxt)
    return done
