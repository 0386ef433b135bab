"""Catalog file sections for coupons: ``coupon_templates``, ``coupon_pools``, ``checkout_rules``.

The sections register when this module is imported; the catalog imports it the first time it
lists its sections (``cardbenefits.catalog.sections.SECTION_MODULES``), so every loaded catalog
knows them. Items are strict like the rest of the file (unknown keys refused, amounts as text,
rules parsed against the catalog's field schema) and every error names its path:

- ``coupon_templates[i]`` — ``id``, ``name`` (localized text), ``effect`` chosen by ``kind``
  (``threshold_discount`` {threshold, discount}, ``instant_discount`` {discount, min_spend},
  ``percent_off`` {percent, cap, min_spend, rounding}, ``cashback`` {amount, min_spend},
  ``multiplier`` {asset, factor, min_spend, estimated_value}, ``gift`` {description,
  min_spend, estimated_value}), ``scope`` (``merchants``, ``mccs``, ``exclude_mccs``,
  ``channels``, ``card_products`` — ids of ``products`` — and ``regions``), ``validity``
  (``starts_at``/``ends_at``/``days``), ``windows`` (``weekdays``, ``start``, ``end``: local
  ``"HH:MM"``, ``"24:00"`` allowed), ``stacking``, ``threshold_basis``, ``on_refund``,
  ``eligibility`` and ``timezone`` (default: the catalog's);
- ``coupon_pools[i]`` — ``id``, ``template`` (an id of ``coupon_templates``), ``total_stock``,
  ``daily_stock``, ``per_customer``, ``per_customer_daily``, ``opens_at``, ``closes_at`` and
  ``timezone`` (default: the catalog's; daily stock resets at its midnight);
- ``checkout_rules[i]`` — a named :class:`~cardbenefits.coupons.checkout.StackingRules`:
  ``max_coupons``, ``group_limits`` (each a stacking group some template uses) and
  ``default_group_limit``.

A benefit of ``kind: voucher`` may name a template in ``coupon_template``.

>>> from cardbenefits.catalog import dumps, loads
>>> text = '''
... id: demo
... version: "1"
... coupon_templates:
...   - id: wed50
...     name: {zh_CN: 周三五折, en: Half price on Wednesdays}
...     effect: {kind: percent_off, percent: 50, cap: "30"}
...     scope: {mccs: ["5812", "5814"]}
...     validity: {days: 7}
...     windows: [{weekdays: [3]}]
...     stacking: {group: bank}
... coupon_pools:
...   - {id: wed50-nov, template: wed5O, daily_stock: 0}
... checkout_rules:
...   - {id: default, max_coupons: 2, group_limits: {bnak: 1}}
... '''
>>> loads(text)
Traceback (most recent call last):
  ...
cardbenefits.catalog.issues.CatalogValidationError: catalog has 3 errors:
  coupon_pools[0].daily_stock: Input should be greater than 0 (got 0)
  coupon_pools[0].template: unknown coupon_template id (got 'wed5O'; did you mean 'wed50'?)
  checkout_rules[0].group_limits.bnak: no template uses this stacking group (got 'bnak'; did you mean 'bank'?)
>>> catalog = loads(text.replace("wed5O", "wed50").replace("daily_stock: 0", "daily_stock: 500")
...                     .replace("bnak", "bank"))
>>> tpl = catalog.section("coupon_templates")["wed50"]
>>> tpl.effect.discount_for(Money.of("80.00")), tpl.windows[0].explain()
(Money('30', 'CNY'), 'every Wed 00:00–24:00 (Asia/Shanghai)')
>>> stacking_rules(catalog).limit("bank")
1
>>> loads(dumps(catalog)) == catalog
True
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
    model_serializer,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from cardbenefits.catalog.eligibility import Eligibility
from cardbenefits.catalog.files import (
    DEFAULT_TIMEZONE,
    DecimalValue,
    FileModel,
    Id,
    InstantValue,
    MoneyValue,
    RuleValue,
    TextValue,
)
from cardbenefits.catalog.issues import CatalogIssue, closest, format_path
from cardbenefits.catalog.model import Catalog
from cardbenefits.catalog.sections import (
    CheckContext,
    Ref,
    Section,
    discriminator_tags,
    register_check,
    register_section,
)
from cardbenefits.clock import check_timezone
from cardbenefits.coupons.checkout import StackingRules
from cardbenefits.coupons.pools import CouponPool
from cardbenefits.coupons.templates import (
    CouponCashback,
    CouponEffect,
    CouponScope,
    CouponTemplate,
    Gift,
    InstantDiscount,
    PercentOff,
    PointsMultiplier,
    ReturnPolicy,
    Stacking,
    ThresholdBasis,
    ThresholdDiscount,
    Validity,
)
from cardbenefits.errors import CardBenefitsError, CatalogError
from cardbenefits.money import DEFAULT_CURRENCY, Money, Rounding
from cardbenefits.windows import RecurringWindow

__all__ = [
    "CashbackEffectFile",
    "CheckoutRulesFile",
    "CouponEffectItem",
    "CouponPoolFile",
    "CouponScopeFile",
    "CouponTemplateFile",
    "CouponValidityFile",
    "GiftEffectFile",
    "InstantDiscountFile",
    "MultiplierEffectFile",
    "PercentOffFile",
    "StackingFile",
    "ThresholdDiscountFile",
    "UsageWindowFile",
    "coupon_pools",
    "coupon_templates",
    "stacking_rules",
]


def _pattern(regex: str, kind: str, message: str) -> AfterValidator:
    # A custom error: the loader words a plain pattern mismatch as a bad *id*.
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise PydanticCustomError(kind, message)
        return value

    return AfterValidator(check)


Mcc = Annotated[
    str,
    _pattern(r"[0-9]{4}", "mcc", "an MCC is 4 digits such as '5812'"),
    WithJsonSchema({"type": "string", "pattern": "^[0-9]{4}$"}),
]
# Spelled out for type checkers; tests check they list every Channel and Rounding value.
ChannelName = Literal["wechat_pay", "alipay", "unionpay_quickpass", "pos", "online", "atm", "app", "branch"]
RoundingName = Literal["half_up", "half_even", "half_down", "down", "up", "floor", "ceiling"]
Text = Annotated[str, StringConstraints(min_length=1)]
TimeOfDay = Annotated[
    str,
    _pattern(
        r"([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?|24:00",
        "time_of_day",
        "expected a local time such as '09:30' or '24:00'",
    ),
    WithJsonSchema({"type": "string", "pattern": r"^(([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?|24:00)$"}),
]
Weekday = Annotated[int, Field(ge=1, le=7)]
PositiveInt = Annotated[int, Field(gt=0)]
ProductRef = Annotated[str, Ref("products")]
TemplateRef = Annotated[str, Ref("coupon_templates")]

_ALL_WEEKDAYS = (1, 2, 3, 4, 5, 6, 7)


def _context(info: ValidationInfo | SerializationInfo) -> Mapping[str, Any]:
    ctx = info.context
    return ctx if isinstance(ctx, Mapping) else {}


# -- values that default from the catalog -----------------------------------------------------
def _zero_if_none(value: Money | None, info: ValidationInfo) -> Money:
    # "No minimum spend" is zero in the catalog currency, so a percent coupon of an HKD catalog
    # is an HKD coupon even though none of its amounts says so.
    if value is not None:
        return value
    return Money.zero(str(_context(info).get("currency", DEFAULT_CURRENCY)))


OptionalMoney = Annotated[MoneyValue | None, AfterValidator(_zero_if_none)]
"""An amount that defaults to zero in the catalog currency (declare with ``validate_default``)."""


def _zone(value: str | None, info: ValidationInfo) -> str:
    if value is None:
        return str(_context(info).get("timezone", DEFAULT_TIMEZONE))
    try:
        return check_timezone(value)
    except CardBenefitsError:
        raise PydanticCustomError("timezone", "unknown time zone") from None


Zone = Annotated[str | None, AfterValidator(_zone)]
"""An IANA zone name that defaults to the catalog's (declare with ``validate_default``)."""


