"""Facts: the customers and the events that happen to them.

Facts are immutable, validated values: a :class:`Customer` with its :class:`CardHolding`\\ s
(核卡 approval, 激活 activation, billing day), and the events the engine replays in time order:
card :class:`Transaction`\\ s (purchases, cash advances, fees, refunds and reversals that point at
the original), funnel :class:`Follow`\\ s (关注) and :class:`DrawRequest`\\ s (抽奖), and
share-and-invite :class:`Referral`\\ s (分享裂变). Instants are aware :class:`pendulum.DateTime`
values; amounts are :class:`~cardbenefits.money.Money` and always positive, the
:class:`TransactionKind` says the direction.

Rules read the plain record :func:`customer_record` builds; files use :meth:`Transaction.to_dict`
and :func:`event_from_dict` (JSON-friendly: money as decimal strings, instants as ISO-8601 with
an offset).

>>> from cardbenefits.money import Money
>>> card = CardHolding("k1", "mid_career", "gold", "2026-10-20T10:00:00+08:00", billing_day=5)
>>> alice = Customer("c1", "p1", segment="mid_career", cards=(card,), attributes={"lifecycle": "active"})
>>> record = customer_record(alice)
>>> record["card"]["tier"], record["lifecycle"], record["tags"]
('gold', 'active', frozenset())
>>> buy = Transaction("t1", "c1", "k1", Money.of("88.00"), "m1", "5812", "wechat_pay", "purchase",
...                   "2026-11-30T23:50:00+08:00", posted_at="2026-12-01T09:00:00+08:00")
>>> back = Transaction("t2", "c1", "k1", Money.of("20.00"), "m1", "5812", "wechat_pay", "refund",
...                    "2026-12-02T10:00:00+08:00", refund_of="t1")
>>> buy.kind.is_spend, back.signed_amount
(True, Money('-20.00', 'CNY'))
>>> Transaction.from_dict(buy.to_dict()) == buy
True
>>> Transaction("t3", "c1", "k1", Money.of("5"), "m1", "58x2", "pos", "purchase", "2026-11-30T12:00+08:00")
Traceback (most recent call last):
  ...
cardbenefits.errors.FactError: transaction.mcc: an MCC is 4 digits (got '58x2')
"""

from __future__ import annotations

import datetime as _dt
import enum
import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any, ClassVar, Final, TypeAlias, TypeVar

import attrs
import pendulum
from babel.numbers import get_currency_precision

from cardbenefits.errors import CardBenefitsError, FactError
from cardbenefits.money import DEFAULT_CURRENCY, Money

_E = TypeVar("_E", bound=enum.StrEnum)

__all__ = [
    "CARD_COLUMNS",
    "CUSTOMER_COLUMNS",
    "REFERRAL_STAGES",
    "TRANSACTION_COLUMNS",
    "CardHolding",
    "Channel",
    "Customer",
    "DrawRequest",
    "Event",
    "Follow",
    "FrozenDict",
    "Referral",
    "Transaction",
    "TransactionKind",
    "customer_record",
    "event_from_dict",
    "event_sort_key",
    "event_time",
    "event_to_dict",
    "freeze_value",
]


# -- enums ------------------------------------------------------------------------------------
class Channel(enum.StrEnum):
    """The payment channel (渠道) of a transaction."""

    WECHAT_PAY = "wechat_pay"
    ALIPAY = "alipay"
    UNIONPAY_QUICKPASS = "unionpay_quickpass"
    POS = "pos"
    ONLINE = "online"
    ATM = "atm"
    APP = "app"
    BRANCH = "branch"


class TransactionKind(enum.StrEnum):
    """What a transaction is; with :attr:`Transaction.amount` always positive, it gives the sign.

    >>> TransactionKind.PURCHASE.is_spend, TransactionKind.CASH_ADVANCE.is_spend
    (True, False)
    >>> TransactionKind.REFUND.is_credit, TransactionKind.REFUND.needs_original
    (True, True)
    """

    PURCHASE = "purchase"
    CASH_ADVANCE = "cash_advance"
    FEE = "fee"
    INTEREST = "interest"
    BALANCE_TRANSFER = "balance_transfer"
    REFUND = "refund"
    REVERSAL = "reversal"
    REPAYMENT = "repayment"

    @property
    def is_spend(self) -> bool:
        """True for customer-initiated spend (a purchase): what spend thresholds count.

        Cash advances, fees, interest and balance transfers are excluded by the published
        activation rules; refunds and reversals reduce spend instead.
        """
        return self is TransactionKind.PURCHASE

    @property
    def is_customer_initiated(self) -> bool:
        """True when the cardholder started it (purchases, cash advances, transfers, repayments).

        Regulation counts these for dormancy (睡眠卡); fees, interest, refunds and reversals
        are not the customer's own activity.
        """
        return self in _CUSTOMER_INITIATED

    @property
    def is_credit(self) -> bool:
        """True when the amount reduces the balance (refund, reversal, repayment)."""
        return self in _CREDITS

    @property
    def needs_original(self) -> bool:
        """True for refunds and reversals, which must name the transaction they undo."""
        return self in _UNDOING


_CUSTOMER_INITIATED: Final = frozenset(
    {
        TransactionKind.PURCHASE,
        TransactionKind.CASH_ADVANCE,
        TransactionKind.BALANCE_TRANSFER,
        TransactionKind.REPAYMENT,
    }
)
_CREDITS: Final = frozenset({TransactionKind.REFUND, TransactionKind.REVERSAL, TransactionKind.REPAYMENT})
_UNDOING: Final = frozenset({TransactionKind.REFUND, TransactionKind.REVERSAL})

REFERRAL_STAGES: Final = ("joined", "activated", "first_spend")
"""The stages of an invitee in a share-and-invite programme, in order."""


# -- frozen mapping -------------------------------------------------------------------------
class FrozenDict(Mapping[str, Any]):
    """A read-only, hashable mapping (customer attributes and nested values).

    >>> d = FrozenDict({"b": 1, "a": (2, 3)})
    >>> d["a"], len(d), dict(d) == {"a": (2, 3), "b": 1}
    ((2, 3), 2, True)
    >>> hash(d) == hash(FrozenDict({"a": (2, 3), "b": 1}))
    True
    """

    __slots__ = ("_data", "_hash")

    def __init__(self, data: Mapping[str, Any] | Iterable[tuple[str, Any]] = ()) -> None:
        self._data: dict[str, Any] = dict(data)
        self._hash: int | None = None

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def get(self, key: str, default: Any = None) -> Any:
        """The value for ``key``, or ``default``."""
        return self._data.get(key, default)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenDict):
            return self._data == other._data
        if isinstance(other, Mapping):
            return self._data == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"FrozenDict({self._data!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (self._data,))


