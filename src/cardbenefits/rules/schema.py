"""The typed field schema that eligibility rules are checked against.

A :class:`FieldSchema` maps dotted field names (``"card.tier"``) to a :class:`FieldSpec`
(a :class:`FieldType` plus, for enumerations, the allowed values and, for money, the
currency). A rule may only read declared fields; a catalog adds its own with
:meth:`FieldSchema.extend`.

>>> schema = default_schema()
>>> schema["rfm.recency_days"].type
<FieldType.INT: 'int'>
>>> "lifecycle" in schema and schema["lifecycle"].choices[:2]
('new', 'activating')
>>> bigger = schema.extend({"spend.week": FieldType.MONEY})
>>> bigger["spend.week"]
FieldSpec(type=<FieldType.MONEY: 'money'>, choices=(), currency='CNY')
>>> schema.suggest("rfm.recncy_days")
'rfm.recency_days'
"""

from __future__ import annotations

import difflib
import enum
import re
from collections.abc import Iterator, Mapping

import attrs

from cardbenefits.errors import RuleTypeError
from cardbenefits.money import DEFAULT_CURRENCY

__all__ = ["FIELD_NAME", "FieldSchema", "FieldSpec", "FieldType", "default_schema"]

#: A field name: dotted identifiers, e.g. ``card.tier`` or ``rfm.recency_days``.
FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


class FieldType(enum.StrEnum):
    """The value type of a customer field.

    >>> FieldType("money")
    <FieldType.MONEY: 'money'>
    """

    STR = "str"
    """Free text (compared with ``==``/``!=``/``in``)."""
    INT = "int"
    """Whole number; compares with int and decimal literals."""
    DECIMAL = "decimal"
    """Exact decimal number; compares with int and decimal literals."""
    BOOL = "bool"
    """``true``/``false``; may stand alone in a rule (``not delinquent``)."""
    MONEY = "money"
    """:class:`~cardbenefits.money.Money` in one currency; compares with money literals only."""
    DATETIME = "datetime"
    """Aware instant; tested with ``within``, ``older than``, ``before``, ``after``."""
    STRING_SET = "string_set"
    """A set of strings such as tags; tested with ``"x" in tags`` and ``has any/all of``."""
    ENUM = "enum"
    """A string restricted to declared values; a misspelt value fails at parse time."""


def _choices(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):  # type: ignore[attr-defined]
        raise RuleTypeError("enum choices must be an iterable of str", path="choices", value=value)
    return tuple(value)  # type: ignore[arg-type]


@attrs.frozen
class FieldSpec:
    """The declared type of one field.

    >>> FieldSpec.enum("new", "active").choices
    ('new', 'active')
    >>> FieldSpec(FieldType.ENUM)
    Traceback (most recent call last):
      ...
    cardbenefits.errors.RuleTypeError: choices: an enum field needs at least one allowed value (got ())
    """

    type: FieldType = attrs.field(converter=FieldType)
    choices: tuple[str, ...] = attrs.field(default=(), converter=_choices)
    currency: str | None = attrs.field(default=None)

    def __attrs_post_init__(self) -> None:
        if self.type is FieldType.ENUM and not self.choices:
            raise RuleTypeError("an enum field needs at least one allowed value", path="choices", value=())
        if self.type is not FieldType.ENUM and self.choices:
            raise RuleTypeError("only enum fields have choices", path="choices", value=self.choices)
        if self.type is FieldType.MONEY and self.currency is None:
            object.__setattr__(self, "currency", DEFAULT_CURRENCY)
        if self.type is not FieldType.MONEY and self.currency is not None:
            raise RuleTypeError("only money fields have a currency", path="currency", value=self.currency)

    @classmethod
    def enum(cls, *choices: str) -> FieldSpec:
        """An enumeration of allowed string values."""
        return cls(FieldType.ENUM, choices)

    @classmethod
    def money(cls, currency: str = DEFAULT_CURRENCY) -> FieldSpec:
        """A money field in ``currency``."""
        return cls(FieldType.MONEY, currency=currency)

    @property
    def is_numeric(self) -> bool:
        """True for int and decimal fields (they compare with each other)."""
        return self.type in (FieldType.INT, FieldType.DECIMAL)

    @property
    def is_text(self) -> bool:
        """True for str and enum fields."""
        return self.type in (FieldType.STR, FieldType.ENUM)


