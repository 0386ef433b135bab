"""Docs cannot drift: every Python block in docs/ runs, and its shown output is checked.

Convention: a ```python block runs in a namespace shared by the blocks of the same page; when a
```text block follows it (only blank lines between), that block is the exact expected stdout.
Every script in examples/ runs in a subprocess and its stdout must equal
examples/expected/<name>.txt. The mkdocs site builds with warnings as errors.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"

_FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```\s*$", re.S | re.M)


def _blocks(text: str) -> list[tuple[str, str | None]]:
    """(code, expected output or None) for every python block of a page."""
    found = [(m.group(1), m.group(2), m.start(), m.end()) for m in _FENCE.finditer(text)]
    pairs: list[tuple[str, str | None]] = []
    for i, (lang, body, _start, end) in enumerate(found):
        if lang != "python":
            continue
        expected = None
        if i + 1 < len(found):
            nlang, nbody, nstart, _ = found[i + 1]
            if nlang == "text" and text[end:nstart].strip() == "":
                expected = nbody
        pairs.append((body, expected))
    return pairs


PAGES = sorted(p for p in DOCS.rglob("*.md") if "python" in p.read_text(encoding="utf-8"))


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(DOCS)) for p in PAGES])
def test_docs_page_runs(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}", "TMP": tmp_path}
    for number, (code, expected) in enumerate(_blocks(page.read_text(encoding="utf-8")), 1):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, f"{page.name}[block {number}]", "exec"), namespace)
        if expected is not None:
            assert out.getvalue() == expected, f"{page.name} block {number} printed something else"


SCRIPTS = sorted(EXAMPLES.glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_example_script_output(script: Path, tmp_path: Path) -> None:
    expected = EXAMPLES / "expected" / f"{script.stem}.txt"
    env = {**os.environ, "PYTHONHASHSEED": "0", "CARDBENEFITS_OUT": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=ROOT, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    assert expected.exists(), f"missing expected output {expected}"
    assert result.stdout == expected.read_text(encoding="utf-8")


def test_docs_site_builds_strict(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]


# -- the catalog file-format page is generated from the JSON Schema ------------------------------
def _hooks() -> Any:
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "hooks.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _anchors(markdown: str) -> set[str]:
    from markdown.extensions.toc import slugify

    return {slugify(m.group(1), "-") for m in re.finditer(r"^#{2,3} (.+)$", markdown, re.M)}


def test_catalog_format_covers_every_section_type_and_field() -> None:
    from cardbenefits.catalog import catalog_json_schema

    hooks = _hooks()
    schema = catalog_json_schema()
    text = hooks.render_catalog_format(schema)
    for name, node in schema["properties"].items():
        heading = f"### `{name}`" if node.get("type") == "array" else f"| `{name}` |"
        assert heading in text, name
    for name, node in schema["$defs"].items():
        shown = name.removesuffix("File")
        section = text.split(f"\n### {shown}\n", 1)[1].split("\n### ", 1)[0]
        for field in node.get("properties", {}):
            need = "required" if field in node.get("required", ()) else "optional"
            assert re.search(rf"^\| `{re.escape(field)}` \| .* \| {need} \|", section, re.M), (name, field)
    links = set(re.findall(r"\]\(#([^)]+)\)", text))
    assert links
    assert links <= _anchors(text)


def test_catalog_format_renders_types_and_docstrings() -> None:
    hooks = _hooks()
    assert hooks.schema_type({"type": "array", "items": {"$ref": "#/$defs/TierFile"}, "minItems": 1}) == (
        "list of [Tier](#tier) (at least 1)"
    )
    assert hooks.schema_type({"anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}]}) == (
        "integer (≥ 0) or null"
    )
    assert hooks.schema_type({"enum": ["day", "month"]}) == 'one of `"day"`, `"month"`'
    assert hooks.schema_type({"type": "object", "additionalProperties": {"type": "integer"}}) == (
        "mapping of text to integer"
    )
    assert hooks._prose("``kind: x`` see :class:`~cardbenefits.money.Money`\n  and more") == (
        "`kind: x` see `Money` and more"
    )
    schema = {
        "description": "Top.",
        "properties": {
            "id": {"type": "string", "description": "The id | key."},
            "things": {"type": "array", "description": "Things.", "items": {"$ref": "#/$defs/ThingFile"}},
        },
        "required": ["id"],
        "$defs": {
            "ThingFile": {
                "description": "A ``thing``.",
                "properties": {"n": {"type": "integer", "default": 3}, "m": {"type": "string"}},
                "required": ["m"],
            }
        },
    }
    text = hooks.render_catalog_format(schema)
    assert "| `id` | string | required |  | The id \\| key. |" in text
    assert "Each item: [Thing](#thing)." in text
    assert "### Thing\n\nA `thing`." in text
    assert "| `n` | integer | optional | `3` |  |" in text
    assert "| `m` | string | required |  |  |" in text


def test_catalog_format_hook_fills_only_its_page() -> None:
    hooks = _hooks()

    class Page:
        def __init__(self, uri: str) -> None:
            self.file = type("F", (), {"src_uri": uri})()

    page = (DOCS / "reference" / "catalog-format.md").read_text(encoding="utf-8")
    filled = hooks.on_page_markdown(page, Page(hooks.CATALOG_FORMAT_PAGE), None, None)
    assert hooks.CATALOG_FORMAT_MARKER not in filled
    assert "### `coupon_templates`" in filled
    assert hooks.on_page_markdown(page, Page("index.md"), None, None) == page
    with pytest.raises(ValueError, match="marker"):
        hooks.on_page_markdown("# Catalog file format\n", Page(hooks.CATALOG_FORMAT_PAGE), None, None)
