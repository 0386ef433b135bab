"""Compose a card holder's bundle (权益积木) and explain every refusal.

:func:`compose` checks a requested set of modules against the product's constraints and the
customer, and returns either a :class:`BundleSelection` or a :class:`CompositionRefusal`
listing *every* violated constraint (not only the first), each a :class:`Violation` with a
code, the modules involved and a localized message. A failed eligibility rule carries the
rule's explanation.

Constraints checked: unknown or repeated modules, the number of ``slots``, the
``points_budget``, exclusive groups (at most one module per group), prerequisites
(``requires``), segment / tier / eligibility-rule restrictions, and supplementary-card sharing
(only selected, shareable modules, at most ``max_shared``; a supplementary card cannot choose
modules itself).

>>> from cardbenefits.catalog.loader import load_catalog
>>> from cardbenefits.catalog.eligibility import AT
>>> youth = load_catalog("examples/catalogs/benefits.yaml").product("youth")
>>> gamer = {"id": "c1", "segment": "gen_z", "age": 22, "tags": frozenset({"gamer"}),
...          "card": {"product": "youth", "tier": "standard", "supplementary": False}}
>>> compose(youth, gamer, ["esports_pass", "video_month"], AT).modules
('esports_pass', 'video_month')
>>> refusal = compose(youth, gamer, ["esports_pass", "game_skins", "trend_box", "music_pack"], AT)
>>> [v.code.value for v in refusal.violations]
['slots_exceeded', 'exclusive_group', 'missing_prerequisite', 'tier_restricted']
>>> print(refusal.violations[1].message.get("en"))
Modules esports_pass, game_skins are in exclusive group 'gaming': choose at most one.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import pendulum

from cardbenefits.catalog.issues import closest
from cardbenefits.catalog.products import BenefitModule, CardProduct
from cardbenefits.i18n import LocalizedText
from cardbenefits.money import DEFAULT_CURRENCY, Money
from cardbenefits.rules import Explanation

if TYPE_CHECKING:
    from cardbenefits.facts import CardHolding, Customer

__all__ = [
    "BundleSelection",
    "CompositionRefusal",
    "CompositionResult",
    "Violation",
    "ViolationCode",
    "compose",
    "module_restrictions",
    "record_of",
]


class ViolationCode(enum.StrEnum):
    """Why a requested bundle is refused."""

    UNKNOWN_MODULE = "unknown_module"
    DUPLICATE_MODULE = "duplicate_module"
    WRONG_PRODUCT = "wrong_product"
    SUPPLEMENTARY_CARD = "supplementary_card"
    SLOTS_EXCEEDED = "slots_exceeded"
    POINTS_BUDGET_EXCEEDED = "points_budget_exceeded"
    EXCLUSIVE_GROUP = "exclusive_group"
    MISSING_PREREQUISITE = "missing_prerequisite"
    SEGMENT_RESTRICTED = "segment_restricted"
    TIER_RESTRICTED = "tier_restricted"
    NOT_ELIGIBLE = "not_eligible"
    SHARED_NOT_SELECTED = "shared_not_selected"
    NOT_SHAREABLE = "not_shareable"
    SHARED_LIMIT_EXCEEDED = "shared_limit_exceeded"


@attrs.frozen
class Violation:
    """One violated constraint: ``code``, the ``modules`` involved and a localized ``message``.

    ``explanation`` is set for :attr:`ViolationCode.NOT_ELIGIBLE` (why the rule failed);
    ``limit``/``actual`` for the numeric limits (slots, points budget, sharing).
    """

    code: ViolationCode
    modules: tuple[str, ...]
    message: LocalizedText
    explanation: Explanation | None = attrs.field(default=None, eq=False, repr=False)
    limit: int | None = None
    actual: int | None = None

    def render(self, locale: str = "zh_CN") -> str:
        """The message, followed by the rule explanation when there is one."""
        text = self.message.get(locale)
        if self.explanation is not None:
            text += "\n" + self.explanation.render(locale)
        return text


@attrs.frozen
class BundleSelection:
    """A valid bundle: the selected ``modules`` (product order) and what they cost.

    ``benefits`` lists the core benefits then the modules' benefits (each once); ``shared``
    the modules shared with supplementary cards.
    """

    product: str
    customer: str | None
    modules: tuple[str, ...]
    shared: tuple[str, ...]
    benefits: tuple[str, ...]
    points: int
    fee: Money
    at: pendulum.DateTime

    ok = True

    @property
    def slots_used(self) -> int:
        """How many modules the bundle takes."""
        return len(self.modules)


@attrs.frozen
class CompositionRefusal:
    """A refused bundle: every :class:`Violation`, in the order of the checks."""

    product: str
    customer: str | None
    requested: tuple[str, ...]
    violations: tuple[Violation, ...]
    at: pendulum.DateTime

    ok = False

    @property
    def codes(self) -> tuple[ViolationCode, ...]:
        """The violation codes, in order."""
        return tuple(v.code for v in self.violations)

    def render(self, locale: str = "zh_CN") -> str:
        """All violations as text, one per line (with rule explanations)."""
        return "\n".join(v.render(locale) for v in self.violations)


CompositionResult = BundleSelection | CompositionRefusal
"""What :func:`compose` returns."""


def record_of(
    customer: Customer | Mapping[str, Any], card: CardHolding | None = None, product: str | None = None
) -> Mapping[str, Any]:
    """The rule record of a customer (a ready record is used as it is).

    Without an explicit ``card``, the customer's card of ``product`` is used when there is
    one, else the primary card.
    """
    if isinstance(customer, Mapping):
        record: Mapping[str, Any] = customer
        return record
    from cardbenefits.facts import customer_record

    if card is None and product is not None:
        card = next((c for c in customer.cards if c.product_id == product), None)
    return customer_record(customer, card)


def _text(zh: str, en: str) -> LocalizedText:
    return LocalizedText.from_value({"zh_CN": zh, "en": en})


def _ids(ids: Iterable[str]) -> str:
    return ", ".join(ids)


def module_restrictions(
    module: BenefitModule, record: Mapping[str, Any], at: pendulum.DateTime
) -> list[Violation]:
    """The segment, tier and eligibility-rule violations of one module for ``record``."""
    found: list[Violation] = []
    segment = record.get("segment")
    if module.segments and segment not in module.segments:
        found.append(
            Violation(
                ViolationCode.SEGMENT_RESTRICTED,
                (module.id,),
                _text(
                    f"模块 {module.id} 仅限客群 {_ids(module.segments)}(客户客群:{segment or '未知'})。",
                    f"Module {module.id} is reserved for segments {_ids(module.segments)} "
                    f"(customer segment: {segment or 'unknown'}).",
                ),
            )
        )
    card = record.get("card")
    tier = card.get("tier") if isinstance(card, Mapping) else None
    if module.tiers and tier not in module.tiers:
        found.append(
            Violation(
                ViolationCode.TIER_RESTRICTED,
                (module.id,),
                _text(
                    f"模块 {module.id} 仅限卡等级 {_ids(module.tiers)}(当前等级:{tier or '未知'})。",
                    f"Module {module.id} is reserved for card tiers {_ids(module.tiers)} "
                    f"(card tier: {tier or 'unknown'}).",
                ),
            )
        )
    if module.eligibility is not None and not module.eligibility.holds(record, at):
        found.append(
            Violation(
                ViolationCode.NOT_ELIGIBLE,
                (module.id,),
                _text(
                    f"客户不满足模块 {module.id} 的条件:{module.eligibility.text}",
                    f"The customer does not meet the rule of module {module.id}: {module.eligibility.text}",
                ),
                explanation=module.eligibility.explain(record, at),
            )
        )
    return found


def compose(
    product: CardProduct,
    customer: Customer | Mapping[str, Any],
    modules: Sequence[str],
    at: pendulum.DateTime,
    *,
    card: CardHolding | None = None,
    shared: Sequence[str] = (),
    currency: str = DEFAULT_CURRENCY,
) -> CompositionResult:
    """Check ``modules`` (and ``shared``) for ``customer`` on ``product`` at instant ``at``.

    ``customer`` is a :class:`~cardbenefits.facts.Customer` (its record is built with
    ``card``) or a ready customer record. Returns a :class:`BundleSelection` or a
    :class:`CompositionRefusal` with every violation.
    """
    record = record_of(customer, card, product.id)
    customer_id = record.get("id")
    customer_id = customer_id if isinstance(customer_id, str) else None
    requested = tuple(modules)
    found: list[Violation] = []

    holding = record.get("card")
    if isinstance(holding, Mapping):
        held = holding.get("product")
        if held is not None and held != product.id:
            found.append(
                Violation(
                    ViolationCode.WRONG_PRODUCT,
                    (),
                    _text(
                        f"客户的卡片属于产品 {held},不是 {product.id}。",
                        f"The customer's card is of product {held}, not {product.id}.",
                    ),
                )
            )
        if holding.get("supplementary") and requested:
            found.append(
                Violation(
                    ViolationCode.SUPPLEMENTARY_CARD,
                    requested,
                    _text(
                        "附属卡不能自选权益模块,只能共享主卡的模块。",
                        "A supplementary card cannot choose modules; it shares the primary card's.",
                    ),
                )
            )

    selected: list[str] = []
    for module_id in requested:
        if not product.has_module(module_id):
            hint = closest(module_id, product.module_ids)
            found.append(
                Violation(
                    ViolationCode.UNKNOWN_MODULE,
                    (module_id,),
                    _text(
                        f"产品 {product.id} 没有模块 {module_id}" + (f"(是否为 {hint}?)" if hint else "。"),
                        f"Product {product.id} has no module {module_id}"
                        + (f" (did you mean {hint}?)" if hint else "."),
                    ),
                )
            )
        elif module_id in selected:
            found.append(
                Violation(
                    ViolationCode.DUPLICATE_MODULE,
                    (module_id,),
                    _text(f"模块 {module_id} 重复选择。", f"Module {module_id} is selected more than once."),
                )
            )
        else:
            selected.append(module_id)
    chosen = [m for m in product.modules if m.id in selected]
    ids = tuple(m.id for m in chosen)

    if product.slots is not None and len(chosen) > product.slots:
        found.append(
            Violation(
                ViolationCode.SLOTS_EXCEEDED,
                ids,
                _text(
                    f"最多可选 {product.slots} 个模块,已选 {len(chosen)} 个。",
                    f"At most {product.slots} modules may be chosen; {len(chosen)} were.",
                ),
                limit=product.slots,
                actual=len(chosen),
            )
        )
    points = sum(m.price.points for m in chosen)
    if product.points_budget is not None and points > product.points_budget:
        found.append(
            Violation(
                ViolationCode.POINTS_BUDGET_EXCEEDED,
                tuple(m.id for m in chosen if m.price.points),
                _text(
                    f"模块共需 {points} 点,超出 {product.points_budget} 点的预算。",
                    f"The modules cost {points} points, over the budget of {product.points_budget}.",
                ),
                limit=product.points_budget,
                actual=points,
            )
        )
    groups: dict[str, list[str]] = {}
    for m in chosen:
        if m.exclusive_group is not None:
            groups.setdefault(m.exclusive_group, []).append(m.id)
    for group, members in groups.items():
        if len(members) > 1:
            found.append(
                Violation(
                    ViolationCode.EXCLUSIVE_GROUP,
                    tuple(members),
                    _text(
                        f"模块 {_ids(members)} 属于互斥组 '{group}',最多选择一个。",
                        f"Modules {_ids(members)} are in exclusive group '{group}': choose at most one.",
                    ),
                )
            )
    for m in chosen:
        missing = tuple(r for r in m.requires if r not in selected)
        if missing:
            found.append(
                Violation(
                    ViolationCode.MISSING_PREREQUISITE,
                    (m.id, *missing),
                    _text(
                        f"模块 {m.id} 需要先选择 {_ids(missing)}。",
                        f"Module {m.id} requires {_ids(missing)}.",
                    ),
                )
            )
    for m in chosen:
        found.extend(module_restrictions(m, record, at))

    shared_ids = tuple(shared)
    for module_id in shared_ids:
        if module_id not in selected:
            found.append(
                Violation(
                    ViolationCode.SHARED_NOT_SELECTED,
                    (module_id,),
                    _text(
                        f"共享的模块 {module_id} 未被选择。",
                        f"Shared module {module_id} is not in the bundle.",
                    ),
                )
            )
        elif not product.module(module_id).shareable:
            found.append(
                Violation(
                    ViolationCode.NOT_SHAREABLE,
                    (module_id,),
                    _text(
                        f"模块 {module_id} 不能与附属卡共享。",
                        f"Module {module_id} cannot be shared with supplementary cards.",
                    ),
                )
            )
    distinct_shared = tuple(dict.fromkeys(shared_ids))
    if product.max_shared is not None and len(distinct_shared) > product.max_shared:
        found.append(
            Violation(
                ViolationCode.SHARED_LIMIT_EXCEEDED,
                distinct_shared,
                _text(
                    f"最多共享 {product.max_shared} 个模块,请求共享 {len(distinct_shared)} 个。",
                    f"At most {product.max_shared} modules may be shared; {len(distinct_shared)} were.",
                ),
                limit=product.max_shared,
                actual=len(distinct_shared),
            )
        )

    if found:
        return CompositionRefusal(product.id, customer_id, requested, tuple(found), at)
    fees = [m.price.fee for m in chosen if m.price.fee is not None]
    fee = sum(fees[1:], fees[0]) if fees else Money.zero(currency)
    benefits = dict.fromkeys(product.core)
    for m in chosen:
        benefits.update(dict.fromkeys(m.benefits))
    return BundleSelection(
        product=product.id,
        customer=customer_id,
        modules=ids,
        shared=tuple(m for m in ids if m in distinct_shared),
        benefits=tuple(benefits),
        points=points,
        fee=fee,
        at=at,
    )
