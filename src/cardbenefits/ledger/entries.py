"""Ledger entries: what the engine hands the ledger to append, one batch per decision.

A :class:`LedgerEntry` records one movement of value for a customer — a cashback grant, its
clawback after a refund (扣回), a coupon issued, redeemed (核销), returned or expired — and the
:class:`Charge` movements it makes on named counters (caps, budgets, stock). Limits travel *on
the charges*, so the ledger enforces them without knowing the catalog. An :class:`EntryBatch`
groups the entries of one decision under an idempotency key; entry ids are derived from it
(``f"{key}#{index}"``) so replays produce the same ids.

>>> import pendulum
>>> from cardbenefits.money import Money
>>> at = pendulum.datetime(2026, 11, 3, 12, 30, tz="Asia/Shanghai")
>>> grant = LedgerEntry(
...     kind=EntryKind.GRANT, customer_id="cust42", programme_id="cashback50", benefit_id="cb5",
...     asset="cashback", amount=Money.of("5.00"), at=at, catalog_version="v1",
...     ref="txn-9", reason="qualified",
...     charges=(Charge("cap:cashback50:cust42:2026-11", 1, 5), Charge("budget:cashback50", "5.00", 100000)),
... )
>>> batch = EntryBatch.of("txn-9:cashback50", [grant])
>>> batch.entries[0].entry_id
'txn-9:cashback50#0'
>>> batch.entries[0].signed_quantity
Decimal('5.00')
>>> sorted(batch.net_charges().items())[0]
('budget:cashback50', (Decimal('5.00'), Decimal('100000')))
>>> Charge("budget:cashback50", 1.5, None)
Traceback (most recent call last):
  ...
cardbenefits.errors.MoneyError: delta: floats are not accepted, pass a str, int or Decimal (got 1.5)
"""

from __future__ import annotations

import enum
import operator
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs
import pendulum

from cardbenefits.errors import LedgerError
from cardbenefits.money import Money, to_decimal

__all__ = [
    "MONEY_ASSET_KINDS",
    "Charge",
    "EntryBatch",
    "EntryKind",
    "FrozenMap",
    "LedgerEntry",
    "is_money_asset",
    "split_entry_id",
]

#: Asset names (before any ``:``) whose quantities are money, carried in ``LedgerEntry.amount``.
MONEY_ASSET_KINDS = frozenset({"cashback", "fund"})

_ENTRY_ID = re.compile(r"^(?P<key>.+)#(?P<index>0|[1-9][0-9]*)$")


def is_money_asset(asset: str) -> bool:
    """True when ``asset`` is counted in money (``cashback``, ``fund:<id>`` ...).

    >>> is_money_asset("cashback"), is_money_asset("fund:acme"), is_money_asset("coupon:w50")
    (True, True, False)
    """
    return asset.split(":", 1)[0] in MONEY_ASSET_KINDS


def _text(path: str) -> Any:
    def check(_inst: object, _attr: object, value: object) -> None:
        if not isinstance(value, str) or not value or value != value.strip():
            raise LedgerError("must be a non-empty string without surrounding spaces", path=path, value=value)

    return check


def _optional_text(path: str) -> Any:
    inner = _text(path)

    def check(inst: object, attr: object, value: object) -> None:
        if value is not None:
            inner(inst, attr, value)

    return check


