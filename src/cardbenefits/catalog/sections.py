"""The catalog's sections and the one cross-reference checker they all share.

A catalog file has a few header keys (``id``, ``version``, ``timezone``...) and one list per
kind of item: ``benefits``, ``products`` and, in later modules, reward programmes, coupon
templates, prize pools... Each kind registers a :class:`Section` (its file key, the pydantic type
of one item and the conversions to and from the frozen domain object). Ids are unique per
section.

References between items are declared on the file models themselves, by annotating a field
with :class:`Ref`: ``list[Annotated[str, Ref("benefits")]]``. :func:`check_references`
walks each raw item guided by those annotations (so an item that failed validation still
has its references checked) and reports each reference to an unknown id with the closest
valid one. A model may open a *scope* for nested references (a product's ``modules`` are the
ids its modules' ``requires`` may name) with a class variable
``ref_scopes = {"modules": "modules"}`` (reference kind -> field holding the ids). Checks
that are not simple references register with :func:`register_check`.

>>> {"benefits", "products"} <= {s.key for s in sections()}
True
>>> Ref("benefits")
Ref(kind='benefits')
"""

from __future__ import annotations

import importlib
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Annotated, Any, Union, get_args, get_origin

import attrs
from pydantic import BaseModel

from cardbenefits.catalog.issues import CatalogIssue, closest, format_path
from cardbenefits.errors import CatalogError

__all__ = [
    "CheckContext",
    "Ref",
    "Section",
    "check_references",
    "checks",
    "discriminator_tags",
    "register_check",
    "register_section",
    "register_section_module",
    "section",
    "sections",
]


@attrs.frozen
class Ref:
    """Marks a file-model field (in ``Annotated``) as a reference to an id of ``kind``."""

    kind: str


@attrs.frozen(kw_only=True)
class Section:
    """One list of items in a catalog file.

    ``key`` is the file key and the reference kind; ``item_type`` the pydantic type of one
    item (a model or an ``Annotated`` discriminated union); ``to_domain`` builds the frozen
    domain object from a validated item, ``to_file`` the file model from a domain object.
    ``order`` fixes the position of the section in dumps and error reports.
    """

    key: str
    item_type: Any
    to_domain: Callable[[Any], Any]
    to_file: Callable[[Any], BaseModel]
    description: str = ""
    order: int = 100
    tags: frozenset[str] = frozenset()
    """Discriminator values of ``item_type`` (dropped from error paths)."""


_SECTIONS: dict[str, Section] = {}
_CHECKS: list[Callable[[CheckContext], Iterable[CatalogIssue]]] = []
_RESERVED = frozenset({"id", "version", "name", "description", "timezone", "currency", "fields"})


def register_section(new: Section) -> Section:
    """Add a section kind to every catalog (call at import time of the defining module)."""
    if new.key in _RESERVED:
        raise CatalogError("section key clashes with a header key", path="key", value=new.key)
    old = _SECTIONS.get(new.key)
    if old is not None and old.item_type is not new.item_type:
        raise CatalogError(
            "a different section is already registered under this key", path="key", value=new.key
        )
    _SECTIONS[new.key] = new
    return new


#: Modules of higher layers (engine, coupons, funnel) that define catalog sections. The
#: catalog must not import them at import time (lower layers never import higher ones), so
#: they are imported the first time sections are listed, like plug-ins.
SECTION_MODULES: list[str] = [
    "cardbenefits.engine.files",
    "cardbenefits.coupons.catalog_file",
    "cardbenefits.funnel.files",
]
_loaded_modules: set[str] = set()


def register_section_module(name: str) -> None:
    """Declare a module (e.g. a bank's own extension) whose import registers sections."""
    if name not in SECTION_MODULES:
        SECTION_MODULES.append(name)


def _load_section_modules() -> None:
    for name in SECTION_MODULES:
        if name in _loaded_modules:
            continue
        _loaded_modules.add(name)
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as err:
            # Only a missing plug-in module is tolerated; a broken import inside it is not.
            if err.name != name:
                raise


def sections() -> tuple[Section, ...]:
    """Registered sections in dump order."""
    _load_section_modules()
    return tuple(sorted(_SECTIONS.values(), key=lambda s: (s.order, s.key)))


def section(key: str) -> Section:
    """The registered section ``key``."""
    _load_section_modules()
    try:
        return _SECTIONS[key]
    except KeyError:
        raise CatalogError("unknown catalog section", path="section", value=key) from None


@attrs.frozen(kw_only=True)
class CheckContext:
    """What a registered check sees: validated items per section and the ids per kind.

    ``items[key]`` lists ``(index, model)`` for the items of section ``key`` that passed
    validation (the index is the position in the file, for error paths).
    """

    items: Mapping[str, Sequence[tuple[int, BaseModel]]]
    ids: Mapping[str, frozenset[str]]
    context: Mapping[str, Any]


