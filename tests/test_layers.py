"""Lower layers never import higher ones (DESIGN: values → facts → rules → catalog → ledger →
engine/coupons/funnel → edges). Checked on the source, including imports inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "cardbenefits"

LAYER = {
    "errors": 0, "money": 0, "clock": 0, "periods": 0, "windows": 0, "i18n": 0,
    "facts": 1, "synth": 1, "segments": 1,
    "rules": 2,
    "catalog": 3,
    "ledger": 4,
    "programmes": 5, "engine": 5, "coupons": 5, "funnel": 5, "referrals": 5, "risk": 5,
    "simulate": 6, "report": 6, "cli": 6, "data": 6,
}  # fmt: skip

# The catalog loads higher layers' section modules by name at run time (plug-ins), never by
# import statement; that is the one sanctioned upward reference and it is not an import.


def _top(module_path: Path) -> str:
    rel = module_path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


MODULES = sorted(p for p in SRC.rglob("*.py") if _top(p) in LAYER)


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(SRC)) for p in MODULES])
def test_module_imports_only_its_layer_or_below(path: Path) -> None:
    own = LAYER[_top(path)]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] != "cardbenefits" or len(parts) < 2:
                continue
            target = parts[1]
            assert target in LAYER, f"{path.name}: unknown module cardbenefits.{target}"
            assert LAYER[target] <= own, (
                f"{path.relative_to(SRC)} (layer {own}) imports cardbenefits.{target} (layer {LAYER[target]})"
            )


def test_every_top_level_module_has_a_layer() -> None:
    tops = {_top(p) for p in SRC.rglob("*.py")} - {"__init__"}
    assert tops <= set(LAYER), tops - set(LAYER)
