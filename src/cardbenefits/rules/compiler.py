"""Compile a checked rule into a fast Python callable.

The compiler generates Python source from the AST and hands it to :func:`compile`. This is
safe because nothing from the rule text reaches the source as code: field names are checked
identifiers of the schema (embedded with :func:`repr`), and every literal is either an exact
``str``/``int``/``bool`` embedded with :func:`repr` or a constant bound by name in the
function's namespace. The namespace has no builtins.

Three-valued logic compiles to plain short-circuit booleans: for each node the compiler
emits "is definitely true" (``T``) and, under ``not``, "is definitely false" (``F``):
``T(a and b) = T(a) and T(b)``, ``F(a and b) = F(a) or F(b)``, ``T(not a) = F(a)``; a leaf
over a missing field is neither. The callable returns ``T(rule)``: unknown is not eligible.

>>> from datetime import datetime, timezone
>>> from cardbenefits.rules import parse
>>> rule = parse('age >= 60 and not delinquent')
>>> check = compile_rule(rule)
>>> at = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> check({"age": 61, "delinquent": False}, at), check({"age": 61}, at)
(True, False)
>>> print(python_source(parse("not card.supplementary").node))
def _rule(r, at):
    try:
        return (_v0 := (r.get('card') or _EMPTY).get('supplementary')) is not None and not _v0
    except _ERRORS as exc:
        raise _fail(exc) from exc
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, TypeAlias, cast

from cardbenefits.errors import CardBenefitsError, RuleError
from cardbenefits.rules.ast import (
    After,
    And,
    Before,
    Compare,
    CompareFields,
    Contains,
    Flag,
    HasTags,
    Leaf,
    Member,
    Node,
    Not,
    OlderThan,
    Or,
    Presence,
    Within,
    to_text,
)
from cardbenefits.rules.runtime import is_present, window_start

if TYPE_CHECKING:
    from cardbenefits.rules.rule import Rule

__all__ = ["Predicate", "compile_node", "compile_rule", "python_source"]

#: A compiled rule: ``(record, at) -> eligible``.
Predicate: TypeAlias = Callable[[Mapping[str, object], datetime], bool]

_EMPTY: Mapping[str, object] = {}


class _StartCache:
    """``window_start(at, amount, unit)``, remembering the last instant (thread-safe swap)."""

    __slots__ = ("amount", "last", "unit")

    def __init__(self, amount: int, unit: str) -> None:
        self.amount = amount
        self.unit = unit
        self.last: tuple[datetime | None, datetime | None] = (None, None)

    def __call__(self, at: datetime) -> datetime:
        last = self.last
        if last[0] is at and last[1] is not None:
            return last[1]
        start = window_start(at, self.amount, self.unit)
        self.last = (at, start)
        return start


class _Gen:
    def __init__(self) -> None:
        self.consts: dict[str, object] = {}
        self.counter = 0

    def const(self, value: object) -> str:
        # Exact str/int/bool literals are embedded (fast LOAD_CONST); anything else is bound.
        if type(value) in (str, int, bool):
            return repr(value)
        name = f"_k{len(self.consts)}"
        self.consts[name] = value
        return name

    def var(self) -> str:
        name = f"_v{self.counter}"
        self.counter += 1
        return name

    def get(self, field: str) -> str:
        parts = field.split(".")
        expr = "r"
        for part in parts[:-1]:
            expr = f"({expr}.get({part!r}) or _EMPTY)"
        return f"{expr}.get({parts[-1]!r})"

    def leaf(self, node: Leaf, positive: bool) -> str:
        if isinstance(node, Presence):
            present = f"_is_present({self.get(node.field)})"
            return present if node.present == positive else f"(not {present})"
        v = self.var()
        guards = [f"({v} := {self.get(node.field)}) is not None"]
        test = self.test(node, v, guards)
        if not positive:
            test = f"not {test}" if test.isidentifier() else f"not ({test})"
        return "(" + " and ".join([*guards, test]) + ")"

    def test(self, node: Leaf, v: str, guards: list[str]) -> str:
        if isinstance(node, Flag):
            return v
        if isinstance(node, Compare):
            return f"{v} {node.op} {self.const(node.value)}"
        if isinstance(node, CompareFields):
            w = self.var()
            guards.append(f"({w} := {self.get(node.other)}) is not None")
            return f"{v} {node.op} {w}"
        if isinstance(node, Member):
            members = frozenset(node.values)
            return f"{v} {'not in' if node.negated else 'in'} {self.const(members)}"
        if isinstance(node, Contains):
            return f"{self.const(node.value)} {'not in' if node.negated else 'in'} {v}"
        if isinstance(node, HasTags):
            tags = self.const(frozenset(node.values))
            if node.mode == "any":
                return f"not {tags}.isdisjoint({v})"
            return f"{tags}.issubset({v})"
        if isinstance(node, Within):
            return f"{self.start(node.amount, node.unit)} <= {v} <= at"
        if isinstance(node, OlderThan):
            return f"{v} < {self.start(node.amount, node.unit)}"
        if isinstance(node, Before):
            return f"{v} < {self.const(node.instant)}"
        if isinstance(node, After):
            return f"{v} > {self.const(node.instant)}"
        raise RuleError("not a rule clause", path="rule", value=node)  # pragma: no cover

    def start(self, amount: int, unit: str) -> str:
        # Window arithmetic on a pendulum instant costs ~30 µs; a predicate is usually called
        # for many records at one instant, so each window start is cached per instant.
        return f"{self.const(_StartCache(amount, unit))}(at)"

    def truth(self, node: Node, positive: bool) -> str:
        """Source of "node is definitely true" (positive) or "definitely false"."""
        if isinstance(node, Not):
            return self.truth(node.arg, not positive)
        if isinstance(node, And | Or):
            joiner = " and " if isinstance(node, And) == positive else " or "
            return "(" + joiner.join(self.truth(arg, positive) for arg in node.args) + ")"
        return self.leaf(node, positive)


def python_source(node: Node) -> str:
    """The Python source the compiler generates for ``node`` (for inspection and tests)."""
    return _source(node, _Gen())


def _source(node: Node, gen: _Gen) -> str:
    body = gen.truth(node, True)
    if body.startswith("(") and _balanced_outer(body):
        body = body[1:-1]
    return (
        "def _rule(r, at):\n"
        "    try:\n"
        f"        return {body}\n"
        "    except _ERRORS as exc:\n"
        "        raise _fail(exc) from exc"
    )


def _balanced_outer(text: str) -> bool:
    level = 0
    for i, char in enumerate(text):
        level += char == "("
        level -= char == ")"
        if level == 0 and i < len(text) - 1:
            return False
    return True


def compile_node(node: Node, *, name: str = "<rule>") -> Predicate:
    """Compile an AST node (already checked against a schema) to a predicate."""
    gen = _Gen()
    source = _source(node, gen)
    rule_text = to_text(node)

    def _fail(exc: Exception) -> RuleError:
        return RuleError(
            f"record does not match the field schema ({type(exc).__name__}: {exc})",
            path=rule_text,
            value=None,
        )

    namespace: dict[str, object] = {
        "__builtins__": {},
        "_EMPTY": _EMPTY,
        "_is_present": is_present,
        # A record that does not match the schema surfaces as a RuleError, never a bare crash.
        "_ERRORS": (TypeError, AttributeError, ValueError, OverflowError, CardBenefitsError),
        "_fail": _fail,
        **gen.consts,
    }
    exec(compile(source, name, "exec"), namespace)
    function = namespace["_rule"]
    assert callable(function)
    return cast(Predicate, function)


def compile_rule(rule: Rule) -> Predicate:
    """Compile ``rule`` to ``(record, at) -> bool`` (cached on the rule)."""
    return rule.predicate