def register_check(check: Callable[[CheckContext], Iterable[CatalogIssue]]) -> None:
    """Register a catalog-wide check run after item validation and reference checking."""
    if check not in _CHECKS:
        _CHECKS.append(check)


def checks() -> tuple[Callable[[CheckContext], Iterable[CatalogIssue]], ...]:
    """Registered checks in registration order."""
    return tuple(_CHECKS)


# -- the reference walker ------------------------------------------------------------------
def _refs_in(annotation: Any) -> tuple[Ref | None, Any]:
    """Split ``Annotated[T, Ref(...)]`` into the Ref and ``T``."""
    if get_origin(annotation) is Annotated:
        args = get_args(annotation)
        ref = next((a for a in args[1:] if isinstance(a, Ref)), None)
        return ref, args[0]
    return None, annotation


def _scope_ids(value: Any) -> frozenset[str]:
    ids: set[str] = set()
    for item in value if isinstance(value, list) else ():
        if isinstance(item, str):
            ids.add(item)
        elif isinstance(item, Mapping) and isinstance(item.get("id"), str):
            ids.add(item["id"])
    return frozenset(ids)


def check_references(
    raw: Any, item_type: Any, path: Sequence[str | int], ids: Mapping[str, frozenset[str]]
) -> Iterator[CatalogIssue]:
    """Every reference to an id missing from ``ids`` in the raw item ``raw`` (at ``path``).

    The walk follows the *raw* document guided by ``item_type``'s annotations, so references
    are checked even in an item that failed validation for another reason.
    """
    yield from _walk(raw, item_type, list(path), ids)


def _models_of(annotation: Any) -> list[type[BaseModel]]:
    _, inner = _refs_in(annotation)
    if isinstance(inner, type) and issubclass(inner, BaseModel):
        return [inner]
    if get_origin(inner) in (Union, types.UnionType):
        return [m for arg in get_args(inner) for m in _models_of(arg)]
    return []


def _walk(
    raw: Any, annotation: Any, path: list[str | int], ids: Mapping[str, frozenset[str]]
) -> Iterator[CatalogIssue]:
    if raw is None:
        return
    ref, inner = _refs_in(annotation)
    if ref is not None:
        if isinstance(raw, str):
            known = ids.get(ref.kind, frozenset())
            if raw not in known:
                label = ref.kind[:-1] if ref.kind.endswith("s") else ref.kind
                yield CatalogIssue(
                    format_path(path), f"unknown {label} id", value=raw, suggestion=closest(raw, known)
                )
        return
    if isinstance(raw, Mapping):
        models = _models_of(inner)
        if len(models) > 1:
            kind = raw.get("kind")
            models = [m for m in models if kind in _tags_of(m)]
        if len(models) == 1:
            yield from _walk_model(raw, models[0], path, ids)
            return
    origin = get_origin(inner)
    args = get_args(inner)
    if origin in (Union, types.UnionType):
        for arg in args:
            if arg is not type(None) and not _models_of(arg):
                yield from _walk(raw, arg, path, ids)
                return
        return
    if origin is list and isinstance(raw, list) and args:
        for i, item in enumerate(raw):
            yield from _walk(item, args[0], [*path, i], ids)
    elif origin is dict and isinstance(raw, Mapping) and len(args) == 2:
        for key, item in raw.items():
            yield from _walk(key, args[0], [*path, str(key)], ids)
            yield from _walk(item, args[1], [*path, str(key)], ids)


def _tags_of(model: type[BaseModel], field: str = "kind") -> frozenset[str]:
    info = model.model_fields.get(field)
    if info is None or get_origin(info.annotation) is not typing.Literal:
        return frozenset()
    return frozenset(str(v) for v in get_args(info.annotation))


def _walk_model(
    raw: Mapping[str, Any], model: type[BaseModel], path: list[str | int], ids: Mapping[str, frozenset[str]]
) -> Iterator[CatalogIssue]:
    scopes: Mapping[str, str] = getattr(model, "ref_scopes", {})
    if scopes:
        ids = {**ids, **{kind: _scope_ids(raw.get(field)) for kind, field in scopes.items()}}
    for name, info in model.model_fields.items():
        if name not in raw:
            continue
        annotation: Any = info.annotation
        for meta in info.metadata:
            if isinstance(meta, Ref):
                annotation = Annotated[annotation, meta]
        yield from _walk(raw[name], annotation, [*path, name], ids)


def discriminator_tags(item_type: Any, field: str = "kind") -> frozenset[str]:
    """The ``Literal`` values of ``field`` in a discriminated union (dropped from error paths)."""
    tags: set[str] = set()
    _, inner = _refs_in(item_type)
    if get_origin(inner) in (Union, types.UnionType):
        for arg in get_args(inner):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                tags.update(_tags_of(arg, field))
    return frozenset(tags)
