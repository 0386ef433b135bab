"""The catalog file format: pydantic models that parse YAML/JSON and build domain objects.

Models forbid unknown keys and are strict (no silent type coercion). Values with a domain type
use annotated types that parse straight into it: :data:`MoneyValue` (``"9.90"`` or
``"9.90 USD"``; a bare float is refused so no amount ever passes through binary floating
point), :data:`DecimalValue`, :data:`TextValue` (a string or ``{zh_CN:, zh_Hant:, en:}``),
:data:`InstantValue` (ISO date/time, read in the catalog time zone) and :data:`RuleValue`
(rule text parsed against the catalog's field schema). Parsing reads the catalog's currency,
time zone and schema from the pydantic validation *context*.

>>> from pydantic import TypeAdapter
>>> from cardbenefits.rules import default_schema
>>> ctx = {"currency": "CNY", "timezone": "Asia/Shanghai", "schema": default_schema()}
>>> item = TypeAdapter(BenefitItem).validate_python(
...     {"id": "cb5", "kind": "cashback", "name": "小额返现", "amount": "5", "min_spend": "50"}, context=ctx)
>>> item.to_domain()
Cashback(id='cb5', name=..., amount=Money('5', 'CNY'), cap=None, min_spend=Money('50', 'CNY'))
>>> TypeAdapter(BenefitItem).validate_python(
...     {"id": "cb5", "kind": "cashback", "name": "x", "amount": 5.5}, context=ctx)
Traceback (most recent call last):
  ...
pydantic_core._pydantic_core.ValidationError: 1 validation error for tagged-union[...]
cashback.amount
  write amounts as text such as "5.5" (a float cannot hold fen exactly) ...
"""

from __future__ import annotations

import datetime as dt
import enum
import types
from collections.abc import Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, ClassVar, Literal

import attrs
import pendulum
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    SerializationInfo,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from cardbenefits.catalog.benefits import (
    ID_PATTERN,
    Benefit,
    Cashback,
    FeeWaiver,
    Gift,
    InstalmentDiscount,
    Insurance,
    Membership,
    Miles,
    Points,
    Service,
    Validity,
    Voucher,
)
from cardbenefits.catalog.eligibility import Eligibility
from cardbenefits.catalog.issues import CatalogIssue, format_path
from cardbenefits.catalog.products import BenefitModule, CardProduct, ModulePrice
from cardbenefits.catalog.sections import (
    CheckContext,
    Ref,
    Section,
    discriminator_tags,
    register_check,
    register_section,
)
from cardbenefits.errors import MISSING, CardBenefitsError, RuleError
from cardbenefits.i18n import LocalizedText
from cardbenefits.money import DEFAULT_CURRENCY, Money
from cardbenefits.rules import FieldSchema, FieldSpec, FieldType, default_schema

__all__ = [
    "DEFAULT_TIMEZONE",
    "BenefitItem",
    "DecimalValue",
    "FieldSpecValue",
    "FileModel",
    "HeaderFile",
    "Id",
    "InstantValue",
    "ModuleFile",
    "MoneyValue",
    "PriceFile",
    "ProductFile",
    "RuleValue",
    "TextValue",
    "ValidityFile",
]

#: The catalog time zone unless the file says otherwise.
DEFAULT_TIMEZONE = "Asia/Shanghai"


def _context(info: ValidationInfo | SerializationInfo) -> Mapping[str, Any]:
    ctx = info.context
    return ctx if isinstance(ctx, Mapping) else {}


# -- money ----------------------------------------------------------------------------------
def _parse_money(value: Any, info: ValidationInfo) -> Money:
    if isinstance(value, Money):
        return value
    currency = str(_context(info).get("currency", DEFAULT_CURRENCY))
    if isinstance(value, float):
        raise PydanticCustomError(
            "money_float",
            'write amounts as text such as "{text}" (a float cannot hold fen exactly)',
            {"text": repr(value)},
        )
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PydanticCustomError("money_type", 'expected an amount such as "9.90" or "9.90 USD"')
    text = str(value).strip()
    parts = text.split()
    if len(parts) == 2 and parts[1].isalpha():
        text, currency = parts[0], parts[1]
    try:
        return Money.of(text, currency)
    except CardBenefitsError as err:
        raise PydanticCustomError("money", "{reason}", {"reason": err.message}) from None