def _omit_zero(value: Money) -> Money | None:
    return None if value.is_zero() else value


def _time_text(value: _dt.time) -> str:
    text = f"{value.hour:02d}:{value.minute:02d}"
    return f"{text}:{value.second:02d}" if value.second else text


# -- effects ----------------------------------------------------------------------------------
class ThresholdDiscountFile(FileModel):
    """``kind: threshold_discount`` (满减): spend at least ``threshold``, get ``discount`` off.

    The key is ``discount``, not the domain's ``off``: YAML reads a bare ``off`` as ``false``.
    """

    kind: Literal["threshold_discount"]
    threshold: MoneyValue
    discount: MoneyValue

    def to_domain(self) -> ThresholdDiscount:
        """The :class:`~cardbenefits.coupons.templates.ThresholdDiscount`."""
        return ThresholdDiscount(self.threshold, self.discount)


class InstantDiscountFile(FileModel):
    """``kind: instant_discount`` (立减金): ``discount`` off, above an optional ``min_spend``."""

    kind: Literal["instant_discount"]
    discount: MoneyValue
    min_spend: OptionalMoney = Field(default=None, validate_default=True)

    def to_domain(self) -> InstantDiscount:
        """The :class:`~cardbenefits.coupons.templates.InstantDiscount`."""
        assert self.min_spend is not None  # filled by validation
        return InstantDiscount(self.discount, self.min_spend)


