"""The command line, run in process through main(argv)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from cardbenefits.cli import COMMANDS, main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "catalogs"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_commands_are_a_table() -> None:
    assert {"validate", "schema"} <= set(COMMANDS)


@pytest.mark.parametrize("name", ["benefits.yaml", "youth.json"])
def test_validate_ok_prints_a_summary(name: str) -> None:
    code, out, err = run("validate", str(EXAMPLES / name))
    assert code == 0
    assert err == ""
    assert out.startswith("OK ")
    for word in ("benefits", "products", "modules", "rules"):
        assert word in out


def test_validate_counts_of_the_default_catalog() -> None:
    _, out, _ = run("validate", str(EXAMPLES / "benefits.yaml"))
    assert "cardbenefits-demo@2026.11.1 — 34 benefits, 5 products, 25 modules, 7 rules" in out


def test_validate_prints_every_error_with_its_path(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "id: x\nversion: '1'\nbenefits:\n  - {id: cb, kind: cashbak, name: x}\n"
        "products:\n  - {id: p, name: p, core: [cb_], slots: -1}\n",
        encoding="utf-8",
    )
    code, out, err = run("validate", str(bad))
    assert code == 1
    assert out == ""
    assert "3 errors" in err
    assert "benefits[0].kind: unknown kind (got 'cashbak'; did you mean 'cashback'?)" in err
    assert "products[0].slots" in err
    assert "products[0].core[0]: unknown benefit id (got 'cb_'; did you mean 'cb'?)" in err


def test_validate_unreadable_file_is_exit_2(tmp_path: Path) -> None:
    code, _, err = run("validate", str(tmp_path / "missing.yaml"))
    assert code == 2
    assert "cannot read catalog" in err


def test_usage_errors_are_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run()[0] == 2
    assert run("frobnicate")[0] == 2
    assert run("validate")[0] == 2
    capsys.readouterr()


def test_help_is_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "validate" in capsys.readouterr().out


def test_schema_to_stdout_and_to_a_file(tmp_path: Path) -> None:
    code, out, _ = run("schema")
    assert code == 0
    schema = json.loads(out)
    assert "benefits" in schema["properties"]
    target = tmp_path / "catalog.schema.json"
    code, out, _ = run("schema", "--out", str(target))
    assert code == 0
    assert str(target) in out
    assert json.loads(target.read_text(encoding="utf-8")) == schema


def test_schema_to_an_unwritable_place_is_exit_2(tmp_path: Path) -> None:
    code, _, err = run("schema", "--out", str(tmp_path / "no" / "such" / "dir" / "x.json"))
    assert code == 2
    assert "cannot write" in err


def test_a_closed_pipe_stops_quietly() -> None:
    import io

    from cardbenefits.cli import main

    class ClosedPipe(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError

    assert main(["validate", str(EXAMPLES / "benefits.yaml")], stdout=ClosedPipe(), stderr=io.StringIO()) == 0