def _dump_money(value: Money, info: SerializationInfo) -> str:
    if value.currency == _context(info).get("currency", DEFAULT_CURRENCY):
        return str(value.amount)
    return f"{value.amount} {value.currency}"


MoneyValue = Annotated[
    Money,
    PlainValidator(_parse_money),
    PlainSerializer(_dump_money, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?( [A-Z]{3})?$"},
                {"type": "integer"},
            ],
            "description": 'An amount in the catalog currency ("9.90") or with a currency code ("9.90 USD").',
        }
    ),
]
"""An amount: ``"9.90"`` (catalog currency), ``"9.90 USD"`` or an int; never a float."""


# -- decimals -------------------------------------------------------------------------------
def _parse_decimal(value: Any, info: ValidationInfo) -> Decimal:
    if isinstance(value, bool):
        raise PydanticCustomError("decimal_type", "expected a number")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, float):
        # YAML has no decimal type: 1.5 arrives as a float; its shortest repr is what was written.
        result = Decimal(repr(value))
    elif isinstance(value, int | str):
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation:
            raise PydanticCustomError("decimal", "not a decimal number") from None
    else:
        raise PydanticCustomError("decimal_type", "expected a number")
    if not result.is_finite():
        raise PydanticCustomError("decimal", "a number must be finite")
    return result


DecimalValue = Annotated[
    Decimal,
    PlainValidator(_parse_decimal),
    PlainSerializer(lambda v: str(v), return_type=str),
    WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}]}),
]
"""An exact number (rates, multipliers, percents): ``1.5``, ``"1.5"`` or ``3``."""


# -- localized text -------------------------------------------------------------------------
def _parse_text(value: Any, info: ValidationInfo) -> LocalizedText:
    if isinstance(value, LocalizedText):
        return value
    try:
        return LocalizedText.from_value(value)
    except CardBenefitsError as err:
        reason = err.message if err.value is MISSING else f"{err.message}: {err.value!r}"
        raise PydanticCustomError("localized_text", "{reason}", {"reason": reason}) from None
    except (TypeError, ValueError) as err:
        raise PydanticCustomError("localized_text", "{reason}", {"reason": str(err)}) from None


TextValue = Annotated[
    LocalizedText,
    PlainValidator(_parse_text),
    PlainSerializer(lambda v: v.to_value(), return_type=Any),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string"},
                {
                    "type": "object",
                    "properties": {
                        "zh_CN": {"type": "string"},
                        "zh_Hant": {"type": "string"},
                        "en": {"type": "string"},
                    },
                    "additionalProperties": False,
                    "minProperties": 1,
                },
            ],
            "description": "Text in one language, or a mapping of locale (zh_CN, zh_Hant, en) to text.",
        }
    ),
]
"""A name or description: a string or ``{zh_CN: ..., zh_Hant: ..., en: ...}``."""


# -- instants -------------------------------------------------------------------------------
def _parse_instant(value: Any, info: ValidationInfo) -> pendulum.DateTime:
    tz = str(_context(info).get("timezone", DEFAULT_TIMEZONE))
    if isinstance(value, pendulum.DateTime) and value.tzinfo is not None:
        return value
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=pendulum.timezone(tz))
        return pendulum.instance(aware).in_timezone(tz)
    if isinstance(value, dt.date):
        return pendulum.datetime(value.year, value.month, value.day, tz=tz)
    if isinstance(value, str):
        try:
            parsed = pendulum.parse(value, tz=tz)
        except (ValueError, pendulum.parsing.exceptions.ParserError):
            raise PydanticCustomError("instant", "not an ISO 8601 date or date-time") from None
        if isinstance(parsed, pendulum.DateTime):
            return parsed.in_timezone(tz)
        if isinstance(parsed, pendulum.Date):
            return pendulum.datetime(parsed.year, parsed.month, parsed.day, tz=tz)
    raise PydanticCustomError("instant", "expected an ISO 8601 date or date-time")


InstantValue = Annotated[
    pendulum.DateTime,
    PlainValidator(_parse_instant),
    PlainSerializer(lambda v: v.isoformat(), return_type=str),
    WithJsonSchema(
        {"type": "string", "description": "ISO 8601 date or date-time (catalog time zone if none)."}
    ),
]
"""An aware instant: ``2026-11-01`` or ``2026-11-01T08:00:00+08:00``."""


