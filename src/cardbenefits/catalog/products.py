"""Card products built from benefit building blocks (权益积木).

A :class:`CardProduct` has *core* benefits every holder gets and :class:`BenefitModule` s the
holder may add, under composition constraints: a number of ``slots`` and/or a ``points_budget``
spent on module prices, exclusive groups (at most one module of a group), prerequisites
(``requires``), segment / tier / eligibility-rule restrictions per module, and sharing of
selected modules with supplementary cards (附属卡权益包).

>>> from cardbenefits.i18n import LocalizedText
>>> text = LocalizedText.from_value
>>> lounge = BenefitModule(id="lounge", name=text("机场贵宾厅"), benefits=("lounge_visit",),
...                        price=ModulePrice(points=3000), shareable=True, affinity={"traveller": 3})
>>> miles = BenefitModule(id="miles_x3", name=text("航空里程加速"), benefits=("miles_3x",),
...                       exclusive_group="miles", requires=("lounge",), base_score=1)
>>> card = CardProduct(id="mid", name=text("职场中坚卡"), core=("cashback_1pct",),
...                    modules=(lounge, miles), slots=2, points_budget=5000)
>>> card.module("miles_x3").requires
('lounge',)
>>> lounge.score({"traveller", "gamer"})
3
>>> card.prerequisite_closure("miles_x3")
('lounge', 'miles_x3')
"""

from __future__ import annotations

import types
from collections.abc import Iterable, Mapping

import attrs

from cardbenefits.catalog.benefits import _check_id, _money, _non_negative
from cardbenefits.catalog.eligibility import Eligibility
from cardbenefits.errors import CatalogError
from cardbenefits.i18n import LocalizedText
from cardbenefits.money import Money

__all__ = ["BenefitModule", "CardProduct", "ModulePrice"]


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _affinity(value: Mapping[str, int]) -> Mapping[str, int]:
    for tag, score in value.items():
        if not isinstance(tag, str) or isinstance(score, bool) or not isinstance(score, int):
            raise CatalogError(
                "affinity maps tags to whole-number scores", path=f"affinity.{tag}", value=score
            )
    return types.MappingProxyType(dict(value))


@attrs.frozen(kw_only=True)
class ModulePrice:
    """What a module costs the holder: an annual ``fee`` and/or ``points`` from the budget.

    >>> ModulePrice().is_free
    True
    """

    fee: Money | None = attrs.field(default=None, validator=_money)
    points: int = attrs.field(default=0, validator=_non_negative)

    @property
    def is_free(self) -> bool:
        """True when the module costs neither a fee nor points."""
        return self.points == 0 and (self.fee is None or self.fee.is_zero())


@attrs.frozen(kw_only=True)
class BenefitModule:
    """An optional block a card holder may add to a product.

    ``segments``/``tiers`` empty means "any"; ``affinity`` and ``base_score`` are the declared
    recommendation score (see :meth:`score`).
    """

    id: str = attrs.field(validator=_check_id)
    name: LocalizedText
    description: LocalizedText | None = None
    benefits: tuple[str, ...] = attrs.field(converter=_strings)
    exclusive_group: str | None = None
    requires: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    segments: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    tiers: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    eligibility: Eligibility | None = None
    price: ModulePrice = attrs.field(factory=ModulePrice)
    shareable: bool = False
    """Whether supplementary cards may share this module."""
    affinity: Mapping[str, int] = attrs.field(factory=dict, converter=_affinity, hash=False)
    base_score: int = 0

    def __attrs_post_init__(self) -> None:
        if not self.benefits:
            raise CatalogError("a module needs at least one benefit", path=f"{self.id}.benefits", value=())
        if self.id in self.requires:
            raise CatalogError("a module cannot require itself", path=f"{self.id}.requires", value=self.id)

    def score(self, tags: Iterable[str]) -> int:
        """``base_score`` plus the affinity of every tag the customer has."""
        return self.base_score + sum(self.affinity.get(tag, 0) for tag in set(tags))


@attrs.frozen(kw_only=True)
class CardProduct:
    """A card product: core benefits plus optional modules and their composition limits.

    ``slots`` caps the number of modules, ``points_budget`` the sum of module point prices,
    ``max_shared`` the number of modules shared with supplementary cards (None: no cap);
    ``tiers`` lists the card tiers of the product (used to check module tier restrictions).
    """

    id: str = attrs.field(validator=_check_id)
    name: LocalizedText
    description: LocalizedText | None = None
    tiers: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    annual_fee: Money | None = attrs.field(default=None, validator=_money)
    core: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    modules: tuple[BenefitModule, ...] = attrs.field(default=(), converter=tuple)
    slots: int | None = attrs.field(default=None, validator=_non_negative)
    points_budget: int | None = attrs.field(default=None, validator=_non_negative)
    max_shared: int | None = attrs.field(default=None, validator=_non_negative)
    _by_id: Mapping[str, BenefitModule] = attrs.field(init=False, eq=False, repr=False, hash=False)

    def __attrs_post_init__(self) -> None:
        by_id: dict[str, BenefitModule] = {}
        for i, module in enumerate(self.modules):
            if module.id in by_id:
                raise CatalogError("duplicate module id", path=f"{self.id}.modules[{i}].id", value=module.id)
            by_id[module.id] = module
        for module in self.modules:
            for req in module.requires:
                if req not in by_id:
                    raise CatalogError(
                        "unknown prerequisite", path=f"{self.id}.{module.id}.requires", value=req
                    )
        object.__setattr__(self, "_by_id", types.MappingProxyType(by_id))
        for module in self.modules:
            cycle = self._cycle_from(module.id)
            if cycle:
                raise CatalogError("prerequisites form a cycle", path=f"{self.id}.{module.id}", value=cycle)

    def _cycle_from(self, start: str) -> tuple[str, ...]:
        stack: list[tuple[str, tuple[str, ...]]] = [(start, (start,))]
        while stack:
            current, trail = stack.pop()
            for req in self._by_id[current].requires:
                if req == start:
                    return (*trail, req)
                if req not in trail:
                    stack.append((req, (*trail, req)))
        return ()

    @property
    def module_ids(self) -> tuple[str, ...]:
        """Module ids in declaration order."""
        return tuple(m.id for m in self.modules)

    def module(self, module_id: str) -> BenefitModule:
        """The module with ``module_id``; raises CatalogError naming the closest id."""
        try:
            return self._by_id[module_id]
        except KeyError:
            from cardbenefits.catalog.issues import closest

            hint = closest(module_id, self._by_id)
            extra = f"; did you mean {hint!r}?" if hint else ""
            raise CatalogError(f"unknown module{extra}", path=f"{self.id}.modules", value=module_id) from None

    def has_module(self, module_id: str) -> bool:
        """Whether the product offers ``module_id``."""
        return module_id in self._by_id

    def prerequisite_closure(self, module_id: str) -> tuple[str, ...]:
        """``module_id`` and everything it needs, transitively, in declaration order."""
        seen: set[str] = set()
        todo = [module_id]
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            todo.extend(self.module(current).requires)
        return tuple(m for m in self.module_ids if m in seen)

    def benefit_ids(self) -> tuple[str, ...]:
        """Every benefit id the product mentions (core and modules), first mention first."""
        ids: dict[str, None] = dict.fromkeys(self.core)
        for module in self.modules:
            ids.update(dict.fromkeys(module.benefits))
        return tuple(ids)
