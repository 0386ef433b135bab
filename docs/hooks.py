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