# -- rules ----------------------------------------------------------------------------------
def _parse_rule(value: Any, info: ValidationInfo) -> Eligibility:
    if isinstance(value, Eligibility):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("rule_type", "a rule is text such as 'age >= 18'")
    schema = _context(info).get("schema")
    if not isinstance(schema, FieldSchema):
        schema = default_schema()
    try:
        return Eligibility.parse(value, schema)
    except RuleError as err:
        raise PydanticCustomError(
            "rule", "{reason}", {"reason": err.message, "position": err.path or "", "rule_value": err.value}
        ) from None


RuleValue = Annotated[
    Eligibility,
    PlainValidator(_parse_rule),
    PlainSerializer(lambda v: v.text, return_type=str),
    WithJsonSchema(
        {"type": "string", "description": "An eligibility rule, e.g. 'age < 30 and \"gamer\" in tags'."}
    ),
]
"""An eligibility rule text, parsed and type-checked at load."""


# -- field declarations ---------------------------------------------------------------------
def _parse_field_spec(value: Any, info: ValidationInfo) -> FieldSpec:
    if isinstance(value, FieldSpec):
        return value
    try:
        if isinstance(value, str):
            return FieldSpec(FieldType(value))
        if isinstance(value, Mapping) and set(value) <= {"type", "choices", "currency"} and "type" in value:
            return FieldSpec(FieldType(value["type"]), value.get("choices") or (), value.get("currency"))
    except ValueError:
        pass
    except CardBenefitsError as err:
        raise PydanticCustomError("field_spec", "{reason}", {"reason": err.message}) from None
    raise PydanticCustomError(
        "field_spec",
        "a field type is one of {types}, or {{type:, choices:, currency:}}",
        {"types": ", ".join(t.value for t in FieldType)},
    )


def _dump_field_spec(value: FieldSpec) -> Any:
    if value.choices:
        return {"type": value.type.value, "choices": list(value.choices)}
    if value.type is FieldType.MONEY and value.currency != DEFAULT_CURRENCY:
        return {"type": value.type.value, "currency": value.currency}
    return value.type.value


FieldSpecValue = Annotated[
    FieldSpec,
    PlainValidator(_parse_field_spec),
    PlainSerializer(_dump_field_spec, return_type=Any),
    WithJsonSchema(
        {
            "anyOf": [
                {"enum": [t.value for t in FieldType]},
                {
                    "type": "object",
                    "properties": {
                        "type": {"enum": [t.value for t in FieldType]},
                        "choices": {"type": "array", "items": {"type": "string"}},
                        "currency": {"type": "string"},
                    },
                    "required": ["type"],
                    "additionalProperties": False,
                },
            ]
        }
    ),
]
"""A rule field declaration: a type name, or ``{type: enum, choices: [...]}``."""

Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
"""An item id: ASCII letters, digits, ``_``, ``-`` and ``.``."""

NonNegativeInt = Annotated[int, Field(ge=0)]
PositiveInt = Annotated[int, Field(gt=0)]


# -- the model <-> domain bridge ------------------------------------------------------------
def _to_domain_value(value: Any) -> Any:
    if isinstance(value, FileModel):
        return value.to_domain()
    if isinstance(value, list):
        return tuple(_to_domain_value(v) for v in value)
    if isinstance(value, dict):
        return {k: _to_domain_value(v) for k, v in value.items()}
    return value