class PercentOffFile(FileModel):
    """``kind: percent_off``: ``percent`` off, at most ``cap``, rounded to the fen by ``rounding``."""

    kind: Literal["percent_off"]
    percent: DecimalValue
    cap: MoneyValue | None = None
    min_spend: OptionalMoney = Field(default=None, validate_default=True)
    rounding: RoundingName = Rounding.HALF_UP.value

    def to_domain(self) -> PercentOff:
        """The :class:`~cardbenefits.coupons.templates.PercentOff`."""
        assert self.min_spend is not None
        return PercentOff(self.percent, self.cap, self.min_spend, Rounding(self.rounding))


class CashbackEffectFile(FileModel):
    """``kind: cashback`` (返现券): ``amount`` credited after a payment of at least ``min_spend``."""

    kind: Literal["cashback"]
    amount: MoneyValue
    min_spend: OptionalMoney = Field(default=None, validate_default=True)

    def to_domain(self) -> CouponCashback:
        """The :class:`~cardbenefits.coupons.templates.CouponCashback`."""
        assert self.min_spend is not None
        return CouponCashback(self.amount, self.min_spend)


class MultiplierEffectFile(FileModel):
    """``kind: multiplier`` (加倍券): ``factor`` times the usual ``points`` or ``miles``.

    ``estimated_value`` is what checkout counts the coupon as worth to the customer.
    """

    kind: Literal["multiplier"]
    asset: Literal["points", "miles"]
    factor: DecimalValue
    min_spend: OptionalMoney = Field(default=None, validate_default=True)
    estimated_value: OptionalMoney = Field(default=None, validate_default=True)

    def to_domain(self) -> PointsMultiplier:
        """The :class:`~cardbenefits.coupons.templates.PointsMultiplier`."""
        assert self.min_spend is not None
        assert self.estimated_value is not None
        return PointsMultiplier(self.asset, self.factor, self.min_spend, self.estimated_value)


class GiftEffectFile(FileModel):
    """``kind: gift`` (礼品券): a membership, service or goods described by ``description``."""

    kind: Literal["gift"]
    description: Text
    min_spend: OptionalMoney = Field(default=None, validate_default=True)
    estimated_value: OptionalMoney = Field(default=None, validate_default=True)

    def to_domain(self) -> Gift:
        """The :class:`~cardbenefits.coupons.templates.Gift`."""
        assert self.min_spend is not None
        assert self.estimated_value is not None
        return Gift(self.description, self.min_spend, self.estimated_value)


