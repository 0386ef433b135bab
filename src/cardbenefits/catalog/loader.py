"""Load, validate and export catalogs (YAML or JSON).

Validation collects every problem before failing: unknown keys (with the closest valid key),
bad values, rule syntax and type errors (with the rule's ``line:column``), duplicate ids and
references to unknown ids (with the closest valid id). They arrive together in one
:class:`~cardbenefits.catalog.issues.CatalogValidationError`.

>>> text = '''
... id: demo
... version: "1"
... benefits:
...   - {id: cb1, kind: cashback, name: 返现, rate: 1}
... products:
...   - id: basic
...     name: {zh_CN: 基础卡, en: Basic card}
...     core: [cb_1]
...     modules:
...       - {id: m1, name: 模块, benefits: [cb1], eligibility: 'age >= 18 and segmnt == "x"'}
... '''
>>> loads(text)
Traceback (most recent call last):
  ...
cardbenefits.catalog.issues.CatalogValidationError: catalog has 2 errors:
  products[0].modules[0].eligibility:1:15: unknown field 'segmnt', did you mean 'segment'? (got 'segmnt')
  products[0].core[0]: unknown benefit id (got 'cb_1'; did you mean 'cb1'?)
>>> catalog = loads(text.replace("cb_1", "cb1").replace("segmnt", "segment"))
>>> catalog.summary()
{'benefits': 1, 'products': 1, 'modules': 1, 'rules': 1}
>>> loads(dumps(catalog)) == catalog
True
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import pendulum
import yaml
from pydantic import BaseModel, Field, TypeAdapter, ValidationError, create_model

from cardbenefits.catalog.files import DEFAULT_TIMEZONE, HeaderFile
from cardbenefits.catalog.issues import (
    CatalogIssue,
    CatalogReadError,
    CatalogValidationError,
    closest,
    format_path,
)
from cardbenefits.catalog.model import Catalog, dump_catalog
from cardbenefits.catalog.sections import CheckContext, Section, check_references, checks, sections
from cardbenefits.errors import MISSING, CardBenefitsError
from cardbenefits.money import DEFAULT_CURRENCY
from cardbenefits.rules import default_schema

__all__ = [
    "catalog_json_schema",
    "dumps",
    "load_catalog",
    "loads",
    "parse_catalog",
    "write_json_schema",
]

Format = Literal["yaml", "json"]


# -- reading text -----------------------------------------------------------------------------
class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses duplicate keys instead of keeping the last one."""


def _mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def _parse_text(text: str, fmt: Format, source: str | None) -> Any:
    if fmt == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as err:
            issue = CatalogIssue("", f"not valid JSON: {err.msg}", position=f"{err.lineno}:{err.colno}")
            raise CatalogValidationError([issue], source=source) from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        position = f"{mark.line + 1}:{mark.column + 1}" if mark is not None else None
        reason = err.problem or err.context or "not valid YAML"
        issue = CatalogIssue("", f"not valid YAML: {reason}", position=position)
        raise CatalogValidationError([issue], source=source) from None
    except yaml.YAMLError as err:
        raise CatalogValidationError([CatalogIssue("", f"not valid YAML: {err}")], source=source) from None


def loads(text: str, fmt: Format = "yaml", *, source: str | None = None) -> Catalog:
    """Parse and validate catalog ``text`` in ``fmt`` (``"yaml"``, a superset of JSON, or ``"json"``)."""
    return parse_catalog(_parse_text(text, fmt, source), source=source)


def load_catalog(path: str | os.PathLike[str]) -> Catalog:
    """Load a catalog file; ``.json`` files are read as JSON, anything else as YAML.

    Raises :class:`~cardbenefits.catalog.issues.CatalogReadError` when the file cannot be
    read and :class:`~cardbenefits.catalog.issues.CatalogValidationError` when it is invalid.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise CatalogReadError(f"cannot read catalog: {err}", path=str(file)) from None
    fmt: Format = "json" if file.suffix.lower() == ".json" else "yaml"
    return loads(text, fmt, source=str(file))


def dumps(catalog: Catalog, fmt: Format = "yaml") -> str:
    """The catalog as YAML or JSON text; :func:`loads` gives an equal catalog back."""
    data = dump_catalog(catalog)
    if fmt == "json":
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)


# -- validation -------------------------------------------------------------------------------
_HEADER_KEYS = tuple(HeaderFile.model_fields)

_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "missing required key",
    "string_type": "expected text",
    "int_type": "expected a whole number",
    "bool_type": "expected true or false",
    "list_type": "expected a list",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "string_pattern_mismatch": "not a valid id (ASCII letters, digits, '_', '-', '.')",
}


def _model_at(item_type: Any, loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The pydantic model that owns the last key of ``loc`` (for key suggestions)."""
    current: Any = item_type
    parts = list(loc)
    while True:
        while get_origin(current) is not None:
            args = [a for a in get_args(current) if a is not type(None)]
            origin = get_origin(current)
            if origin is list and parts and isinstance(parts[0], int):
                parts.pop(0)
                current = args[0]
                continue
            if origin is dict and parts:
                parts.pop(0)
                current = args[-1]
                continue
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            if len(models) > 1 and parts and isinstance(parts[0], str):
                tag = parts.pop(0)
                current = next((m for m in models if tag in _literal_tags(m)), None)
            elif models:
                current = models[0]
            elif args:
                current = args[0]
            else:
                return None
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        if len(parts) <= 1:
            return current
        info = current.model_fields.get(str(parts.pop(0)))
        if info is None:
            return None
        current = info.annotation