def _from_domain_value(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if attrs.has(type(value)) and type(value) in _FILE_MODELS:
        return _FILE_MODELS[type(value)].from_domain(value)
    if isinstance(value, tuple | list):
        return [_from_domain_value(v) for v in value]
    if isinstance(value, Mapping | types.MappingProxyType):
        return {k: _from_domain_value(v) for k, v in value.items()}
    return value


_FILE_MODELS: dict[type, type[FileModel]] = {}


class FileModel(BaseModel):
    """Base of the file models: unknown keys forbidden, strict types, frozen.

    A subclass names its attrs domain class in ``domain``; fields with the same names are
    copied across by :meth:`to_domain` and :meth:`from_domain`.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    domain: ClassVar[type[Any] | None] = None

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if cls.domain is not None:
            _FILE_MODELS[cls.domain] = cls

    def to_domain(self) -> Any:
        """Build the frozen domain object."""
        if self.domain is None:
            raise TypeError(f"{type(self).__name__} has no domain class")
        names = {a.name for a in attrs.fields(self.domain) if a.init}
        kwargs = {n: _to_domain_value(getattr(self, n)) for n in type(self).model_fields if n in names}
        return self.domain(**kwargs)

    @classmethod
    def from_domain(cls, obj: Any) -> FileModel:
        """The file model of a domain object (values already have their domain types)."""
        data = {
            name: _from_domain_value(getattr(obj, name)) for name in cls.model_fields if hasattr(obj, name)
        }
        return cls.model_validate(data)


# -- benefits -------------------------------------------------------------------------------
class ValidityFile(FileModel):
    """``validity:`` of a benefit: ``days`` after the grant and/or fixed ``start``/``end``."""

    domain = Validity
    days: PositiveInt | None = None
    start: InstantValue | None = None
    end: InstantValue | None = None


class BenefitFile(FileModel):
    """Keys shared by every benefit kind."""

    id: Id
    name: TextValue
    description: TextValue | None = None
    face_value: MoneyValue | None = None
    cost: MoneyValue | None = None
    provider: str | None = None
    validity: ValidityFile | None = None
    stock: NonNegativeInt | None = None
    daily_stock: NonNegativeInt | None = None
    tags: list[str] = Field(default_factory=list)


class CashbackFile(BenefitFile):
    """``kind: cashback``: ``rate`` (percent) or ``amount``, optional ``cap`` and ``min_spend``."""

    domain = Cashback
    kind: Literal["cashback"]
    rate: DecimalValue | None = None
    amount: MoneyValue | None = None
    cap: MoneyValue | None = None
    min_spend: MoneyValue | None = None


class PointsFile(BenefitFile):
    """``kind: points``: a grant of ``points`` and/or a ``multiplier``."""

    domain = Points
    kind: Literal["points"]
    points: PositiveInt | None = None
    multiplier: DecimalValue | None = None


class MilesFile(BenefitFile):
    """``kind: miles``: ``miles`` and/or a ``multiplier`` at ``airlines``."""

    domain = Miles
    kind: Literal["miles"]
    miles: PositiveInt | None = None
    multiplier: DecimalValue | None = None
    airlines: list[str] = Field(default_factory=list)


class VoucherFile(BenefitFile):
    """``kind: voucher``: ``amount`` off above ``min_spend``, or a ``coupon_template``."""

    domain = Voucher
    kind: Literal["voucher"]
    amount: MoneyValue | None = None
    min_spend: MoneyValue | None = None
    coupon_template: Annotated[str, Ref("coupon_templates")] | None = None


class MembershipFile(BenefitFile):
    """``kind: membership``: ``months`` of a ``membership``."""

    domain = Membership
    kind: Literal["membership"]
    membership: str
    months: PositiveInt = 1


class ServiceFile(BenefitFile):
    """``kind: service``: a ``service`` with ``uses`` per year."""

    domain = Service
    kind: Literal["service"]
    service: str
    uses: PositiveInt | None = None


class InsuranceFile(BenefitFile):
    """``kind: insurance``: ``insurance`` cover up to ``coverage``."""

    domain = Insurance
    kind: Literal["insurance"]
    insurance: str
    coverage: MoneyValue


class FeeWaiverFile(BenefitFile):
    """``kind: fee_waiver``: ``percent`` of ``fee`` waived."""

    domain = FeeWaiver
    kind: Literal["fee_waiver"]
    fee: str
    percent: DecimalValue = Decimal(100)


class InstalmentDiscountFile(BenefitFile):
    """``kind: instalment_discount``: ``percent`` off instalment fees."""

    domain = InstalmentDiscount
    kind: Literal["instalment_discount"]
    percent: DecimalValue
    max_periods: PositiveInt | None = None


class GiftFile(BenefitFile):
    """``kind: gift``: a gift ``item``."""

    domain = Gift
    kind: Literal["gift"]
    item: str


BenefitItem = Annotated[
    CashbackFile
    | PointsFile
    | MilesFile
    | VoucherFile
    | MembershipFile
    | ServiceFile
    | InsuranceFile
    | FeeWaiverFile
    | InstalmentDiscountFile
    | GiftFile,
    Field(discriminator="kind"),
]
"""One entry of ``benefits:``, chosen by its ``kind``."""


def _benefit_to_file(benefit: Benefit) -> FileModel:
    return _FILE_MODELS[type(benefit)].from_domain(benefit)


# -- products -------------------------------------------------------------------------------
class PriceFile(FileModel):
    """``price:`` of a module: an annual ``fee`` and/or ``points`` from the product's budget."""

    domain = ModulePrice
    fee: MoneyValue | None = None
    points: NonNegativeInt = 0


class ModuleFile(FileModel):
    """One optional module (权益积木) of a product."""

    domain = BenefitModule
    id: Id
    name: TextValue
    description: TextValue | None = None
    benefits: Annotated[list[Annotated[str, Ref("benefits")]], Field(min_length=1)]
    exclusive_group: str | None = None
    requires: list[Annotated[str, Ref("modules")]] = Field(default_factory=list)
    segments: list[str] = Field(default_factory=list)
    tiers: list[Annotated[str, Ref("tiers")]] = Field(default_factory=list)
    eligibility: RuleValue | None = None
    price: PriceFile = PriceFile()
    shareable: bool = False
    affinity: dict[str, int] = Field(default_factory=dict)
    base_score: int = 0


class ProductFile(FileModel):
    """One card product: ``core`` benefits, ``modules`` and the composition limits."""

    domain = CardProduct
    ref_scopes: ClassVar[dict[str, str]] = {"modules": "modules", "tiers": "tiers"}
    id: Id
    name: TextValue
    description: TextValue | None = None
    tiers: list[str] = Field(default_factory=list)
    annual_fee: MoneyValue | None = None
    core: list[Annotated[str, Ref("benefits")]] = Field(default_factory=list)
    modules: list[ModuleFile] = Field(default_factory=list)
    slots: NonNegativeInt | None = None
    points_budget: NonNegativeInt | None = None
    max_shared: NonNegativeInt | None = None


# -- header ---------------------------------------------------------------------------------
class HeaderFile(FileModel):
    """The header keys of a catalog file."""

    id: Id
    version: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+\-]*$")]
    name: TextValue | None = None
    description: TextValue | None = None
    timezone: str = DEFAULT_TIMEZONE
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = DEFAULT_CURRENCY
    fields: dict[str, FieldSpecValue] = Field(default_factory=dict)