class EntryKind(enum.StrEnum):
    """What an entry records; :attr:`sign` says how it moves the customer's balance.

    >>> [(k.value, k.sign) for k in EntryKind]  # doctest: +NORMALIZE_WHITESPACE
    [('grant', 1), ('clawback', -1), ('issue', 1), ('redeem', -1), ('return', 1), ('expire', -1),
     ('adjust', 1)]
    """

    GRANT = "grant"
    """A reward granted (返现, points, miles, membership)."""
    CLAWBACK = "clawback"
    """扣回: reverses a grant (``ref`` names it), e.g. after a refund drops spend below a threshold."""
    ISSUE = "issue"
    """A coupon issued to the customer (领券)."""
    REDEEM = "redeem"
    """核销: a coupon (or points) used at payment."""
    RETURN = "return"
    """A redeemed coupon given back after the order was refunded."""
    EXPIRE = "expire"
    """A coupon or points balance that lapsed unused."""
    ADJUST = "adjust"
    """A manual correction; its quantity carries its own sign."""

    @property
    def sign(self) -> int:
        """+1 or -1: the direction this kind moves a balance (``adjust`` keeps its own sign)."""
        return _SIGNS[self]


_SIGNS = {
    EntryKind.GRANT: 1,
    EntryKind.CLAWBACK: -1,
    EntryKind.ISSUE: 1,
    EntryKind.REDEEM: -1,
    EntryKind.RETURN: 1,
    EntryKind.EXPIRE: -1,
    EntryKind.ADJUST: 1,
}


class FrozenMap(Mapping[str, str]):
    """An immutable, hashable ``str → str`` mapping (entry explanations), kept in key order.

    >>> m = FrozenMap({"rule": "spend >= 50", "tier": "1"})
    >>> m["tier"], list(m), m == {"tier": "1", "rule": "spend >= 50"}
    ('1', ['rule', 'tier'], True)
    >>> hash(m) == hash(FrozenMap([("tier", "1"), ("rule", "spend >= 50")]))
    True
    """

    __slots__ = ("_items", "_map")

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        data: dict[str, str]
        if isinstance(items, dict):  # entries' meta: checked in place, no copy (nor the ABC check)
            data = items
            for key, value in data.items():
                if key.__class__ is not str or value.__class__ is not str:
                    _check_pair(key, value)
        else:
            pairs = items.items() if isinstance(items, Mapping) else items
            data = {}
            for key, value in pairs:
                _check_pair(key, value)
                data[key] = value
        self._items = tuple(sorted(data.items()))
        self._map = dict(self._items)

    def __getitem__(self, key: str) -> str:
        return self._map[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._map)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenMap):
            return self._items == other._items
        if isinstance(other, Mapping):
            return self._map == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"FrozenMap({self._map!r})"


def _check_pair(key: object, value: object) -> None:
    if not isinstance(key, str) or not isinstance(value, str):
        raise LedgerError("meta keys and values must be strings", path=f"meta[{key!r}]", value=value)


def _to_frozen_map(value: Mapping[str, str] | Iterable[tuple[str, str]]) -> FrozenMap:
    return value if isinstance(value, FrozenMap) else FrozenMap(value)


def _to_delta(value: object) -> Decimal:
    if value.__class__ is int:  # what to_decimal gives an int (not a bool), without its checks
        return Decimal(value)
    return to_decimal(value, path="delta")


def _to_limit(value: object) -> Decimal | None:
    if value is None:
        return None
    if value.__class__ is int:
        return Decimal(value)
    return to_decimal(value, path="limit")


def _check_limit(_inst: object, _attr: object, value: Decimal | None) -> None:
    if value is not None and value < 0:
        raise LedgerError("a limit must not be negative", path="limit", value=value)


@attrs.frozen
class Charge:
    """A movement of ``delta`` on a named counter that may not pass ``limit``.

    Counters are plain names chosen by the catalog/engine, e.g. ``cap:cashback50:cust42:2026-11``
    (grants this month), ``budget:cashback50`` (yuan), ``stock:prize:iphone:2026-11-23``. A
    positive delta is checked against ``limit`` (``None``: unlimited, merely counted); a negative
    delta releases (refund, clawback, coupon return) and is never refused unless it would take
    the counter below zero.

    >>> Charge("stock:prize:iphone", 1, 10)
    Charge(counter='stock:prize:iphone', delta=Decimal('1'), limit=Decimal('10'))
    """

    counter: str = attrs.field(validator=_text("counter"))
    delta: Decimal = attrs.field(converter=_to_delta)
    limit: Decimal | None = attrs.field(default=None, converter=_to_limit, validator=_check_limit)


