"""MkDocs hooks: render docstring doctests (bare ``>>>`` runs) as Python console blocks."""

from __future__ import annotations

import re
from typing import Any

from markdown import Extension, Markdown
from markdown.preprocessors import Preprocessor

_FENCE = re.compile(r"^\s*(```|~~~)")


class _DoctestFence(Preprocessor):
    def run(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        in_doctest = False
        in_fence = False
        for line in lines:
            if _FENCE.match(line):
                in_fence = not in_fence
            if not in_fence and not in_doctest and line.startswith(">>>"):
                out.append("```pycon")
                in_doctest = True
            elif in_doctest and not line.strip():
                out.append("```")
                in_doctest = False
            out.append(line)
        if in_doctest:
            out.append("```")
        return out


class DoctestFenceExtension(Extension):
    """Wrap doctest runs so Markdown does not read ``['a']`` as a link reference."""

    def extendMarkdown(self, md: Markdown) -> None:  # noqa: N802 - Markdown's API name
        md.preprocessors.register(_DoctestFence(md), "doctest_fence", 40)


def on_config(config: Any) -> Any:
    config.markdown_extensions.append(DoctestFenceExtension())
    return config


# -- catalog file-format reference, generated from the JSON Schema ------------------------------
CATALOG_FORMAT_PAGE = "reference/catalog-format.md"
CATALOG_FORMAT_MARKER = "<!-- catalog-format -->"

_ROLE = re.compile(r":\w+:`~?(?:[\w.]+\.)?([^`]+)`")
_RST_CODE = re.compile(r"``([^`]+)``")


def _prose(text: str) -> str:
    """Docstring text (reStructuredText roles and literals) as one line of Markdown."""
    text = _ROLE.sub(r"`\1`", text)
    text = _RST_CODE.sub(r"`\1`", text)
    return " ".join(text.split())


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _def_name(ref: str) -> str:
    name = ref.rsplit("/", 1)[-1]
    return name[: -len("File")] if name.endswith("File") and len(name) > 4 else name


def _anchor(title: str) -> str:
    from markdown.extensions.toc import slugify

    return str(slugify(title, "-"))


def _link(ref: str) -> str:
    name = _def_name(ref)
    return f"[{name}](#{_anchor(name)})"


def _literal(value: object) -> str:
    import json

    return "`" + json.dumps(value, ensure_ascii=False) + "`"


def _bounds(node: dict[str, Any]) -> str:
    parts = []
    if "minimum" in node:
        parts.append(f"≥ {node['minimum']}")
    if "exclusiveMinimum" in node:
        parts.append(f"> {node['exclusiveMinimum']}")
    if "maximum" in node:
        parts.append(f"≤ {node['maximum']}")
    if node.get("minItems"):
        parts.append(f"at least {node['minItems']}")
    if node.get("minLength"):
        parts.append(f"length ≥ {node['minLength']}")
    return f" ({', '.join(parts)})" if parts else ""


def schema_type(node: dict[str, Any]) -> str:
    """A readable type of a JSON Schema node: links to named types, lists, maps, enums, unions."""
    if "$ref" in node:
        return _link(node["$ref"])
    if "const" in node:
        return _literal(node["const"])
    if "enum" in node:
        return "one of " + ", ".join(_literal(v) for v in node["enum"])
    disc = node.get("discriminator")
    if disc is not None:
        by = disc["propertyName"]
        options = ", ".join(f"`{key}`: {_link(ref)}" for key, ref in disc["mapping"].items())
        return f"by `{by}` — {options}"
    for key in ("anyOf", "oneOf"):
        if key in node:
            seen: list[str] = []
            for option in node[key]:
                text = schema_type(option)
                if text not in seen:
                    seen.append(text)
            return " or ".join(seen)
    kind = node.get("type")
    if kind == "array":
        items = node.get("items")
        return ("list of " + schema_type(items) if items else "list") + _bounds(node)
    if kind == "object":
        props = node.get("properties")
        if props:
            return "mapping with keys " + ", ".join(f"`{k}`" for k in props) + _bounds(node)
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            return "mapping of text to " + schema_type(extra)
        return "mapping"
    if isinstance(kind, str):
        return kind + _bounds(node)
    return "any value"


def _description(node: dict[str, Any]) -> str:
    if node.get("description"):
        return _prose(str(node["description"]))
    for key in ("anyOf", "oneOf"):
        for option in node.get(key, ()):
            if isinstance(option, dict) and option.get("description"):
                return _prose(str(option["description"]))
    return ""


def _default(node: dict[str, Any]) -> str:
    if "default" not in node:
        return ""
    value = node["default"]
    if value is None:
        return "null"
    text = _literal(value)
    return text if len(text) <= 40 else "(see type)"


def _fields_table(node: dict[str, Any]) -> list[str]:
    required = set(node.get("required", ()))
    lines = ["| Field | Type | Required | Default | Description |", "|---|---|---|---|---|"]
    for name, prop in node.get("properties", {}).items():
        need = "required" if name in required else "optional"
        default = "" if name in required else _default(prop)
        row = [f"`{name}`", schema_type(prop), need, default, _description(prop)]
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return lines


def _refs(node: object) -> list[str]:
    """Every ``$ref`` under ``node``, in document order."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.append(value)
            elif key == "mapping" and isinstance(value, dict):
                found.extend(str(v) for v in value.values())
            else:
                found.extend(_refs(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_refs(value))
    return found


def render_catalog_format(schema: dict[str, Any]) -> str:
    """The catalog file-format reference (Markdown) for the JSON Schema of catalog files.

    Header fields first, then each section (a top-level list) with its item type, then every
    named type in the order the sections first use it, each with a table of its fields: type,
    required or optional, default and description.
    """
    defs: dict[str, dict[str, Any]] = schema.get("$defs", {})
    props: dict[str, dict[str, Any]] = schema.get("properties", {})
    required = set(schema.get("required", ()))
    header = {k: v for k, v in props.items() if v.get("type") != "array"}
    sections = {k: v for k, v in props.items() if v.get("type") == "array"}
    out = ["## Header fields", ""]
    if schema.get("description"):
        out += [_prose(str(schema["description"])), ""]
    out += _fields_table({"properties": header, "required": sorted(required & header.keys())})
    out += ["", "## Sections", ""]
    out += [
        "Every section is optional and is a list of items with distinct `id`s. "
        "Sections of higher layers (coupons, engine, funnel) are plug-ins registered by their packages.",
        "",
    ]
    for name, node in sections.items():
        out += [f"### `{name}`", ""]
        if node.get("description"):
            out += [_prose(str(node["description"])), ""]
        out += [f"Each item: {schema_type(node.get('items', {}))}.", ""]
    order: list[str] = []
    pending = [ref for node in props.values() for ref in _refs(node)]
    while pending:
        ref = pending.pop(0)
        name = ref.rsplit("/", 1)[-1]
        if name in order or name not in defs:
            continue
        order.append(name)
        pending = _refs(defs[name]) + pending
    order += sorted(set(defs) - set(order))
    out += ["## Types", ""]
    for name in order:
        node = defs[name]
        out += [f"### {_def_name(name)}", ""]
        if node.get("description"):
            out += [_prose(str(node["description"])), ""]
        if node.get("properties"):
            out += _fields_table(node)
        else:
            out += [f"A {schema_type(node)}."]
        out.append("")
    return "\n".join(out)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Fill the catalog-format page from :func:`cardbenefits.catalog.catalog_json_schema`."""
    if page.file.src_uri != CATALOG_FORMAT_PAGE:
        return markdown
    if CATALOG_FORMAT_MARKER not in markdown:
        raise ValueError(f"{CATALOG_FORMAT_PAGE} lost its {CATALOG_FORMAT_MARKER} marker")
    from cardbenefits.catalog import catalog_json_schema

    return markdown.replace(CATALOG_FORMAT_MARKER, render_catalog_format(catalog_json_schema()))
