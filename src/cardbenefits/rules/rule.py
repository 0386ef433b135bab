"""The :class:`Rule` value: a checked AST with its text, schema and compiled predicate.

>>> from datetime import datetime, timezone
>>> rule = parse('age >= 60 and "silver" in tags')
>>> rule.evaluate({"age": 65, "tags": frozenset({"silver"})}, datetime(2026, 1, 1, tzinfo=timezone.utc))
True
>>> Rule.from_json(rule.to_json()) == rule == parse(rule.text)
True
>>> sorted(rule.fields)
['age', 'tags']
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from cardbenefits.errors import RuleError
from cardbenefits.rules.ast import Node, fields_of, to_text
from cardbenefits.rules.compiler import Predicate, compile_node
from cardbenefits.rules.jsonform import JSON_VERSION, node_from_json, node_to_json
from cardbenefits.rules.parser import parse_node
from cardbenefits.rules.runtime import check_instant
from cardbenefits.rules.schema import FieldSchema, default_schema

__all__ = ["Rule", "parse"]


@attrs.frozen(eq=False)
class Rule:
    """An eligibility rule checked against a schema (equality is AST equality).

    ``text`` is the text it was parsed from (the canonical text for rules built from JSON
    or an AST); :attr:`canonical` is the normalised text.
    """

    node: Node
    schema: FieldSchema = attrs.field(factory=default_schema, repr=False)
    text: str = attrs.field(default="", repr=False)
    _predicate: list[Predicate] = attrs.field(factory=list, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if not self.text:
            object.__setattr__(self, "text", to_text(self.node))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Rule):
            return self.node == other.node
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.node)

    @classmethod
    def from_json(cls, data: Mapping[str, object], schema: FieldSchema | None = None) -> Rule:
        """Load the versioned JSON form (see :mod:`cardbenefits.rules.jsonform`)."""
        schema = default_schema() if schema is None else schema
        return cls(node_from_json(data, schema), schema)

    def to_json(self) -> dict[str, Any]:
        """The versioned JSON form ``{"version": 1, "rule": {...}}``."""
        return {"version": JSON_VERSION, "rule": node_to_json(self.node)}

    @property
    def canonical(self) -> str:
        """The canonical text (what :func:`~cardbenefits.rules.ast.to_text` prints)."""
        return to_text(self.node)

    @property
    def fields(self) -> frozenset[str]:
        """The field names the rule reads."""
        return frozenset(fields_of(self.node))

    @property
    def predicate(self) -> Predicate:
        """The compiled predicate (compiled once, on first use)."""
        if not self._predicate:
            self._predicate.append(compile_node(self.node, name=f"<rule {self.canonical[:60]}>"))
        return self._predicate[0]

    def evaluate(self, record: Mapping[str, object], at: datetime) -> bool:
        """True when ``record`` is eligible at instant ``at``; UNKNOWN (missing data) is False."""
        check_instant(at)
        if not isinstance(record, Mapping):
            raise RuleError("a customer record is a mapping", path="record", value=record)
        return self.predicate(record, at)

    def __str__(self) -> str:
        return self.text


def parse(text: str, schema: FieldSchema | None = None) -> Rule:
    """Parse and type-check rule ``text`` against ``schema`` (the default customer schema).

    Raises :class:`~cardbenefits.errors.RuleSyntaxError` or
    :class:`~cardbenefits.errors.RuleTypeError` with ``path`` = ``line:column``.
    """
    schema = default_schema() if schema is None else schema
    return Rule(parse_node(text, schema), schema, text)