def _to_utc(value: Any) -> datetime:
    # Stored in UTC: datetimes in a DST zone compare by wall time within the zone and a
    # repeated local time never equals an instant in another zone (PEP 495), so entries
    # decoded from the log would not compare equal to the ones the engine built.
    global _last_utc
    last = _last_utc
    if value is last[0]:
        return last[1]
    if not isinstance(value, datetime) or value.tzinfo is None or (offset := value.utcoffset()) is None:
        raise LedgerError("must be an aware datetime", path="at", value=value)
    if type(value) is not _PENDULUM:
        utc = value.astimezone(_UTC)
    elif value.tzinfo is _UTC:
        # What pendulum's astimezone(UTC) gives, several times cheaper: a UTC instant as it is
        # (its fold too), else the wall time minus the offset in force as a pendulum UTC instant.
        return value
    else:
        u = datetime(value.year, value.month, value.day, value.hour, value.minute, value.second,
                     value.microsecond) - offset  # fmt: skip
        utc = _PENDULUM(u.year, u.month, u.day, u.hour, u.minute, u.second, u.microsecond, tzinfo=_UTC)
    _last_utc = (value, utc)
    return utc


_UTC = pendulum.UTC
_PENDULUM = pendulum.DateTime
# A decision's entries mostly share their instant (a referral's stage marker and rewards, a
# draw's marker and coupon): the last conversion, kept with the immutable datetime it was made
# from (held here, so the identity test never matches a new object at a reused address).
_last_utc: tuple[object, datetime] = (None, datetime.min)


def _to_kind(value: Any) -> EntryKind:
    if value.__class__ is EntryKind:
        return value  # what EntryKind(value) returns, without the enum lookup
    try:
        return EntryKind(value)
    except ValueError:
        raise LedgerError(
            f"unknown entry kind; expected one of {', '.join(k.value for k in EntryKind)}",
            path="kind",
            value=value,
        ) from None


def _to_units(value: object) -> Decimal:
    if value.__class__ is int:
        return Decimal(value)
    return to_decimal(value, path="units")


def _to_charges(value: Iterable[Charge]) -> tuple[Charge, ...]:
    return tuple(value)


