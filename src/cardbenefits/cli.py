"""The ``cardbenefits`` command line.

Subcommands live in a table (:data:`COMMANDS`): each :class:`Command` adds its arguments to
a sub-parser and runs with the parsed arguments, returning an exit code. :func:`main` is
testable in process: it takes ``argv`` and returns the exit code instead of exiting.

Exit codes: 0 success, 1 the input is invalid (every problem is printed with its path),
2 usage errors and unreadable files.

>>> main(["validate", "examples/catalogs/benefits.yaml"])
OK examples/catalogs/benefits.yaml: cardbenefits-demo@2026.11.1 — 34 benefits, 5 products, 25 modules, 7 rules
0
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

import attrs

from cardbenefits.catalog import (
    CatalogReadError,
    CatalogValidationError,
    catalog_json_schema,
    load_catalog,
    write_json_schema,
)
from cardbenefits.simulate import commands as _simulate

__all__ = ["COMMANDS", "Command", "build_parser", "main"]

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2


@attrs.frozen
class Command:
    """One subcommand: its ``name``, one-line ``help``, argument setup and runner."""

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, TextIO, TextIO], int]
    """Called with the parsed arguments, stdout and stderr; returns the exit code."""


COMMANDS: dict[str, Command] = {}
"""Subcommands by name, in the order they are listed in ``--help``."""


def register(command: Command) -> Command:
    """Add ``command`` to :data:`COMMANDS` (later modules add ``simulate``, ``explain``...)."""
    COMMANDS[command.name] = command
    return command


# -- validate -----------------------------------------------------------------------------------
def _configure_validate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("catalog", help="catalog file (.yaml, .yml or .json)")


def _run_validate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        catalog = load_catalog(args.catalog)
    except CatalogReadError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_USAGE
    except CatalogValidationError as exc:
        count = len(exc.issues)
        print(f"INVALID {args.catalog}: {count} error{'s' if count != 1 else ''}", file=err)
        for issue in exc.issues:
            print(f"  {issue}", file=err)
        return EXIT_INVALID
    counts = catalog.summary()
    parts = [f"{n} {key}" for key, n in counts.items() if key not in ("modules", "rules")]
    parts += [f"{counts['modules']} modules", f"{counts['rules']} rules"]
    print(f"OK {args.catalog}: {catalog.ref} — {', '.join(parts)}", file=out)
    return EXIT_OK


register(
    Command(
        name="validate",
        help="check a catalog file and print a summary or every error with its path",
        configure=_configure_validate,
        run=_run_validate,
    )
)


# -- schema -------------------------------------------------------------------------------------
def _configure_schema(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", metavar="FILE", help="write the JSON Schema to FILE instead of stdout")


def _run_schema(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.out:
        try:
            path = write_json_schema(args.out)
        except OSError as exc:
            print(f"error: cannot write {args.out}: {exc}", file=err)
            return EXIT_USAGE
        print(f"wrote {path}", file=out)
    else:
        print(json.dumps(catalog_json_schema(), ensure_ascii=False, indent=2), file=out)
    return EXIT_OK


register(
    Command(
        name="schema",
        help="export the JSON Schema of catalog files (for editors)",
        configure=_configure_schema,
        run=_run_schema,
    )
)


# -- simulate, explain (handlers live in cardbenefits.simulate.commands) ------------------------
register(
    Command(
        name="simulate",
        help="replay events through a catalog and write a cost/reach report (default: the bundled example)",
        configure=_simulate.configure_simulate,
        run=_simulate.run_simulate,
    )
)
register(
    Command(
        name="explain",
        help="explain why one customer got or did not get each benefit in a simulated run",
        configure=_simulate.configure_explain,
        run=_simulate.run_explain,
    )
)


# -- entry point --------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-parser per registered command."""
    parser = argparse.ArgumentParser(
        prog="cardbenefits", description="Define and run credit-card benefits as data."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS.values():
        sub = subparsers.add_parser(command.name, help=command.help, description=command.help)
        command.configure(sub)
    return parser


def main(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:  # argparse exits on --help and on usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        result: int = COMMANDS[args.command].run(args, out, err)
    except BrokenPipeError:
        # The reader went away (``cardbenefits simulate | head``): stop quietly, as Unix tools do.
        if stdout is None:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 0
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
