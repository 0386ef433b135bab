"""Docs cannot drift: every Python block in docs/ runs, and its shown output is checked.

Convention: a ```python block runs in a namespace shared by the blocks of the same page; when a
```text block follows it (only blank lines between), that block is the exact expected stdout.
Every script in examples/ runs in a subprocess and its stdout must equal
examples/expected/<name>.txt. The mkdocs site builds with warnings as errors.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

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
