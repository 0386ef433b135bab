"""Eligibility rules: a safe, typed, explainable rule language that compiles to fast code.

Campaign staff write who may get a benefit as a rule over the customer record
(see :func:`default_schema`). A rule is data: it is parsed and type-checked against a
field schema, stored as text or versioned JSON, compiled to a Python callable, explained
clause by clause in zh_CN or en, and evaluated in batch over a Polars table.

Missing data is a defined outcome: a clause over a missing field is UNKNOWN, ``and``/``or``/
``not`` follow three-valued (Kleene) logic, and an UNKNOWN rule is *not eligible*, with the
explanation naming the missing field. ``x is missing`` / ``x is present`` test presence.

>>> from datetime import datetime, timezone
>>> rule = parse('age >= 60 and "silver" in tags and region in {"SH", "BJ"}')
>>> at = datetime(2026, 5, 1, tzinfo=timezone.utc)
>>> rule.evaluate({"age": 66, "tags": {"silver"}, "region": "SH"}, at)
True
>>> compile_rule(rule)({"age": 66, "tags": {"silver"}}, at)        # region missing: UNKNOWN
False
>>> print(explain(rule, {"age": 66, "tags": {"silver"}}, at).render("en"))
Not eligible: missing data (region): age >= 60 and "silver" in tags and region in {"SH", "BJ"}
? all of [decisive]
  ✓ age >= 60 — age is 66
  ✓ "silver" in tags — tags includes "silver"
  ? region in {"SH", "BJ"} — region is missing [decisive]
>>> try:
...     parse('lifecycle == "dormnt"')
... except RuleTypeError as err:
...     print(err.path, err.message)
1:14 'dormnt' is not a value of enum field 'lifecycle', did you mean 'dormant'?
"""

from __future__ import annotations

from cardbenefits.errors import RuleError, RuleSyntaxError, RuleTypeError
from cardbenefits.rules.ast import Node, to_text
from cardbenefits.rules.compiler import Predicate, compile_rule, python_source
from cardbenefits.rules.explain import Clause, Explanation, Truth, explain, truth
from cardbenefits.rules.jsonform import JSON_VERSION
from cardbenefits.rules.rule import Rule, parse
from cardbenefits.rules.schema import FieldSchema, FieldSpec, FieldType, default_schema

__all__ = [
    "JSON_VERSION",
    "Clause",
    "Explanation",
    "FieldSchema",
    "FieldSpec",
    "FieldType",
    "Node",
    "Predicate",
    "Rule",
    "RuleError",
    "RuleSyntaxError",
    "RuleTypeError",
    "Truth",
    "compile_rule",
    "default_schema",
    "explain",
    "parse",
    "python_source",
    "to_text",
    "truth",
]