@attrs.frozen
class LedgerEntry:
    """One movement of value for a customer, with the counter charges it makes.

    Money assets (see :func:`is_money_asset`) carry ``amount`` and ``units == 0``; other assets
    (``points``, ``miles``, ``coupon:<template>``, ``membership:<id>``) carry ``units`` and no
    amount. Quantities are magnitudes (never negative) whose direction comes from ``kind``;
    only :attr:`EntryKind.ADJUST` may be negative. ``ref`` names the entry a clawback, redeem
    or return refers to, or the source event id. ``entry_id`` is assigned by
    :meth:`EntryBatch.of` (``""`` until then).
    """

    kind: EntryKind = attrs.field(converter=_to_kind)
    customer_id: str = attrs.field(validator=_text("customer_id"))
    programme_id: str = attrs.field(validator=_text("programme_id"))
    asset: str = attrs.field(validator=_text("asset"))
    at: datetime = attrs.field(converter=_to_utc)
    catalog_version: str = attrs.field(validator=_text("catalog_version"))
    reason: str = attrs.field(validator=_text("reason"))
    amount: Money | None = attrs.field(default=None)
    units: Decimal = attrs.field(default=Decimal(0), converter=_to_units)
    person_id: str | None = attrs.field(default=None, validator=_optional_text("person_id"))
    benefit_id: str | None = attrs.field(default=None, validator=_optional_text("benefit_id"))
    ref: str | None = attrs.field(default=None, validator=_optional_text("ref"))
    charges: tuple[Charge, ...] = attrs.field(default=(), converter=_to_charges)
    meta: FrozenMap = attrs.field(factory=FrozenMap, converter=_to_frozen_map)
    entry_id: str = attrs.field(default="", kw_only=True)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.entry_id, str):
            raise LedgerError("entry_id must be a string", path="entry_id", value=self.entry_id)
        for i, charge in enumerate(self.charges):
            if not isinstance(charge, Charge):
                raise LedgerError("charges must be Charge objects", path=f"charges[{i}]", value=charge)
        if is_money_asset(self.asset):
            if not isinstance(self.amount, Money):
                raise LedgerError(
                    f"money asset {self.asset!r} needs an amount", path="amount", value=self.amount
                )
            if self.units != 0:
                raise LedgerError("a money entry carries its quantity in amount, not units", path="units",
                                  value=self.units)  # fmt: skip
        elif self.amount is not None:
            raise LedgerError(f"asset {self.asset!r} is counted in units, not money", path="amount",
                              value=self.amount)  # fmt: skip
        if self.kind is not EntryKind.ADJUST and self.quantity < 0:
            raise LedgerError(
                f"a {self.kind.value} entry carries a magnitude; its sign comes from the kind",
                path="amount" if self.amount is not None else "units",
                value=self.quantity,
            )

    def amended(
        self,
        *,
        entry_id: str | None = None,
        charges: Iterable[Charge] | None = None,
        meta: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    ) -> LedgerEntry:
        """A copy with ``entry_id``, ``charges`` and/or ``meta`` replaced (``None`` keeps a field).

        What ``attrs.evolve`` gives for these fields, with the same checks on the new values, but
        the other fields are not converted and checked again: they were when this entry was built
        (the hot paths number every entry of a batch and add charges to issued coupons).

        >>> at = pendulum.datetime(2026, 11, 3, tz="Asia/Shanghai")
        >>> e = LedgerEntry(kind="grant", customer_id="c1", programme_id="p", asset="points",
        ...                 units=5, at=at, catalog_version="v1", reason="r")
        >>> e.amended(entry_id="k#0", meta={"a": "1"}) == attrs.evolve(e, entry_id="k#0", meta={"a": "1"})
        True
        >>> e.amended(charges=["cap"])
        Traceback (most recent call last):
          ...
        cardbenefits.errors.LedgerError: charges[0]: charges must be Charge objects (got 'cap')
        """
        changes: dict[str, object] = {}
        if entry_id is not None:
            if not isinstance(entry_id, str):
                raise LedgerError("entry_id must be a string", path="entry_id", value=entry_id)
            changes["entry_id"] = entry_id
        if charges is not None:
            fresh = _to_charges(charges)
            for i, charge in enumerate(fresh):
                if not isinstance(charge, Charge):
                    raise LedgerError("charges must be Charge objects", path=f"charges[{i}]", value=charge)
            changes["charges"] = fresh
        if meta is not None:
            changes["meta"] = _to_frozen_map(meta)
        values = _entry_values(self)
        copy = object.__new__(LedgerEntry)
        for name, setter, value in zip(_ENTRY_FIELDS, _ENTRY_SETTERS, values, strict=True):
            setter(copy, changes.get(name, value))
        return copy

    @property
    def quantity(self) -> Decimal:
        """The entry's magnitude: the money amount (yuan) or the unit count."""
        return self.amount.amount if self.amount is not None else self.units

    @property
    def signed_quantity(self) -> Decimal:
        """The quantity with the kind's sign: what this entry adds to the customer's balance."""
        q = self.quantity
        return q if self.kind.sign > 0 else -q


_ENTRY_FIELDS = tuple(field.name for field in attrs.fields(LedgerEntry))
_entry_values = operator.attrgetter(*_ENTRY_FIELDS)
# the slots' own setters (a frozen attrs class refuses its __setattr__)
_ENTRY_SETTERS = tuple(LedgerEntry.__dict__[name].__set__ for name in _ENTRY_FIELDS)