def freeze_value(value: object, path: str = "value") -> Any:
    """Check and freeze a JSON-like value: mappings become :class:`FrozenDict`, lists tuples.

    Accepted leaves: ``None``, str, int, bool, Decimal, :class:`Money` and aware datetimes
    (made pendulum). Floats are refused: amounts and rates are exact in cardbenefits.

    >>> freeze_value({"rfm": {"score": 5, "tags": ["a"]}})
    FrozenDict({'rfm': FrozenDict({'score': 5, 'tags': ('a',)})})
    >>> freeze_value({"ratio": 0.5}, "attributes")
    Traceback (most recent call last):
      ...
    cardbenefits.errors.FactError: attributes.ratio: floats are not accepted, ... (got 0.5)
    """
    if value is None or isinstance(value, str | bool | int | Money):
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise FactError("decimal values must be finite", path=path, value=value)
        return value
    if isinstance(value, float):
        raise FactError("floats are not accepted, use int, Decimal or str", path=path, value=value)
    if isinstance(value, _dt.datetime):
        return _instant_value(value, path)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str) or not key:
                raise FactError("mapping keys must be non-empty strings", path=path, value=key)
            if key.startswith("$"):
                raise FactError("keys starting with '$' are reserved", path=f"{path}.{key}", value=key)
            out[key] = freeze_value(item, f"{path}.{key}")
        return FrozenDict(out)
    if isinstance(value, list | tuple):
        return tuple(freeze_value(item, f"{path}[{i}]") for i, item in enumerate(value))
    if isinstance(value, set | frozenset):
        return frozenset(freeze_value(item, f"{path}[]") for item in value)
    raise FactError(f"unsupported value type {type(value).__name__}", path=path, value=value)


def _thaw(value: Any) -> Any:
    if isinstance(value, FrozenDict):
        return {k: _thaw(v) for k, v in value.items()}
    return value


# -- field helpers ----------------------------------------------------------------------------
def _instant_value(value: object, path: str) -> pendulum.DateTime:
    if type(value) is pendulum.DateTime and value.tzinfo is not None:
        return value
    if type(value) is str:
        fast = _fast_instant(value)
        if fast is not None:
            return fast
    try:
        from cardbenefits.clock import ensure_aware
    except ImportError:  # pragma: no cover - the clock layer ships with the package
        return _ensure_aware_fallback(value, path)
    try:
        return ensure_aware(value, path=path)
    except CardBenefitsError as err:
        raise FactError(err.message, path=path, value=value) from None


def _ensure_aware_fallback(value: object, path: str) -> pendulum.DateTime:
    parsed: object = value
    if isinstance(value, str):
        try:
            parsed = pendulum.parse(value.strip(), exact=True, tz=None)
        except (ValueError, TypeError):
            raise FactError("not an ISO-8601 date and time", path=path, value=value) from None
    if not isinstance(parsed, _dt.datetime) or parsed.tzinfo is None or parsed.utcoffset() is None:
        raise FactError("expected an aware datetime (with a UTC offset)", path=path, value=value)
    return parsed if isinstance(parsed, pendulum.DateTime) else pendulum.instance(parsed)


def _utc(value: _dt.datetime) -> _dt.datetime:
    """The naive UTC wall time of an aware instant (instant order, not wall-clock order).

    Wall time minus the offset in force (``fold`` included): the same value as
    ``astimezone(UTC)``, without pendulum's slow ``astimezone`` override.
    """
    offset = _ZONE_OFFSETS.get(id(value.tzinfo))
    if offset is None:
        offset = value.utcoffset()
    if offset is None:  # naive: what astimezone does (local time), for completeness
        return value.astimezone(_dt.UTC).replace(tzinfo=None)
    v = value
    wall = _NAIVE(v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond)
    return wall - offset


_NAIVE: Final = _dt.datetime
# The one text shape files written by this library use (``isoformat()`` of a fixed offset):
# read without pendulum's general parser. Anything else takes the general path.
_ISO_INSTANT: Final = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{6})?[+-]\d\d:\d\d", re.ASCII)
_OFFSET_ZONES: dict[str, _dt.tzinfo] = {}
# id -> offset of the fixed-offset zones in _OFFSET_ZONES (which keeps them alive: ids stay theirs)
_ZONE_OFFSETS: dict[int, _dt.timedelta] = {}
_from_iso: Final = _dt.datetime.fromisoformat


def _fast_instant(text: str) -> pendulum.DateTime | None:
    """``text`` as :func:`cardbenefits.clock.ensure_aware` reads it, or None to use that path.

    Only ``YYYY-MM-DDTHH:MM:SS[.ffffff]±HH:MM`` is read here: :meth:`datetime.fromisoformat`
    checks the ranges, and the offset's time zone object is the one pendulum's parser gives
    (cached per offset text), so the value, its zone and its ``repr`` are the same.
    """
    if _ISO_INSTANT.fullmatch(text) is None:
        return None
    try:
        d = _from_iso(text)
    except ValueError:
        return None
    offset = text[-6:]
    zone = _OFFSET_ZONES.get(offset)
    if zone is None:
        from cardbenefits.clock import ensure_aware

        try:
            zone = ensure_aware(text).tzinfo
        except CardBenefitsError:
            return None
        if type(zone) is not pendulum.FixedTimezone:  # pragma: no cover - pendulum's parser
            return None
        if len(_OFFSET_ZONES) < 256:
            _OFFSET_ZONES[offset] = zone
            fixed = zone.utcoffset(None)
            if fixed is not None:
                _ZONE_OFFSETS[id(zone)] = fixed
    return _PENDULUM(d.year, d.month, d.day, d.hour, d.minute, d.second, d.microsecond, tzinfo=zone)


_PENDULUM: Final = pendulum.DateTime


def _before(a: _dt.datetime, b: _dt.datetime) -> bool:
    """``a`` is an earlier instant than ``b`` (cheap unless a DST fold is involved)."""
    if a.tzinfo is b.tzinfo and a.fold != b.fold:
        return _utc(a) < _utc(b)
    return a < b


def _path(instance: object, name: str) -> str:
    return f"{type(instance).__name__.lower()}.{name}"


def _approved_at(value: object) -> pendulum.DateTime:
    return _instant_value(value, "cardholding.approved_at")


def _activated_at(value: object) -> pendulum.DateTime | None:
    return None if value is None else _instant_value(value, "cardholding.activated_at")