def _spec(name: str, value: FieldSpec | FieldType | str) -> FieldSpec:
    if not isinstance(name, str) or not FIELD_NAME.fullmatch(name):
        raise RuleTypeError(
            "a field name is dotted identifiers such as 'card.tier'", path=str(name), value=name
        )
    if isinstance(value, FieldSpec):
        return value
    try:
        return FieldSpec(FieldType(value))
    except ValueError:
        raise RuleTypeError(
            f"unknown field type; expected one of {', '.join(t.value for t in FieldType)}",
            path=name,
            value=value,
        ) from None


def _fields(value: Mapping[str, FieldSpec | FieldType | str]) -> dict[str, FieldSpec]:
    result = {name: _spec(name, spec) for name, spec in value.items()}
    for name in result:
        prefix = name.rpartition(".")[0]
        while prefix:
            if prefix in result:
                raise RuleTypeError(
                    f"field '{name}' is nested under '{prefix}', which is itself a field",
                    path=name,
                    value=name,
                )
            prefix = prefix.rpartition(".")[0]
    return result


@attrs.frozen(eq=False)
class FieldSchema(Mapping[str, FieldSpec]):
    """An immutable mapping of field names to :class:`FieldSpec`.

    Groups (``card`` for ``card.tier``) are implied by the dotted names; they may be tested
    with ``card is missing`` but hold no value of their own.
    """

    fields: dict[str, FieldSpec] = attrs.field(converter=_fields)
    groups: frozenset[str] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        groups: set[str] = set()
        for name in self.fields:
            prefix = name.rpartition(".")[0]
            while prefix:
                groups.add(prefix)
                prefix = prefix.rpartition(".")[0]
        object.__setattr__(self, "groups", frozenset(groups))

    def __getitem__(self, name: str) -> FieldSpec:
        return self.fields[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.fields)

    def __len__(self) -> int:
        return len(self.fields)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FieldSchema) and self.fields == other.fields

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.fields.items(), key=lambda kv: kv[0])))

    def extend(self, extra: Mapping[str, FieldSpec | FieldType | str]) -> FieldSchema:
        """A new schema with ``extra`` fields added (or redeclared)."""
        merged = dict(self.fields)
        merged.update(_fields(extra))
        return FieldSchema(merged)

    def suggest(self, name: str) -> str | None:
        """The closest declared field or group name to a misspelt ``name`` (difflib)."""
        close = difflib.get_close_matches(name, sorted(self.fields) + sorted(self.groups), n=1, cutoff=0.6)
        return close[0] if close else None


#: Lifecycle stages of the customer record (客户生命周期).
LIFECYCLE_STAGES = ("new", "activating", "active", "dormant", "win_back")

_DEFAULT_FIELDS: dict[str, FieldSpec | FieldType] = {
    "id": FieldType.STR,
    "person_id": FieldType.STR,
    "segment": FieldType.STR,
    "tags": FieldType.STRING_SET,
    "age": FieldType.INT,
    "region": FieldType.STR,
    "channel": FieldType.STR,
    "employer_group": FieldType.STR,
    "new_to_bank": FieldType.BOOL,
    "delinquent": FieldType.BOOL,
    "card.id": FieldType.STR,
    "card.product": FieldType.STR,
    "card.tier": FieldType.STR,
    "card.approved_at": FieldType.DATETIME,
    "card.activated_at": FieldType.DATETIME,
    "card.supplementary": FieldType.BOOL,
    "rfm.recency_days": FieldType.INT,
    "rfm.frequency": FieldType.INT,
    "rfm.monetary": FieldSpec.money(),
    "rfm.score": FieldType.INT,
    "lifecycle": FieldSpec.enum(*LIFECYCLE_STAGES),
    "spend.month": FieldSpec.money(),
    "spend.campaign": FieldSpec.money(),
}


def default_schema() -> FieldSchema:
    """The fields of ``cardbenefits.facts.customer_record`` (the shared record contract)."""
    return FieldSchema(_DEFAULT_FIELDS)
