"""The :class:`Catalog`: a versioned benefit library and everything built from it.

A catalog is immutable. It has an ``id`` and a ``version`` (``catalog.ref`` is
``"youth-card@2026.11.1"``, recorded on every decision) and a content hash
(``catalog.digest``, sha256 of the canonical JSON dump) so two deployments can check they run
the same rules. Items live in sections (``benefits``, ``products`` and those later modules
register); :meth:`Catalog.section` reads any of them by key.

>>> from cardbenefits.catalog.loader import load_catalog
>>> catalog = load_catalog("examples/catalogs/benefits.yaml")
>>> catalog.ref
'cardbenefits-demo@2026.11.1'
>>> len(catalog.digest)
64
>>> catalog.product("youth").module("esports_pass").exclusive_group
'gaming'
>>> catalog.benefit("miles_3x").multiplier
Decimal('3')
"""

from __future__ import annotations

import hashlib
import json
import types
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from cardbenefits.catalog.benefits import Benefit, _check_id
from cardbenefits.catalog.eligibility import Eligibility
from cardbenefits.catalog.files import DEFAULT_TIMEZONE, HeaderFile
from cardbenefits.catalog.issues import closest
from cardbenefits.catalog.products import CardProduct
from cardbenefits.catalog.sections import sections
from cardbenefits.errors import CatalogError
from cardbenefits.i18n import LocalizedText
from cardbenefits.money import DEFAULT_CURRENCY
from cardbenefits.rules import FieldSchema, FieldSpec, Rule, default_schema

__all__ = ["Catalog", "canonical_json", "dump_catalog"]


def _fields(value: Mapping[str, FieldSpec]) -> Mapping[str, FieldSpec]:
    return types.MappingProxyType(dict(value))


def _sections(value: Mapping[str, Any]) -> Mapping[str, tuple[Any, ...]]:
    return types.MappingProxyType({key: tuple(items) for key, items in value.items() if items})