def _literal_tags(model: type[BaseModel]) -> set[str]:
    info = model.model_fields.get("kind")
    if info is None or get_origin(info.annotation) is not Literal:
        return set()
    return {str(v) for v in get_args(info.annotation)}


def _issues_from(
    err: ValidationError, prefix: Sequence[str | int], item_type: Any, tags: frozenset[str]
) -> list[CatalogIssue]:
    found: list[CatalogIssue] = []
    for e in err.errors(include_url=False):
        loc = list(e["loc"])
        type_loc = list(loc)
        if loc and isinstance(loc[0], str) and loc[0] in tags:
            loc = loc[1:]
        kind = e["type"]
        ctx = e.get("ctx") or {}
        message = _MESSAGES.get(kind, e["msg"])
        value: Any = e.get("input", MISSING)
        suggestion = None
        position = None
        if kind == "extra_forbidden":
            model = _model_at(item_type, type_loc)
            if model is not None:
                suggestion = closest(str(loc[-1]), model.model_fields)
            value = loc[-1] if loc else value
        elif kind == "missing":
            value = MISSING
        elif kind == "union_tag_invalid":
            loc = [*loc, "kind"]
            message = "unknown kind"
            value = ctx.get("tag", value)
            suggestion = closest(value, tags)
        elif kind == "union_tag_not_found":
            loc = [*loc, "kind"]
            message = f"missing 'kind' (one of {', '.join(sorted(tags))})"
            value = MISSING
        elif kind == "rule":
            position = str(ctx.get("position") or "") or None
            value = ctx.get("rule_value", MISSING)
        elif kind in ("money", "money_float", "decimal", "instant", "localized_text", "field_spec"):
            pass
        if isinstance(value, dict | list) and kind not in ("rule",):
            value = MISSING  # a whole sub-document is noise in a message
        found.append(CatalogIssue(format_path([*prefix, *loc]), message, value, suggestion, position))
    return found


def _ids_of(raw: Any) -> list[tuple[int, str]]:
    if not isinstance(raw, list):
        return []
    return [
        (i, item["id"])
        for i, item in enumerate(raw)
        if isinstance(item, dict) and isinstance(item.get("id"), str)
    ]