_EffectFile = (
    ThresholdDiscountFile
    | InstantDiscountFile
    | PercentOffFile
    | CashbackEffectFile
    | MultiplierEffectFile
    | GiftEffectFile
)
_EFFECT_TAGS = frozenset(
    {"threshold_discount", "instant_discount", "percent_off", "cashback", "multiplier", "gift"}
)


def _untagged(value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
    """Drop the ``kind`` tag pydantic puts in error locations (``effect.off``, not
    ``effect.threshold_discount.off``): paths in a catalog error name keys of the file."""
    try:
        return handler(value)
    except ValidationError as err:
        details: list[InitErrorDetails] = []
        for e in err.errors(include_url=False):
            loc = e["loc"]
            if loc and loc[0] in _EFFECT_TAGS:
                loc = loc[1:]
            ctx = e.get("ctx")
            error = PydanticCustomError(e["type"], e["msg"].replace("{", "{{").replace("}", "}}"), ctx)
            details.append({"type": error, "loc": loc, "input": e["input"]})
        raise ValidationError.from_exception_data(err.title, details) from None


CouponEffectItem = Annotated[_EffectFile, Field(discriminator="kind"), WrapValidator(_untagged)]
"""``effect:`` of a coupon template, chosen by its ``kind``."""


def _effect_file(effect: CouponEffect) -> BaseModel:
    if isinstance(effect, ThresholdDiscount):
        return ThresholdDiscountFile.model_construct(
            kind="threshold_discount", threshold=effect.threshold, discount=effect.off
        )
    if isinstance(effect, InstantDiscount):
        return InstantDiscountFile.model_construct(
            kind="instant_discount", discount=effect.off, min_spend=_omit_zero(effect.min_spend)
        )
    if isinstance(effect, PercentOff):
        return PercentOffFile.model_construct(
            kind="percent_off",
            percent=effect.percent,
            cap=effect.cap,
            min_spend=_omit_zero(effect.min_spend),
            rounding=effect.rounding.value,
        )
    if isinstance(effect, CouponCashback):
        return CashbackEffectFile.model_construct(
            kind="cashback", amount=effect.amount, min_spend=_omit_zero(effect.min_spend)
        )
    if isinstance(effect, PointsMultiplier):
        return MultiplierEffectFile.model_construct(
            kind="multiplier",
            asset=effect.asset,
            factor=effect.factor,
            min_spend=_omit_zero(effect.min_spend),
            estimated_value=_omit_zero(effect.estimated_value),
        )
    return GiftEffectFile.model_construct(
        kind="gift",
        description=effect.description,
        min_spend=_omit_zero(effect.min_spend),
        estimated_value=_omit_zero(effect.estimated_value),
    )


# -- template parts ---------------------------------------------------------------------------
class CouponScopeFile(FileModel):
    """``scope:`` — where the coupon may be used; an empty list means "any"."""

    merchants: list[Text] = Field(default_factory=list)
    mccs: list[Mcc] = Field(default_factory=list)
    exclude_mccs: list[Mcc] = Field(default_factory=list)
    channels: list[ChannelName] = Field(default_factory=list)
    card_products: list[ProductRef] = Field(default_factory=list)
    regions: list[Text] = Field(default_factory=list)

    def to_domain(self) -> CouponScope:
        """The :class:`~cardbenefits.coupons.templates.CouponScope`."""
        return CouponScope(
            merchants=frozenset(self.merchants),
            mccs=frozenset(self.mccs),
            exclude_mccs=frozenset(self.exclude_mccs),
            channels=frozenset(self.channels),
            card_products=frozenset(self.card_products),
            regions=frozenset(self.regions),
        )

    @classmethod
    def of(cls, scope: CouponScope) -> CouponScopeFile:
        """The file form of ``scope`` (lists sorted)."""
        return cls.model_construct(
            merchants=sorted(scope.merchants),
            mccs=sorted(scope.mccs),
            exclude_mccs=sorted(scope.exclude_mccs),
            channels=sorted(c.value for c in scope.channels),
            card_products=sorted(scope.card_products),
            regions=sorted(scope.regions),
        )


class CouponValidityFile(FileModel):
    """``validity:`` — fixed ``starts_at``/``ends_at`` and/or ``days`` after issue (at least one end)."""

    starts_at: InstantValue | None = None
    ends_at: InstantValue | None = None
    days: PositiveInt | None = None

    def to_domain(self) -> Validity:
        """The :class:`~cardbenefits.coupons.templates.Validity`."""
        return Validity(self.starts_at, self.ends_at, self.days)

    @classmethod
    def of(cls, validity: Validity) -> CouponValidityFile:
        """The file form of ``validity``."""
        return cls.model_construct(starts_at=validity.starts_at, ends_at=validity.ends_at, days=validity.days)


class UsageWindowFile(FileModel):
    """``windows[i]`` — ISO ``weekdays`` (default every day) from ``start`` to ``end``, local time.

    ``end`` not after ``start`` runs past midnight; ``"24:00"`` is the next midnight.
    ``timezone`` defaults to the template's.
    """

    weekdays: Annotated[list[Weekday], Field(min_length=1)] = Field(default_factory=lambda: [*_ALL_WEEKDAYS])
    start: TimeOfDay = "00:00"
    end: TimeOfDay = "24:00"
    timezone: str | None = None

    def build(self, timezone: str) -> RecurringWindow:
        """The :class:`~cardbenefits.windows.RecurringWindow`, in ``timezone`` unless it names one."""
        return RecurringWindow(frozenset(self.weekdays), self.start, self.end, self.timezone or timezone)

    @classmethod
    def of(cls, window: RecurringWindow, timezone: str) -> UsageWindowFile:
        """The file form of ``window`` in a template of ``timezone``."""
        end = "24:00" if window.end_time == _dt.time(0) else _time_text(window.end_time)
        return cls.model_construct(
            weekdays=sorted(window.weekdays),
            start=_time_text(window.start_time),
            end=end,
            timezone=None if window.tz == timezone else window.tz,
        )


class StackingFile(FileModel):
    """``stacking:`` — stacking ``group``, application ``priority``, ``alone``, ``max_per_payment``."""

    group: Text = "default"
    priority: int = 100
    alone: bool = False
    max_per_payment: PositiveInt = 1

    def to_domain(self) -> Stacking:
        """The :class:`~cardbenefits.coupons.templates.Stacking`."""
        return Stacking(self.group, self.priority, self.alone, self.max_per_payment)

    @classmethod
    def of(cls, stacking: Stacking) -> StackingFile:
        """The file form of ``stacking``."""
        return cls.model_construct(
            group=stacking.group,
            priority=stacking.priority,
            alone=stacking.alone,
            max_per_payment=stacking.max_per_payment,
        )


class _ZoneDefault(FileModel):
    """Leaves ``timezone`` out of a dump when it is the catalog's (the default it was read with)."""

    @model_serializer(mode="wrap")
    def _drop_catalog_zone(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        data = handler(self)
        if isinstance(data, dict) and data.get("timezone") == _context(info).get(
            "timezone", DEFAULT_TIMEZONE
        ):
            del data["timezone"]
        return data


class CouponTemplateFile(_ZoneDefault):
    """One entry of ``coupon_templates:`` (see the module docstring for the keys)."""

    id: Id
    name: TextValue
    effect: CouponEffectItem
    scope: CouponScopeFile = CouponScopeFile()
    validity: CouponValidityFile
    windows: list[UsageWindowFile] = Field(default_factory=list)
    stacking: StackingFile = StackingFile()
    threshold_basis: Literal["remaining", "original"] = "remaining"
    on_refund: Literal["return_if_valid", "always", "never"] = "return_if_valid"
    eligibility: RuleValue | None = None
    timezone: Zone = Field(default=None, validate_default=True)

    def to_domain(self) -> CouponTemplate:
        """The :class:`~cardbenefits.coupons.templates.CouponTemplate`.

        Raises :class:`~cardbenefits.errors.CatalogError` with a path relative to the item
        (``effect.off``, ``windows[1].weekdays``) when a domain rule is broken.
        """
        zone = self.timezone or DEFAULT_TIMEZONE
        windows = []
        for j, window in enumerate(self.windows):
            try:
                windows.append(window.build(zone))
            except CardBenefitsError as err:
                where = f"windows[{j}].{err.path}" if err.path else f"windows[{j}]"
                raise CatalogError(err.message, path=where, value=err.value) from None
        return CouponTemplate(
            id=self.id,
            name=self.name,
            effect=self.effect.to_domain(),
            scope=self.scope.to_domain(),
            validity=self.validity.to_domain(),
            windows=windows,
            stacking=self.stacking.to_domain(),
            threshold_basis=ThresholdBasis(self.threshold_basis),
            on_refund=ReturnPolicy(self.on_refund),
            eligibility=None if self.eligibility is None else self.eligibility.rule,
            timezone=zone,
        )

    @classmethod
    def of(cls, template: CouponTemplate) -> CouponTemplateFile:
        """The file form of ``template``."""
        rule = template.eligibility
        return cls.model_construct(
            id=template.id,
            name=template.name,
            effect=_effect_file(template.effect),
            scope=CouponScopeFile.of(template.scope),
            validity=CouponValidityFile.of(template.validity),
            windows=[UsageWindowFile.of(w, template.timezone) for w in template.windows],
            stacking=StackingFile.of(template.stacking),
            threshold_basis=template.threshold_basis.value,
            on_refund=template.on_refund.value,
            eligibility=None if rule is None else Eligibility(rule.text, rule),
            timezone=template.timezone,
        )


class CouponPoolFile(_ZoneDefault):
    """One entry of ``coupon_pools:`` — stock of one ``template``; absent limits are unlimited."""

    id: Id
    template: TemplateRef
    total_stock: PositiveInt | None = None
    daily_stock: PositiveInt | None = None
    per_customer: PositiveInt | None = None
    per_customer_daily: PositiveInt | None = None
    opens_at: InstantValue | None = None
    closes_at: InstantValue | None = None
    timezone: Zone = Field(default=None, validate_default=True)

    def to_domain(self) -> CouponPool:
        """The :class:`~cardbenefits.coupons.pools.CouponPool`."""
        return CouponPool(
            id=self.id,
            template_id=self.template,
            total_stock=self.total_stock,
            daily_stock=self.daily_stock,
            per_customer=self.per_customer,
            per_customer_daily=self.per_customer_daily,
            opens_at=self.opens_at,
            closes_at=self.closes_at,
            timezone=self.timezone or DEFAULT_TIMEZONE,
        )

    @classmethod
    def of(cls, pool: CouponPool) -> CouponPoolFile:
        """The file form of ``pool``."""
        return cls.model_construct(
            id=pool.id,
            template=pool.template_id,
            total_stock=pool.total_stock,
            daily_stock=pool.daily_stock,
            per_customer=pool.per_customer,
            per_customer_daily=pool.per_customer_daily,
            opens_at=pool.opens_at,
            closes_at=pool.closes_at,
            timezone=pool.timezone,
        )


class CheckoutRulesFile(FileModel):
    """One entry of ``checkout_rules:`` — a named stacking policy (叠加规则) for checkout."""

    id: Id
    max_coupons: PositiveInt = 3
    group_limits: dict[Text, PositiveInt] = Field(default_factory=dict)
    default_group_limit: PositiveInt = 1

    def to_domain(self) -> StackingRules:
        """The :class:`~cardbenefits.coupons.checkout.StackingRules`."""
        return StackingRules(self.max_coupons, self.group_limits, self.default_group_limit, self.id)

    @classmethod
    def of(cls, rules: StackingRules) -> CheckoutRulesFile:
        """The file form of ``rules``."""
        return cls.model_construct(
            id=rules.id,
            max_coupons=rules.max_coupons,
            group_limits=dict(rules.group_limits),
            default_group_limit=rules.default_group_limit,
        )


# -- registration -----------------------------------------------------------------------------
register_section(
    Section(
        key="coupon_templates",
        item_type=CouponTemplateFile,
        to_domain=lambda model: model.to_domain(),
        to_file=CouponTemplateFile.of,
        description="Coupon templates (电子票券): effect, scope, validity, usage windows, stacking.",
        order=30,
        # Not item tags: the effect's kinds, so an unknown effect kind gets a suggestion.
        tags=discriminator_tags(_EffectFile) | _EFFECT_TAGS,
    )
)
register_section(
    Section(
        key="coupon_pools",
        item_type=CouponPoolFile,
        to_domain=lambda model: model.to_domain(),
        to_file=CouponPoolFile.of,
        description="Coupon pools (电子票券池): stock and per-customer caps of one template.",
        order=31,
    )
)
register_section(
    Section(
        key="checkout_rules",
        item_type=CheckoutRulesFile,
        to_domain=lambda model: model.to_domain(),
        to_file=CheckoutRulesFile.of,
        description="Stacking policies for checkout (叠加规则).",
        order=32,
    )
)


def _domain_issues(key: str, index: int, model: FileModel) -> Iterator[CatalogIssue]:
    """The domain rules an item breaks, with the domain error's path under the item's."""
    try:
        model.to_domain()
    except CardBenefitsError as err:
        base = format_path([key, index])
        yield CatalogIssue(f"{base}.{err.path}" if err.path else base, err.message, err.value)


def _check_coupons(ctx: CheckContext) -> Iterator[CatalogIssue]:
    """Domain invariants of templates, pools and checkout rules; group limits name used groups."""
    groups: set[str] = set()
    for i, template in ctx.items.get("coupon_templates", ()):
        # The catalog's own tests may stand a different model in for this section.
        if isinstance(template, CouponTemplateFile):
            groups.add(template.stacking.group)
            yield from _domain_issues("coupon_templates", i, template)
    for i, pool in ctx.items.get("coupon_pools", ()):
        if isinstance(pool, CouponPoolFile):
            yield from _domain_issues("coupon_pools", i, pool)
    # Groups are known only when every template validated (else its group may be the one named).
    all_groups_known = len(ctx.items.get("coupon_templates", ())) >= len(ctx.ids.get("coupon_templates", ()))
    for i, rules in ctx.items.get("checkout_rules", ()):
        if not isinstance(rules, CheckoutRulesFile):
            continue
        yield from _domain_issues("checkout_rules", i, rules)
        for group in rules.group_limits if all_groups_known else ():
            if group not in groups:
                yield CatalogIssue(
                    format_path(["checkout_rules", i, "group_limits", group]),
                    "no template uses this stacking group",
                    group,
                    closest(group, groups),
                )


register_check(_check_coupons)


# -- reading a loaded catalog -----------------------------------------------------------------
def coupon_templates(catalog: Catalog) -> Mapping[str, CouponTemplate]:
    """The catalog's coupon templates by id (what :meth:`Wallet.from_ledger` takes)."""
    found: Mapping[str, CouponTemplate] = catalog.section("coupon_templates")
    return found


def coupon_pools(catalog: Catalog) -> Mapping[str, CouponPool]:
    """The catalog's coupon pools by id."""
    found: Mapping[str, CouponPool] = catalog.section("coupon_pools")
    return found


def stacking_rules(catalog: Catalog, rules_id: str = "default") -> StackingRules:
    """The catalog's checkout rules ``rules_id``; :class:`StackingRules` defaults when the
    catalog has no ``checkout_rules`` section at all (an unknown id is an error)."""
    found: Mapping[str, StackingRules] = catalog.section("checkout_rules")
    if not found:
        return StackingRules()
    try:
        return found[rules_id]
    except KeyError:
        hint = closest(rules_id, found)
        extra = f"; did you mean {hint!r}?" if hint else ""
        raise CatalogError(f"unknown checkout rules{extra}", path="checkout_rules", value=rules_id) from None