def _transacted_at(value: object) -> pendulum.DateTime:
    return _instant_value(value, "transaction.transacted_at")


def _posted_at(value: object) -> pendulum.DateTime:
    return _instant_value(value, "transaction.posted_at")


def _follow_at(value: object) -> pendulum.DateTime:
    return _instant_value(value, "follow.at")


def _draw_at(value: object) -> pendulum.DateTime:
    return _instant_value(value, "drawrequest.at")


def _referral_at(value: object) -> pendulum.DateTime:
    return _instant_value(value, "referral.at")


def _to_channel(value: object) -> Channel:
    return _to_enum(Channel, value, "transaction.channel")


def _to_kind(value: object) -> TransactionKind:
    return _to_enum(TransactionKind, value, "transaction.kind")


def _check_id(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise FactError("must be a non-empty string", path=_path(instance, attribute.name), value=value)


def _check_optional_id(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        _check_id(instance, attribute, value)


def _check_bool(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, bool):
        raise FactError("must be true or false", path=_path(instance, attribute.name), value=value)


def _to_enum(cls: type[_E], value: object, path: str) -> _E:
    if isinstance(value, cls):
        return value
    if isinstance(value, str):
        member = cls._value2member_map_.get(value)
        if member is not None:
            return member  # type: ignore[return-value]
    allowed = ", ".join(m.value for m in cls)
    name = path.rsplit(".", 1)[-1]
    raise FactError(f"unknown {name} (one of: {allowed})", path=path, value=value)


# -- customers --------------------------------------------------------------------------------
def _check_billing_day(instance: CardHolding, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 31:
        raise FactError(
            "billing day must be an int from 1 to 31", path="cardholding.billing_day", value=value
        )


@attrs.frozen
class CardHolding:
    """One card a customer holds: product, tier, 核卡 approval and 激活 activation instants.

    A supplementary card (附属卡) may name its ``primary_card_id``; a main card may not.

    >>> CardHolding("k1", "silver_care", "classic", "2026-11-01T09:00+08:00").activated
    False
    >>> CardHolding("k1", "p", "gold", "2026-11-01T09:00+08:00", activated_at="2026-10-01T09:00+08:00")
    Traceback (most recent call last):
      ...
    cardbenefits.errors.FactError: cardholding.activated_at: activation cannot precede approval (got ...)
    """

    card_id: str = attrs.field(validator=_check_id)
    product_id: str = attrs.field(validator=_check_id)
    tier: str = attrs.field(validator=_check_id)
    approved_at: pendulum.DateTime = attrs.field(converter=_approved_at)
    activated_at: pendulum.DateTime | None = attrs.field(default=None, converter=_activated_at)
    billing_day: int | None = attrs.field(default=None, validator=_check_billing_day)
    supplementary: bool = attrs.field(default=False, validator=_check_bool)
    primary_card_id: str | None = attrs.field(default=None, validator=_check_optional_id)

    def __attrs_post_init__(self) -> None:
        if self.activated_at is not None and _before(self.activated_at, self.approved_at):
            raise FactError(
                "activation cannot precede approval", path="cardholding.activated_at", value=self.activated_at
            )
        if self.primary_card_id is not None and not self.supplementary:
            raise FactError(
                "only a supplementary card names a primary card",
                path="cardholding.primary_card_id",
                value=self.primary_card_id,
            )

    @property
    def activated(self) -> bool:
        """True once the card is activated."""
        return self.activated_at is not None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (instants as ISO-8601 with offset)."""
        return {
            "card_id": self.card_id,
            "product_id": self.product_id,
            "tier": self.tier,
            "approved_at": self.approved_at.isoformat(),
            "activated_at": _iso(self.activated_at),
            "billing_day": self.billing_day,
            "supplementary": self.supplementary,
            "primary_card_id": self.primary_card_id,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CardHolding:
        """Build from :meth:`to_dict` output (or a CSV-like row of strings)."""
        row = _Row(data, "cardholding", _CARD_FIELDS)
        return cls(
            row.req("card_id"),
            row.req("product_id"),
            row.req("tier"),
            row.req("approved_at"),
            activated_at=row.opt("activated_at"),
            billing_day=row.int_or_none("billing_day"),
            supplementary=row.flag("supplementary"),
            primary_card_id=row.opt("primary_card_id"),
        )


_RECORD_KEYS: Final = frozenset(
    {
        "id",
        "person_id",
        "segment",
        "tags",
        "age",
        "region",
        "channel",
        "employer_group",
        "new_to_bank",
        "delinquent",
        "card",
    }
)


def _tags(value: object) -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise FactError("tags must be a collection of strings", path="customer.tags", value=value)
    tags = frozenset(value)
    for tag in tags:
        if not isinstance(tag, str) or not tag:
            raise FactError("tags must be non-empty strings", path="customer.tags", value=tag)
    return tags


def _cards(value: object) -> tuple[CardHolding, ...]:
    if not isinstance(value, Iterable) or isinstance(value, str | Mapping):
        raise FactError("cards must be a sequence of CardHolding", path="customer.cards", value=value)
    cards = tuple(value)
    seen: set[str] = set()
    for i, card in enumerate(cards):
        if not isinstance(card, CardHolding):
            raise FactError("expected a CardHolding", path=f"customer.cards[{i}]", value=card)
        if card.card_id in seen:
            raise FactError("card id appears twice", path=f"customer.cards[{i}].card_id", value=card.card_id)
        seen.add(card.card_id)
    return cards


def _attributes(value: object) -> FrozenDict:
    if not isinstance(value, Mapping):
        raise FactError("attributes must be a mapping", path="customer.attributes", value=value)
    for key in value:
        if key in _RECORD_KEYS:
            raise FactError(
                "attribute name clashes with a customer field", path=f"customer.attributes.{key}", value=key
            )
    frozen = freeze_value(value, "customer.attributes")
    assert isinstance(frozen, FrozenDict)
    return frozen


def _check_age(instance: Customer, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 150:
        raise FactError("age must be an int from 0 to 150", path="customer.age", value=value)


@attrs.frozen
class Customer:
    """A customer (one person's relationship with the issuer) and the cards they hold.

    ``attributes`` carries computed facts rules read, such as ``rfm``, ``lifecycle`` and
    ``spend``; it is frozen (:class:`FrozenDict`) and may not reuse a field name.

    >>> k1 = CardHolding("k1", "gen_z", "classic", "2026-11-01T09:00+08:00", supplementary=True)
    >>> k2 = CardHolding("k2", "gen_z", "gold", "2026-11-02T09:00+08:00")
    >>> c = Customer("c1", "p1", tags={"gamer"}, cards=(k1, k2))
    >>> c.primary_card.card_id, c.card("k1").tier, c.card("k9")
    ('k2', 'classic', None)
    >>> Customer("c1", "p1", age=-3)
    Traceback (most recent call last):
      ...
    cardbenefits.errors.FactError: customer.age: age must be an int from 0 to 150 (got -3)
    """

    id: str = attrs.field(validator=_check_id)
    person_id: str = attrs.field(validator=_check_id)
    segment: str | None = attrs.field(default=None, validator=_check_optional_id)
    tags: frozenset[str] = attrs.field(default=frozenset(), converter=_tags)
    age: int | None = attrs.field(default=None, validator=_check_age)
    region: str | None = attrs.field(default=None, validator=_check_optional_id)
    channel: str | None = attrs.field(default=None, validator=_check_optional_id)
    employer_group: str | None = attrs.field(default=None, validator=_check_optional_id)
    new_to_bank: bool = attrs.field(default=False, validator=_check_bool)
    delinquent: bool = attrs.field(default=False, validator=_check_bool)
    device_id: str | None = attrs.field(default=None, validator=_check_optional_id)
    cards: tuple[CardHolding, ...] = attrs.field(default=(), converter=_cards)
    attributes: FrozenDict = attrs.field(factory=FrozenDict, converter=_attributes)

    def card(self, card_id: str) -> CardHolding | None:
        """The held card with ``card_id``, or None."""
        for card in self.cards:
            if card.card_id == card_id:
                return card
        return None

    @property
    def primary_card(self) -> CardHolding | None:
        """The first main (non-supplementary) card, else the first card, else None."""
        for card in self.cards:
            if not card.supplementary:
                return card
        return self.cards[0] if self.cards else None

    # The engine's CustomerLike protocol reads card dates from the customer: the primary card.
    @property
    def approved_at(self) -> pendulum.DateTime | None:
        """Approval instant of :attr:`primary_card` (None without cards)."""
        card = self.primary_card
        return None if card is None else card.approved_at

    @property
    def activated_at(self) -> pendulum.DateTime | None:
        """Activation instant of :attr:`primary_card` (None when not activated)."""
        card = self.primary_card
        return None if card is None else card.activated_at

    @property
    def billing_day(self) -> int | None:
        """Billing day of :attr:`primary_card`."""
        card = self.primary_card
        return None if card is None else card.billing_day

    def with_attributes(self, **values: Any) -> Customer:
        """A copy with ``values`` merged into :attr:`attributes`.

        >>> Customer("c1", "p1").with_attributes(lifecycle="new").attributes["lifecycle"]
        'new'
        """
        # Only the new values need checking and freezing: the rest is this customer's, already
        # valid (the result equals attrs.evolve(self, attributes=...), at a fraction of the cost).
        # Check them in the merged mapping's order, so the first error is the one evolve reports.
        values = {key: values[key] for key in {**self.attributes, **values} if key in values}
        for key in values:
            if key in _RECORD_KEYS:
                raise FactError(
                    "attribute name clashes with a customer field",
                    path=f"customer.attributes.{key}",
                    value=key,
                )
        return self._with_frozen(freeze_value(values, "customer.attributes"))

    def _with_frozen(self, fresh: Mapping[str, Any]) -> Customer:
        """:meth:`with_attributes` for values it already checked and froze (reused across customers)."""
        return self._with_merged(FrozenDict({**self.attributes._data, **fresh}))

    def _with_shared(
        self, fresh: FrozenDict, shared: dict[tuple[Any, tuple[str, ...]], FrozenDict], tag: Any
    ) -> Customer:
        """:meth:`_with_frozen` for many customers: ``fresh`` (tagged ``tag``) merged with the
        attributes of a customer whose every own attribute it replaces depends only on the names
        of those (in their order), so such customers share the merged mapping kept in ``shared``."""
        own = self.attributes._data
        key = (tag, tuple(own))
        merged = shared.get(key)
        if merged is None:
            merged = FrozenDict({**own, **fresh._data})
            if own.keys() <= fresh._data.keys():
                shared[key] = merged
        return self._with_merged(merged)

    def _with_merged(self, attributes: FrozenDict) -> Customer:
        """A copy whose :attr:`attributes` are ``attributes``: this customer's merged with values
        already checked and frozen (a FrozenDict never changes: customers may share one)."""
        # One slot store per field, unrolled: the copy is the hot step of segmenting a population.
        copy = _new(Customer)
        _set_id(copy, self.id)
        _set_person_id(copy, self.person_id)
        _set_segment(copy, self.segment)
        _set_tags(copy, self.tags)
        _set_age(copy, self.age)
        _set_region(copy, self.region)
        _set_channel(copy, self.channel)
        _set_employer_group(copy, self.employer_group)
        _set_new_to_bank(copy, self.new_to_bank)
        _set_delinquent(copy, self.delinquent)
        _set_device_id(copy, self.device_id)
        _set_cards(copy, self.cards)
        _set_attributes(copy, attributes)
        return copy

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (tags sorted, attributes type-tagged where JSON lacks a type)."""
        return {
            "id": self.id,
            "person_id": self.person_id,
            "segment": self.segment,
            "tags": sorted(self.tags),
            "age": self.age,
            "region": self.region,
            "channel": self.channel,
            "employer_group": self.employer_group,
            "new_to_bank": self.new_to_bank,
            "delinquent": self.delinquent,
            "device_id": self.device_id,
            "cards": [c.to_dict() for c in self.cards],
            "attributes": {k: _encode(v) for k, v in self.attributes.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Customer:
        """Build from :meth:`to_dict` output."""
        row = _Row(data, "customer", _CUSTOMER_FIELDS)
        cards = row.get("cards") or ()
        if not isinstance(cards, list | tuple):
            raise FactError("cards must be a list", path="customer.cards", value=cards)
        attributes = row.get("attributes") or {}
        if not isinstance(attributes, Mapping):
            raise FactError("attributes must be a mapping", path="customer.attributes", value=attributes)
        tags = row.get("tags") or ()
        if isinstance(tags, str):
            tags = [t for t in tags.split("|") if t]
        return cls(
            row.req("id"),
            row.req("person_id"),
            segment=row.opt("segment"),
            tags=tags,
            age=row.int_or_none("age"),
            region=row.opt("region"),
            channel=row.opt("channel"),
            employer_group=row.opt("employer_group"),
            new_to_bank=row.flag("new_to_bank"),
            delinquent=row.flag("delinquent"),
            device_id=row.opt("device_id"),
            cards=tuple(CardHolding.from_dict(c) for c in cards),
            attributes={k: _decode(v, f"customer.attributes.{k}") for k, v in attributes.items()},
        )


def customer_record(customer: Customer, card: CardHolding | None = None) -> dict[str, object]:
    """The plain record eligibility rules read (the shared record contract).

    ``card`` is the card the decision is about; by default the customer's primary card.
    Attributes follow the fixed fields, nested mappings as plain dicts.

    >>> c = Customer("c1", "p1", age=30, attributes={"spend": {"month": Money.of(120)}})
    >>> r = customer_record(c)
    >>> r["age"], r["card"], r["spend"]
    (30, None, {'month': Money('120', 'CNY')})
    """
    held = card if card is not None else customer.primary_card
    record: dict[str, object] = {
        "id": customer.id,
        "person_id": customer.person_id,
        "segment": customer.segment,
        "tags": customer.tags,
        "age": customer.age,
        "region": customer.region,
        "channel": customer.channel,
        "employer_group": customer.employer_group,
        "new_to_bank": customer.new_to_bank,
        "delinquent": customer.delinquent,
        "card": None
        if held is None
        else {
            "id": held.card_id,
            "product": held.product_id,
            "tier": held.tier,
            "approved_at": held.approved_at,
            "activated_at": held.activated_at,
            "supplementary": held.supplementary,
        },
    }
    for key, value in customer.attributes.items():
        record[key] = _thaw(value)
    return record


# -- transactions -----------------------------------------------------------------------------
def _money(value: object, path: str) -> Money:
    if isinstance(value, Money):
        return value
    try:
        if isinstance(value, str):
            return Money.of(value)
        if isinstance(value, Mapping):
            return Money.of(value.get("amount"), str(value.get("currency", DEFAULT_CURRENCY)))
    except CardBenefitsError as err:
        raise FactError(err.message, path=path, value=value) from None
    raise FactError("expected Money", path=path, value=value)


def _check_amount(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    path = _path(instance, attribute.name)
    if not isinstance(value, Money):
        raise FactError("expected Money", path=path, value=value)
    if value.amount <= 0:
        raise FactError("amount must be positive; the kind gives the direction", path=path, value=value)
    if value.amount != value.amount.quantize(_minor_unit(value.currency)):
        raise FactError("amount has more precision than the currency's minor unit", path=path, value=value)


@functools.cache
def _minor_unit(currency: str) -> Decimal:
    return Decimal(1).scaleb(-get_currency_precision(currency))


def _check_mcc(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or len(value) != 4 or not value.isascii() or not value.isdigit():
        raise FactError("an MCC is 4 digits", path=_path(instance, attribute.name), value=value)


@attrs.frozen
class Transaction:
    """A card transaction (交易): a purchase, cash advance, fee, refund ...

    ``amount`` is positive; :attr:`signed_amount` applies the direction of ``kind``.
    ``posted_at`` (入账) may be later than ``transacted_at`` (交易), never earlier: late
    postings cross month ends, and rules say which instant counts. Refunds and reversals
    name the transaction they undo in ``refund_of``; other kinds must not.

    >>> Transaction("t9", "c1", "k1", Money.of(9), "m1", "5411", "pos", "refund", "2026-11-01T10:00+08:00")
    Traceback (most recent call last):
      ...
    cardbenefits.errors.FactError: transaction.refund_of: a refund names the transaction it undoes (got None)
    """

    event_type: ClassVar[str] = "transaction"

    id: str = attrs.field(validator=_check_id)
    customer_id: str = attrs.field(validator=_check_id)
    card_id: str = attrs.field(validator=_check_id)
    amount: Money = attrs.field(validator=_check_amount)
    merchant_id: str = attrs.field(validator=_check_id)
    mcc: str = attrs.field(validator=_check_mcc)
    channel: Channel = attrs.field(converter=_to_channel)
    kind: TransactionKind = attrs.field(converter=_to_kind)
    transacted_at: pendulum.DateTime = attrs.field(converter=_transacted_at)
    posted_at: pendulum.DateTime = attrs.field(
        default=attrs.Factory(lambda self: self.transacted_at, takes_self=True),
        converter=_posted_at,
    )
    refund_of: str | None = attrs.field(default=None, validator=_check_optional_id)
    region: str | None = attrs.field(default=None, validator=_check_optional_id)
    device_id: str | None = attrs.field(default=None, validator=_check_optional_id)

    def __attrs_post_init__(self) -> None:
        if self.posted_at is not self.transacted_at and _before(self.posted_at, self.transacted_at):
            raise FactError(
                "posting cannot precede the transaction", path="transaction.posted_at", value=self.posted_at
            )
        if self.kind in _UNDOING:
            if self.refund_of is None:
                raise FactError(
                    f"a {self.kind} names the transaction it undoes", path="transaction.refund_of", value=None
                )
            if self.refund_of == self.id:
                raise FactError(
                    "a transaction cannot undo itself", path="transaction.refund_of", value=self.refund_of
                )
        elif self.refund_of is not None:
            raise FactError(
                f"a {self.kind} cannot name refund_of", path="transaction.refund_of", value=self.refund_of
            )

    @property
    def signed_amount(self) -> Money:
        """The amount with its direction: negative for refunds, reversals and repayments."""
        return -self.amount if self.kind in _CREDITS else self.amount

    # Aliases for the engine's TransactionLike / RefundLike protocols.
    @property
    def at(self) -> pendulum.DateTime:
        """Alias of :attr:`transacted_at`."""
        return self.transacted_at

    @property
    def merchant(self) -> str:
        """Alias of :attr:`merchant_id`."""
        return self.merchant_id

    @property
    def original_id(self) -> str | None:
        """Alias of :attr:`refund_of`."""
        return self.refund_of

    def to_dict(self) -> dict[str, Any]:
        """A flat JSON/CSV-friendly dict (amount as a decimal string plus currency)."""
        return {
            "id": self.id,
            "customer_id": self.customer_id,
            "card_id": self.card_id,
            "amount": str(self.amount.amount),
            "currency": self.amount.currency,
            "merchant_id": self.merchant_id,
            "mcc": self.mcc,
            "channel": self.channel.value,
            "kind": self.kind.value,
            "transacted_at": self.transacted_at.isoformat(),
            "posted_at": self.posted_at.isoformat(),
            "refund_of": self.refund_of,
            "region": self.region,
            "device_id": self.device_id,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transaction:
        """Build from :meth:`to_dict` output; ``amount`` may also be ``{"amount", "currency"}``.

        Rows in the shape :meth:`to_dict` writes (also as CSV strings) take a fast path that
        checks every invariant directly; anything else, invalid rows included, is read by the
        general path, so the result and the errors are the same either way.
        """
        fast = _transaction_from_row(data, _TRANSACTION_FIELDS)
        if fast is not None:
            return fast
        row = _Row(data, "transaction", _TRANSACTION_FIELDS)
        return cls(
            row.req("id"),
            row.req("customer_id"),
            row.req("card_id"),
            row.money("amount"),
            row.req("merchant_id"),
            row.req("mcc"),
            row.req("channel"),
            row.req("kind"),
            row.req("transacted_at"),
            posted_at=row.opt("posted_at") or row.req("transacted_at"),
            refund_of=row.opt("refund_of"),
            region=row.opt("region"),
            device_id=row.opt("device_id"),
        )


# -- funnel and referral events ----------------------------------------------------------------
@attrs.frozen
class Follow:
    """客户关注: a customer opts in to a campaign through a channel (official account, app ...).

    >>> Follow("f1", "c1", "e_life", "wechat", "2026-11-05T10:00+08:00").at.isoformat()
    '2026-11-05T10:00:00+08:00'
    """

    event_type: ClassVar[str] = "follow"

    id: str = attrs.field(validator=_check_id)
    customer_id: str = attrs.field(validator=_check_id)
    campaign_id: str = attrs.field(validator=_check_id)
    channel: str = attrs.field(validator=_check_id)
    at: pendulum.DateTime = attrs.field(converter=_follow_at)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        return {
            "id": self.id,
            "customer_id": self.customer_id,
            "campaign_id": self.campaign_id,
            "channel": self.channel,
            "at": self.at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Follow:
        """Build from :meth:`to_dict` output."""
        row = _Row(data, "follow", _FOLLOW_FIELDS)
        return cls(
            row.req("id"), row.req("customer_id"), row.req("campaign_id"), row.req("channel"), row.req("at")
        )


@attrs.frozen
class DrawRequest:
    """抽奖领券: a customer asks to draw from a campaign's prize pool (or to claim a coupon)."""

    event_type: ClassVar[str] = "draw_request"

    id: str = attrs.field(validator=_check_id)
    customer_id: str = attrs.field(validator=_check_id)
    campaign_id: str = attrs.field(validator=_check_id)
    at: pendulum.DateTime = attrs.field(converter=_draw_at)
    channel: str | None = attrs.field(default=None, validator=_check_optional_id)
    device_id: str | None = attrs.field(default=None, validator=_check_optional_id)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        return {
            "id": self.id,
            "customer_id": self.customer_id,
            "campaign_id": self.campaign_id,
            "at": self.at.isoformat(),
            "channel": self.channel,
            "device_id": self.device_id,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DrawRequest:
        """Build from :meth:`to_dict` output."""
        row = _Row(data, "drawrequest", _DRAW_FIELDS)
        return cls(
            row.req("id"),
            row.req("customer_id"),
            row.req("campaign_id"),
            row.req("at"),
            channel=row.opt("channel"),
            device_id=row.opt("device_id"),
        )


def _check_stage(instance: Referral, attribute: attrs.Attribute[Any], value: object) -> None:
    if value not in REFERRAL_STAGES:
        raise FactError(
            f"stage must be one of {', '.join(REFERRAL_STAGES)}", path="referral.stage", value=value
        )


@attrs.frozen
class Referral:
    """分享裂变: an invitee of ``inviter_id`` reached ``stage`` (joined, activated, first_spend).

    >>> Referral("r1", "share", "c1", "c1", "joined", "2026-11-05T10:00+08:00")
    Traceback (most recent call last):
      ...
    cardbenefits.errors.FactError: referral.invitee_id: a customer cannot invite themselves (got 'c1')
    """

    event_type: ClassVar[str] = "referral"

    id: str = attrs.field(validator=_check_id)
    programme_id: str = attrs.field(validator=_check_id)
    inviter_id: str = attrs.field(validator=_check_id)
    invitee_id: str = attrs.field(validator=_check_id)
    stage: str = attrs.field(validator=_check_stage)
    at: pendulum.DateTime = attrs.field(converter=_referral_at)
    device_id: str | None = attrs.field(default=None, validator=_check_optional_id)

    def __attrs_post_init__(self) -> None:
        # Self-invites are refused as facts; subtler abuse (same device) is a risk-policy matter.
        if self.inviter_id == self.invitee_id:
            raise FactError(
                "a customer cannot invite themselves", path="referral.invitee_id", value=self.invitee_id
            )

    @property
    def customer_id(self) -> str:
        """The invitee: the customer the event happened to."""
        return self.invitee_id

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        return {
            "id": self.id,
            "programme_id": self.programme_id,
            "inviter_id": self.inviter_id,
            "invitee_id": self.invitee_id,
            "stage": self.stage,
            "at": self.at.isoformat(),
            "device_id": self.device_id,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Referral:
        """Build from :meth:`to_dict` output."""
        row = _Row(data, "referral", _REFERRAL_FIELDS)
        return cls(
            row.req("id"),
            row.req("programme_id"),
            row.req("inviter_id"),
            row.req("invitee_id"),
            row.req("stage"),
            row.req("at"),
            device_id=row.opt("device_id"),
        )


Event: TypeAlias = Transaction | Follow | DrawRequest | Referral
"""Anything that happens to a customer and is replayed in time order."""

_EVENT_TYPES: Final[dict[str, type[Transaction] | type[Follow] | type[DrawRequest] | type[Referral]]] = {
    "transaction": Transaction,
    "follow": Follow,
    "draw_request": DrawRequest,
    "referral": Referral,
}
# Same instant: a follow comes before a draw, a draw before paying, an invitee's stage last.
_TYPE_RANK: Final = {"follow": 0, "draw_request": 1, "transaction": 2, "referral": 3}
_KIND_RANK: Final = {kind: (1 if kind in _UNDOING else 0) for kind in TransactionKind}


def event_time(event: Event, *, posted: bool = False) -> pendulum.DateTime:
    """When ``event`` happened; with ``posted=True`` a transaction's posting instant.

    >>> f = Follow("f1", "c1", "e", "app", "2026-11-05T10:00+08:00")
    >>> event_time(f) == f.at
    True
    """
    if isinstance(event, Transaction):
        return event.posted_at if posted else event.transacted_at
    return event.at


def event_sort_key(event: Event, *, posted: bool = False) -> tuple[_dt.datetime, int, int, str]:
    """A total, deterministic replay order: instant, then event type, then kind, then id.

    At one instant a follow sorts before a draw request, a draw before a transaction, and a
    purchase before the refund of it.

    >>> a = Follow("f2", "c1", "e", "app", "2026-11-05T10:00+08:00")
    >>> b = DrawRequest("d1", "c1", "e", "2026-11-05T02:00Z")
    >>> [e.id for e in sorted([b, a], key=event_sort_key)]
    ['f2', 'd1']
    """
    kind = _KIND_RANK[event.kind] if isinstance(event, Transaction) else 0
    return (_utc(event_time(event, posted=posted)), _TYPE_RANK[event.event_type], kind, event.id)


def event_from_dict(data: Mapping[str, Any]) -> Event:
    """Build any event from a dict with a ``"type"`` key (see :func:`event_to_dict`).

    >>> e = event_from_dict({"type": "follow", "id": "f1", "customer_id": "c1", "campaign_id": "e",
    ...                      "channel": "app", "at": "2026-11-05T10:00:00+08:00"})
    >>> type(e).__name__
    'Follow'
    """
    kind = data.get("type")
    fields = _FIELDS_OF.get(kind) if isinstance(kind, str) else None
    if fields is not None and not data.keys() <= fields:
        # a mixed CSV has every kind's columns: another kind's empty cell is no field of this one
        data = {k: v for k, v in data.items() if k in fields or v not in ("", None)}
    if kind == "transaction":
        fast = _transaction_from_row(data, _TYPED_TRANSACTION_FIELDS)
        if fast is not None:
            return fast
    cls = _EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise FactError(f"unknown event type (one of: {', '.join(_EVENT_TYPES)})", path="type", value=kind)
    body = {k: v for k, v in data.items() if k != "type"}
    return cls.from_dict(body)


def event_to_dict(event: Event) -> dict[str, Any]:
    """``event.to_dict()`` with its ``"type"`` first, for mixed event files."""
    return {"type": event.event_type, **event.to_dict()}


# -- (de)serialization helpers -------------------------------------------------------------------
def _iso(value: _dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _encode(value: Any) -> Any:
    """Attribute value → JSON value; types JSON lacks are tagged (``{"$money": ...}``)."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, Money):
        return {"$money": {"amount": str(value.amount), "currency": value.currency}}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, _dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, FrozenDict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_encode(v) for v in value]
    if isinstance(value, frozenset):
        return {"$set": sorted((_encode(v) for v in value), key=repr)}
    raise FactError(f"cannot encode {type(value).__name__}", path="attributes", value=value)


def _decode(value: Any, path: str) -> Any:
    if isinstance(value, Mapping):
        if len(value) == 1:
            (tag, body), *_ = value.items()
            if tag == "$money":
                return _money(body, path)
            if tag == "$decimal":
                try:
                    return Decimal(str(body))
                except ArithmeticError:
                    raise FactError("not a decimal", path=path, value=body) from None
            if tag == "$datetime":
                return _instant_value(body, path)
            if tag == "$set":
                return frozenset(_decode(v, f"{path}[]") for v in body)
        return {k: _decode(v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


#: The flat columns of a card holding and of a customer, in file order (CSV/Parquet readers and
#: writers use the same tuples).
CARD_COLUMNS: Final = (
    "card_id",
    "product_id",
    "tier",
    "approved_at",
    "activated_at",
    "billing_day",
    "supplementary",
    "primary_card_id",
)
CUSTOMER_COLUMNS: Final = (
    "id",
    "person_id",
    "segment",
    "tags",
    "age",
    "region",
    "channel",
    "employer_group",
    "new_to_bank",
    "delinquent",
    "device_id",
)
#: The fields of a transaction, in the order :meth:`Transaction.to_dict` writes them.
TRANSACTION_COLUMNS: Final = (
    "id",
    "customer_id",
    "card_id",
    "amount",
    "currency",
    "merchant_id",
    "mcc",
    "channel",
    "kind",
    "transacted_at",
    "posted_at",
    "refund_of",
    "region",
    "device_id",
)
_CARD_FIELDS: Final = frozenset(CARD_COLUMNS)
_CUSTOMER_FIELDS: Final = frozenset((*CUSTOMER_COLUMNS, "cards", "attributes"))
_TRANSACTION_FIELDS: Final = frozenset(TRANSACTION_COLUMNS)
_FOLLOW_FIELDS: Final = frozenset({"id", "customer_id", "campaign_id", "channel", "at"})
_DRAW_FIELDS: Final = frozenset({"id", "customer_id", "campaign_id", "at", "channel", "device_id"})
_REFERRAL_FIELDS: Final = frozenset(
    {"id", "programme_id", "inviter_id", "invitee_id", "stage", "at", "device_id"}
)

_TRUE: Final = frozenset({"true", "1", "yes", "y", "t"})
_FALSE: Final = frozenset({"false", "0", "no", "n", "f", ""})


class _Row:
    """Reads one serialized fact: unknown keys and missing fields raise FactError.

    Empty strings count as missing so CSV rows (where every cell is a string) read the same.
    """

    __slots__ = ("_data", "_name")

    def __init__(self, data: Mapping[str, Any], name: str, fields: frozenset[str]) -> None:
        if not isinstance(data, Mapping):
            raise FactError("expected a mapping", path=name, value=data)
        unknown = sorted(k for k in data if k not in fields)
        if unknown:
            raise FactError("unknown field", path=f"{name}.{unknown[0]}", value=unknown[0])
        self._data = data
        self._name = name

    def get(self, key: str) -> Any:
        value = self._data.get(key)
        return None if value == "" else value

    def req(self, key: str) -> Any:
        value = self.get(key)
        if value is None:
            raise FactError("missing required field", path=f"{self._name}.{key}", value=None)
        return value

    def opt(self, key: str) -> Any:
        return self.get(key)

    def int_or_none(self, key: str) -> int | None:
        value = self.get(key)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                raise FactError("expected an integer", path=f"{self._name}.{key}", value=value) from None
        return value  # type: ignore[no-any-return]

    def flag(self, key: str) -> bool:
        value = self._data.get(key, False)
        if isinstance(value, str):
            text = value.strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise FactError("expected true or false", path=f"{self._name}.{key}", value=value)
        if value is None:
            return False
        return value  # type: ignore[no-any-return]

    def money(self, key: str) -> Money:
        value = self.req(key)
        path = f"{self._name}.{key}"
        currency = self.get("currency")
        if isinstance(value, str) and currency is not None:
            value = {"amount": value, "currency": currency}
        return _money(value, path)


def _trusted_transaction(
    id: str,
    customer_id: str,
    card_id: str,
    amount: Money,
    merchant_id: str,
    mcc: str,
    channel: Channel,
    kind: TransactionKind,
    transacted_at: pendulum.DateTime,
    posted_at: pendulum.DateTime,
    refund_of: str | None,
    region: str | None,
    device_id: str | None,
) -> Transaction:
    """Build a :class:`Transaction` without running validators.

    Only for producers that guarantee every invariant by construction (the synthetic data
    generator, where validation would dominate the cost); tests check such output against
    the validating constructor.
    """
    txn = _new(Transaction)
    s = _TXN_SETTERS
    s[0](txn, id)
    s[1](txn, customer_id)
    s[2](txn, card_id)
    s[3](txn, amount)
    s[4](txn, merchant_id)
    s[5](txn, mcc)
    s[6](txn, channel)
    s[7](txn, kind)
    s[8](txn, transacted_at)
    s[9](txn, posted_at)
    s[10](txn, refund_of)
    s[11](txn, region)
    s[12](txn, device_id)
    return txn


_new: Final = object.__new__
# The slot descriptors' setters: faster than object.__setattr__ by name, and they bypass the
# frozen class's __setattr__ the same way.
_TXN_SETTERS: Final = tuple(Transaction.__dict__[field.name].__set__ for field in attrs.fields(Transaction))


_TYPED_TRANSACTION_FIELDS: Final = _TRANSACTION_FIELDS | {"type"}
# the keys a mixed file's row of each type may carry (with its "type")
_FIELDS_OF: Final = {
    "transaction": _TYPED_TRANSACTION_FIELDS,
    "follow": _FOLLOW_FIELDS | {"type"},
    "draw_request": _DRAW_FIELDS | {"type"},
    "referral": _REFERRAL_FIELDS | {"type"},
}
_CHANNELS: Final = {m.value: m for m in Channel}
_KINDS: Final = {m.value: m for m in TransactionKind}
_PLAIN_AMOUNT: Final = re.compile(r"\d{1,15}(?:\.\d{1,8})?", re.ASCII)
_CURRENCIES: dict[str, Decimal] = {}
_MONEY_SETTERS: Final = tuple(Money.__dict__[field.name].__set__ for field in attrs.fields(Money))


def _transaction_from_row(data: Mapping[str, Any], fields: frozenset[str]) -> Transaction | None:
    """The :class:`Transaction` a well-formed row gives, or None to let the general path decide.

    The fast path of :meth:`Transaction.from_dict` (and :func:`event_from_dict`): plain str
    cells, an amount like ``"88.00"``, instants in ``isoformat()`` shape. It checks what the
    validators check (non-empty ids, a 4-digit MCC, known channel and kind, a positive amount
    within the currency's minor unit, posting not before the transaction, ``refund_of`` only
    and always on refunds and reversals) and returns None on any doubt, so invalid rows reach
    the validating constructor, which names the field. ``fields`` are the keys allowed.
    """
    if type(data) is not dict or not data.keys() <= fields:
        return None
    get: Callable[[str], Any] = data.get
    tid, customer_id, card_id, merchant_id = ids = (
        get("id"),
        get("customer_id"),
        get("card_id"),
        get("merchant_id"),
    )
    for value in ids:
        if type(value) is not str or not value.strip():
            return None
    mcc = get("mcc")
    if type(mcc) is not str or len(mcc) != 4 or not mcc.isascii() or not mcc.isdigit():
        return None
    channel = _CHANNELS.get(get("channel"))
    kind = _KINDS.get(get("kind"))
    if channel is None or kind is None:
        return None
    refund_of, region, device_id = optional = (get("refund_of"), get("region"), get("device_id"))
    if refund_of == "" or region == "" or device_id == "":  # CSV cells: empty is missing
        refund_of = None if refund_of == "" else refund_of
        region = None if region == "" else region
        device_id = None if device_id == "" else device_id
        optional = (refund_of, region, device_id)
    for value in optional:
        if value is not None and (type(value) is not str or not value.strip()):
            return None
    if kind in _UNDOING:
        if refund_of is None or refund_of == tid:
            return None
    elif refund_of is not None:
        return None
    text = get("amount")
    currency = get("currency")
    if currency is None or currency == "":
        currency = DEFAULT_CURRENCY
    if type(text) is not str or type(currency) is not str or _PLAIN_AMOUNT.fullmatch(text) is None:
        return None
    minor = _CURRENCIES.get(currency)
    if minor is None:
        try:
            minor = _minor_unit(Money.of("0", currency).currency)
        except CardBenefitsError:
            return None
        if len(_CURRENCIES) < 256:
            _CURRENCIES[currency] = minor
    number = Decimal(text)
    if number <= 0 or number != number.quantize(minor):
        return None
    transacted_text = get("transacted_at")
    if type(transacted_text) is not str or (transacted_at := _fast_instant(transacted_text)) is None:
        return None
    posted_text = get("posted_at")
    posted_at = transacted_at
    if not (posted_text is None or posted_text == "" or posted_text == transacted_text):
        posted = _fast_instant(posted_text) if type(posted_text) is str else None
        # fixed offsets, fold 0: plain comparison is instant order
        if posted is None or posted < transacted_at:
            return None
        posted_at = posted
    amount = _new(Money)
    _MONEY_SETTERS[0](amount, number)
    _MONEY_SETTERS[1](amount, currency)
    return _trusted_transaction(
        tid,
        customer_id,
        card_id,
        amount,
        merchant_id,
        mcc,
        channel,
        kind,
        transacted_at,
        posted_at,
        refund_of,
        region,
        device_id,
    )


# (name, slot setter) of each Customer field, attributes last (with_attributes replaces it)
_CUSTOMER_SETTERS: Final = tuple((f.name, Customer.__dict__[f.name].__set__) for f in attrs.fields(Customer))
assert _CUSTOMER_SETTERS[-1][0] == "attributes"
# Customer._with_merged stores each field by name: a field added to Customer must be added there.
assert tuple(name for name, _ in _CUSTOMER_SETTERS) == (
    "id", "person_id", "segment", "tags", "age", "region", "channel", "employer_group", "new_to_bank",
    "delinquent", "device_id", "cards", "attributes",
)  # fmt: skip
(
    _set_id, _set_person_id, _set_segment, _set_tags, _set_age, _set_region, _set_channel,
    _set_employer_group, _set_new_to_bank, _set_delinquent, _set_device_id, _set_cards, _set_attributes,
) = (setter for _, setter in _CUSTOMER_SETTERS)  # fmt: skip