def _check_key(_inst: object, _attr: object, value: Any) -> None:
    _text("idempotency_key")(_inst, _attr, value)


def _to_entries(value: Iterable[LedgerEntry]) -> tuple[LedgerEntry, ...]:
    return tuple(value)


@attrs.frozen
class EntryBatch:
    """The entries of one decision, applied atomically under one idempotency key.

    Entry ``i`` must have id ``f"{idempotency_key}#{i}"``; build batches with :meth:`of` to get
    that for free. An empty batch is allowed: applying it records that the decision was taken
    (nothing granted) so a replayed event is recognised.

    >>> EntryBatch("evt-1", ()).entries
    ()
    """

    idempotency_key: str = attrs.field(validator=_check_key)
    entries: tuple[LedgerEntry, ...] = attrs.field(default=(), converter=_to_entries)

    def __attrs_post_init__(self) -> None:
        for i, entry in enumerate(self.entries):
            if not isinstance(entry, LedgerEntry):
                raise LedgerError(
                    "batch entries must be LedgerEntry objects", path=f"entries[{i}]", value=entry
                )
            if entry.entry_id != f"{self.idempotency_key}#{i}":
                raise LedgerError(
                    f"entry id must be {self.idempotency_key}#{i}; build batches with EntryBatch.of",
                    path=f"entries[{i}].entry_id",
                    value=entry.entry_id,
                )

    @classmethod
    def of(cls, idempotency_key: str, entries: Sequence[LedgerEntry]) -> EntryBatch:
        """Build a batch, assigning each entry its id ``f"{idempotency_key}#{index}"``."""
        _check_key(None, None, idempotency_key)
        numbered: list[LedgerEntry] = []
        plain = cls is EntryBatch
        for i, e in enumerate(entries):
            entry_id = f"{idempotency_key}#{i}"
            if type(e) is LedgerEntry:
                numbered.append(e if e.entry_id == entry_id else e.amended(entry_id=entry_id))
            else:
                plain = False
                numbered.append(e if e.entry_id == entry_id else attrs.evolve(e, entry_id=entry_id))
        if not plain:
            return cls(idempotency_key, numbered)  # the checks of __init__ (and their errors)
        # Every entry now carries its id, so __init__ would only check again what was just made.
        batch = _new(EntryBatch)
        _BATCH_SETTERS[0](batch, idempotency_key)
        _BATCH_SETTERS[1](batch, tuple(numbered))
        return batch

    def net_charges(self) -> dict[str, tuple[Decimal, Decimal | None]]:
        """Per counter: the sum of the batch's deltas and the tightest limit stated for it.

        The ledger checks this net movement, so a batch that releases and re-charges the same
        counter (a refund and a new grant) needs no headroom beyond its net effect.
        """
        net: dict[str, tuple[Decimal, Decimal | None]] = {}
        for entry in self.entries:
            for charge in entry.charges:
                previous = net.get(charge.counter)
                if previous is None:
                    net[charge.counter] = (charge.delta, charge.limit)
                else:
                    total, limit = previous
                    if limit is None or (charge.limit is not None and charge.limit < limit):
                        limit = charge.limit
                    net[charge.counter] = (total + charge.delta, limit)
        return net


_new = object.__new__
_BATCH_SETTERS = tuple(EntryBatch.__dict__[field.name].__set__ for field in attrs.fields(EntryBatch))


def split_entry_id(entry_id: str) -> tuple[str, int]:
    """The idempotency key and index an entry id was built from.

    >>> split_entry_id("txn#7:cashback50#2")
    ('txn#7:cashback50', 2)
    """
    match = _ENTRY_ID.match(entry_id)
    if match is None:
        raise LedgerError("not an entry id of the form '<key>#<index>'", path="entry_id", value=entry_id)
    return match["key"], int(match["index"])