register_section(
    Section(
        key="benefits",
        item_type=BenefitItem,
        to_domain=lambda model: model.to_domain(),
        to_file=_benefit_to_file,
        description="The benefit library (权益库).",
        order=10,
        tags=discriminator_tags(BenefitItem),
    )
)
register_section(
    Section(
        key="products",
        item_type=ProductFile,
        to_domain=lambda model: model.to_domain(),
        to_file=ProductFile.from_domain,
        description="Card products built from benefit modules (权益积木).",
        order=20,
    )
)


def _check_products(ctx: CheckContext) -> Iterator[CatalogIssue]:
    """Module ids unique per product; prerequisites acyclic and never inside the module's group."""
    for i, product in ctx.items.get("products", ()):
        assert isinstance(product, ProductFile)
        first: dict[str, int] = {}
        for j, module in enumerate(product.modules):
            if module.id in first:
                yield CatalogIssue(
                    format_path(["products", i, "modules", j, "id"]),
                    f"duplicate module id (first at modules[{first[module.id]}])",
                    module.id,
                )
            else:
                first[module.id] = j
        by_id = {m.id: m for m in product.modules}
        for j, module in enumerate(product.modules):
            for k, req in enumerate(module.requires):
                path = format_path(["products", i, "modules", j, "requires", k])
                if req == module.id:
                    yield CatalogIssue(path, "a module cannot require itself", req)
                elif req in by_id and _reaches(by_id, req, module.id):
                    yield CatalogIssue(path, "prerequisites form a cycle", req)
                elif (
                    req in by_id
                    and module.exclusive_group is not None
                    and by_id[req].exclusive_group == module.exclusive_group
                ):
                    yield CatalogIssue(
                        path, f"requires a module of its own exclusive group '{module.exclusive_group}'", req
                    )


def _reaches(by_id: Mapping[str, ModuleFile], start: str, target: str) -> bool:
    seen: set[str] = set()
    todo = [start]
    while todo:
        current = todo.pop()
        if current == target:
            return True
        if current in seen or current not in by_id:
            continue
        seen.add(current)
        todo.extend(by_id[current].requires)
    return False


register_check(_check_products)
