"""Eligibility rules as they appear in a catalog: the author's text plus the parsed rule.

A catalog keeps the rule text exactly as written (so dumping a catalog gives the text back)
next to the :class:`~cardbenefits.rules.Rule` parsed from it against the catalog's field
schema. Two :class:`Eligibility` values are equal when their texts are equal.

>>> from cardbenefits.rules import default_schema
>>> rule = Eligibility.parse('age < 30 and "gamer" in tags', default_schema())
>>> rule.text
'age < 30 and "gamer" in tags'
>>> rule.holds({"age": 24, "tags": frozenset({"gamer"})}, AT)
True
>>> rule.holds({"age": 41, "tags": frozenset({"gamer"})}, AT)
False
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import pendulum

from cardbenefits.rules import Explanation, FieldSchema, Rule, explain, parse

__all__ = ["Eligibility"]

#: An instant used by the doctests of the catalog package.
AT = pendulum.datetime(2026, 11, 1, 12, tz="Asia/Shanghai")


@attrs.frozen
class Eligibility:
    """A parsed eligibility rule and the text it came from (谁可以享受)."""

    text: str
    rule: Rule = attrs.field(eq=False, repr=False)

    @classmethod
    def parse(cls, text: str, schema: FieldSchema) -> Eligibility:
        """Parse ``text`` against ``schema``; raises RuleSyntaxError / RuleTypeError."""
        return cls(text, parse(text, schema))

    def holds(self, record: Mapping[str, object], at: pendulum.DateTime) -> bool:
        """Whether the rule holds for a customer record at instant ``at``."""
        return self.rule.evaluate(record, at)

    def explain(self, record: Mapping[str, object], at: pendulum.DateTime) -> Explanation:
        """Why the rule holds or fails for ``record`` (see :func:`cardbenefits.rules.explain`)."""
        return explain(self.rule, record, at)