@attrs.frozen(kw_only=True)
class Catalog:
    """A benefit library (权益库): header, field schema and the items of every section.

    Build one with :func:`~cardbenefits.catalog.loader.load_catalog` or
    :func:`~cardbenefits.catalog.loader.parse_catalog`, which validate references; the
    constructor itself only checks that ids are unique per section.
    """

    id: str = attrs.field(validator=_check_id)
    version: str
    name: LocalizedText | None = None
    description: LocalizedText | None = None
    timezone: str = DEFAULT_TIMEZONE
    currency: str = DEFAULT_CURRENCY
    fields: Mapping[str, FieldSpec] = attrs.field(factory=dict, converter=_fields, hash=False)
    """Rule fields this catalog adds to :func:`~cardbenefits.rules.default_schema`."""
    sections: Mapping[str, tuple[Any, ...]] = attrs.field(factory=dict, converter=_sections, hash=False)
    schema: FieldSchema = attrs.field(init=False, eq=False, repr=False)
    _index: Mapping[str, Mapping[str, Any]] = attrs.field(init=False, eq=False, repr=False, hash=False)
    _digest: list[str] = attrs.field(init=False, eq=False, repr=False, hash=False, factory=list)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "schema", default_schema().extend(self.fields))
        index: dict[str, Mapping[str, Any]] = {}
        for key, items in self.sections.items():
            by_id: dict[str, Any] = {}
            for i, item in enumerate(items):
                item_id = getattr(item, "id", None)
                if item_id in by_id:
                    raise CatalogError("duplicate id", path=f"{key}[{i}].id", value=item_id)
                by_id[str(item_id)] = item
            index[key] = types.MappingProxyType(by_id)
        object.__setattr__(self, "_index", types.MappingProxyType(index))

    # -- identity -----------------------------------------------------------------------
    @property
    def ref(self) -> str:
        """``id@version``, e.g. ``"youth-card@2026.11.1"``: what decisions record."""
        return f"{self.id}@{self.version}"

    @property
    def digest(self) -> str:
        """sha256 (hex) of the canonical JSON dump: equal catalogs have equal digests."""
        if not self._digest:
            text = canonical_json(dump_catalog(self))
            self._digest.append(hashlib.sha256(text.encode("utf-8")).hexdigest())
        return self._digest[0]

    # -- access -------------------------------------------------------------------------
    def section(self, key: str) -> Mapping[str, Any]:
        """Items of section ``key`` by id (empty when the catalog has none)."""
        return self._index.get(key, types.MappingProxyType({}))

    def get(self, key: str, item_id: str) -> Any:
        """Item ``item_id`` of section ``key``; raises CatalogError naming the closest id."""
        items = self.section(key)
        try:
            return items[item_id]
        except KeyError:
            hint = closest(item_id, items)
            extra = f"; did you mean {hint!r}?" if hint else ""
            raise CatalogError(f"unknown id in {key}{extra}", path=key, value=item_id) from None

    @property
    def benefits(self) -> Mapping[str, Benefit]:
        """The benefit library by id."""
        return self.section("benefits")

    @property
    def products(self) -> Mapping[str, CardProduct]:
        """Card products by id."""
        return self.section("products")

    def benefit(self, benefit_id: str) -> Benefit:
        """Benefit ``benefit_id``."""
        result: Benefit = self.get("benefits", benefit_id)
        return result

    def product(self, product_id: str) -> CardProduct:
        """Card product ``product_id``."""
        result: CardProduct = self.get("products", product_id)
        return result

    def rules(self) -> Iterator[Eligibility]:
        """Every eligibility rule in the catalog, in file order."""
        for items in self.sections.values():
            for item in items:
                yield from _rules_in(item)

    def summary(self) -> dict[str, int]:
        """Counts for a one-line report: items per section, modules and rules.

        Benefits and products are always counted; other sections only when the catalog has them.
        """
        counts = {
            s.key: len(self.section(s.key))
            for s in sections()
            if s.key in ("benefits", "products") or self.section(s.key)
        }
        counts["modules"] = sum(len(p.modules) for p in self.products.values())
        counts["rules"] = sum(1 for _ in self.rules())
        return counts

    def dump(self) -> dict[str, Any]:
        """The file form (JSON-compatible); loading it gives an equal catalog."""
        return dump_catalog(self)


def _rules_in(value: Any) -> Iterator[Eligibility]:
    if isinstance(value, Eligibility):
        yield value
    elif isinstance(value, Rule):
        # Sections of later layers (programmes, coupons, campaigns) keep the parsed rule itself.
        yield Eligibility(value.text, value)
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _rules_in(item)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _rules_in(item)
    elif attrs.has(type(value)):
        for field in attrs.fields(type(value)):
            if field.init:
                yield from _rules_in(getattr(value, field.name))


def dump_catalog(catalog: Catalog) -> dict[str, Any]:
    """The catalog in file form (plain dicts, lists and strings; defaults left out)."""
    context = {"currency": catalog.currency, "timezone": catalog.timezone}
    header = HeaderFile.model_validate(
        {
            "id": catalog.id,
            "version": catalog.version,
            "name": catalog.name,
            "description": catalog.description,
            "timezone": catalog.timezone,
            "currency": catalog.currency,
            "fields": dict(catalog.fields),
        }
    )
    out: dict[str, Any] = header.model_dump(mode="json", exclude_defaults=True, context=context)
    for sec in sections():
        items = catalog.sections.get(sec.key, ())
        if items:
            out[sec.key] = [
                _id_first(sec.to_file(item).model_dump(mode="json", exclude_defaults=True, context=context))
                for item in items
            ]
    return out


def _id_first(item: dict[str, Any]) -> dict[str, Any]:
    # Readability: ``id`` and ``kind`` lead each item in a dumped file.
    head: dict[str, Any] = {k: item[k] for k in ("id", "kind") if k in item}
    return {**head, **{k: v for k, v in item.items() if k not in head}}


def canonical_json(data: Any) -> str:
    """Canonical JSON text: sorted keys, no spaces, UTF-8 characters kept.

    >>> canonical_json({"b": 1, "a": ["权益", None]})
    '{"a":["权益",null],"b":1}'
    """
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