def parse_catalog(data: Any, *, source: str | None = None) -> Catalog:
    """Validate a parsed document (dicts and lists, as YAML/JSON give) and build the Catalog."""
    if not isinstance(data, Mapping):
        issue = CatalogIssue(
            "", "a catalog is a mapping with id, version and sections", value=type(data).__name__
        )
        raise CatalogValidationError([issue], source=source)
    registered = {s.key: s for s in sections()}
    issues: list[CatalogIssue] = []
    for key in data:
        if key not in registered and key not in _HEADER_KEYS:
            issues.append(
                CatalogIssue(
                    str(key), "unknown key", value=key, suggestion=closest(key, [*_HEADER_KEYS, *registered])
                )
            )

    # Header first: the currency, time zone and fields shape how every item is read.
    header: HeaderFile | None = None
    try:
        header = HeaderFile.model_validate({k: v for k, v in data.items() if k in _HEADER_KEYS})
    except ValidationError as err:
        issues.extend(_issues_from(err, [], HeaderFile, frozenset()))
    timezone = header.timezone if header else _raw_str(data, "timezone", DEFAULT_TIMEZONE)
    try:
        pendulum.timezone(timezone)
    except (pendulum.tz.exceptions.InvalidTimezone, ValueError):
        issues.append(CatalogIssue("timezone", "unknown time zone", value=timezone))
        timezone = DEFAULT_TIMEZONE
    currency = header.currency if header else _raw_str(data, "currency", DEFAULT_CURRENCY)
    schema = default_schema()
    if header is not None and header.fields:
        try:
            schema = schema.extend(header.fields)
        except CardBenefitsError as err:
            issues.append(
                CatalogIssue(f"fields.{err.path}" if err.path else "fields", err.message, err.value)
            )
    context = {"currency": currency, "timezone": timezone, "schema": schema}

    # Ids per section, from the raw items, so one bad item does not hide references to it.
    ids: dict[str, frozenset[str]] = {}
    for key, sec in registered.items():
        raw = data.get(key, [])
        if not isinstance(raw, list):
            issues.append(CatalogIssue(key, "expected a list", value=type(raw).__name__))
            continue
        seen: dict[str, int] = {}
        for i, item_id in _ids_of(raw):
            if item_id in seen:
                issues.append(
                    CatalogIssue(
                        format_path([key, i, "id"]),
                        f"duplicate id (first at {key}[{seen[item_id]}])",
                        item_id,
                    )
                )
            else:
                seen[item_id] = i
        ids[sec.key] = frozenset(seen)

    validated: dict[str, list[tuple[int, BaseModel]]] = {}
    for key, sec in registered.items():
        raw = data.get(key, [])
        validated[key] = []
        if not isinstance(raw, list):
            continue
        adapter = _adapter(sec)
        for i, item in enumerate(raw):
            try:
                validated[key].append((i, adapter.validate_python(item, context=context)))
            except ValidationError as err:
                issues.extend(_issues_from(err, [key, i], sec.item_type, sec.tags))

    for key, sec in registered.items():
        raw = data.get(key, [])
        for i, item in enumerate(raw if isinstance(raw, list) else []):
            issues.extend(check_references(item, sec.item_type, [key, i], ids))
    check_context = CheckContext(items=validated, ids=ids, context=context)
    for check in checks():
        issues.extend(check(check_context))
    if issues:
        raise CatalogValidationError(_ordered(issues), source=source)

    built: dict[str, list[Any]] = {}
    for key, items in validated.items():
        built[key] = []
        for i, model in items:
            try:
                built[key].append(registered[key].to_domain(model))
            except CardBenefitsError as err:
                issues.append(CatalogIssue(format_path([key, i]), err.message, err.value))
    if issues:
        raise CatalogValidationError(issues, source=source)
    assert header is not None  # no issues means the header validated
    return Catalog(
        id=header.id,
        version=header.version,
        name=header.name,
        description=header.description,
        timezone=header.timezone,
        currency=header.currency,
        fields=header.fields,
        sections=built,
    )


def _raw_str(data: Mapping[str, Any], key: str, default: str) -> str:
    value = data.get(key, default)
    return value if isinstance(value, str) else default


def _ordered(issues: list[CatalogIssue]) -> list[CatalogIssue]:
    """Header issues first, then by section order and item index; stable otherwise."""
    rank = {s.key: s.order for s in sections()}

    def key(issue: CatalogIssue) -> tuple[int, int]:
        head, _, rest = issue.path.partition("[")
        index = int(rest.split("]", 1)[0]) if rest[:1].isdigit() else -1
        return (rank.get(head, -1), index)

    return sorted(issues, key=key)


_ADAPTERS: dict[str, tuple[Any, TypeAdapter[Any]]] = {}


def _adapter(sec: Section) -> TypeAdapter[Any]:
    cached = _ADAPTERS.get(sec.key)
    if cached is None or cached[0] is not sec.item_type:
        cached = (sec.item_type, TypeAdapter(sec.item_type))
        _ADAPTERS[sec.key] = cached
    return cached[1]


# -- JSON Schema --------------------------------------------------------------------------------
def _catalog_file_model() -> type[BaseModel]:
    extra: dict[str, Any] = {
        sec.key: (list[sec.item_type], Field(default_factory=list, description=sec.description))  # type: ignore[name-defined]
        for sec in sections()
    }
    model: type[BaseModel] = create_model(
        "CatalogFile",
        __base__=HeaderFile,
        __doc__="A cardbenefits catalog: header keys and one list per section.",
        **extra,
    )
    return model


def catalog_json_schema() -> dict[str, Any]:
    """The JSON Schema of catalog files (for editors: YAML language server, VS Code...)."""
    schema = _catalog_file_model().model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "cardbenefits catalog"
    return schema


def write_json_schema(path: str | os.PathLike[str]) -> Path:
    """Write :func:`catalog_json_schema` to ``path`` (UTF-8, indented) and return the path."""
    target = Path(path)
    target.write_text(
        json.dumps(catalog_json_schema(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return target
