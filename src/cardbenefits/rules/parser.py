"""Parser of the rule text form into a checked :mod:`~cardbenefits.rules.ast` tree.

Grammar (keywords are lower case; ``not`` binds tighter than ``and``, which binds tighter
than ``or``; chains of ``and``/``or`` become one n-ary node)::

    rule      := or_expr END
    or_expr   := and_expr ("or" and_expr)*
    and_expr  := not_expr ("and" not_expr)*
    not_expr  := "not" not_expr | "(" or_expr ")" | clause
    clause    := STRING ["not"] "in" FIELD                       # "silver" in tags
               | FIELD OP (literal | FIELD)                      # age >= 60, spend.month >= ¥3000
               | FIELD ["not"] "in" ("{" literals "}" | "(" literals ")" | "[" literals "]")
               | FIELD "has" ("any" | "all") "of" "{" strings "}"
               | FIELD "is" ("missing" | "present")
               | FIELD "within" INT UNIT | FIELD "older" "than" INT UNIT
               | FIELD ("before" | "after") STRING               # "2026-12-01" or ISO datetime
               | FIELD                                           # a bool field alone
    literal   := STRING | ["-"] NUMBER | MONEY | "true" | "false"
    UNIT      := minute(s) | hour(s) | day(s) | week(s) | month(s) | year(s)

Every clause is type-checked against the schema as it is read, so errors carry the
``line:column`` of the clause.

>>> from cardbenefits.rules.schema import default_schema
>>> from cardbenefits.rules.ast import to_text
>>> node = parse_node('card.tier in ("gold", "platinum") and not delinquent', default_schema())
>>> to_text(node)
'card.tier in ("gold", "platinum") and not delinquent'
>>> parse_node("rfm.recncy_days <= 90", default_schema())
Traceback (most recent call last):
  ...
cardbenefits.errors.RuleTypeError: 1:1: unknown field 'rfm.recncy_days', did you mean 'rfm.recency_days'? ...
>>> parse_node("age >= 60 and", default_schema())
Traceback (most recent call last):
  ...
cardbenefits.errors.RuleSyntaxError: 1:14: expected a condition, found the end of the rule
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Final, cast

import pendulum

from cardbenefits.errors import RuleSyntaxError, RuleTypeError
from cardbenefits.money import Money
from cardbenefits.rules.ast import (
    MAX_DEPTH,
    After,
    And,
    Before,
    Compare,
    CompareFields,
    CompareOp,
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
    Value,
    Within,
)
from cardbenefits.rules.lexer import Token, tokenize
from cardbenefits.rules.schema import FieldSchema
from cardbenefits.rules.typecheck import check_leaf

__all__ = ["DEFAULT_TIMEZONE", "KEYWORDS", "parse_instant", "parse_node"]

#: Zone of date literals without an offset (``before "2026-12-01"`` = 00:00 Beijing time).
DEFAULT_TIMEZONE: Final = "Asia/Shanghai"

#: Words that cannot be field names.
KEYWORDS: Final = frozenset(
    {"and", "or", "not", "in", "has", "is", "within", "older", "before", "after", "true", "false"}
)

_UNITS: Final = {
    "minute": "minutes",
    "minutes": "minutes",
    "hour": "hours",
    "hours": "hours",
    "day": "days",
    "days": "days",
    "week": "weeks",
    "weeks": "weeks",
    "month": "months",
    "months": "months",
    "year": "years",
    "years": "years",
}

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})?")


def parse_instant(text: str, where: str = "instant", timezone: str = DEFAULT_TIMEZONE) -> datetime:
    """Resolve a date or ISO datetime literal to an aware instant.

    >>> parse_instant("2026-12-01")
    DateTime(2026, 12, 1, 0, 0, 0, tzinfo=Timezone('Asia/Shanghai'))
    >>> parse_instant("2026-12-01T08:30:00Z").isoformat()
    '2026-12-01T08:30:00+00:00'
    >>> parse_instant("2026-02-30")
    Traceback (most recent call last):
      ...
    cardbenefits.errors.RuleTypeError: instant: not a valid date or ISO datetime (got '2026-02-30')
    """
    try:
        if _DATE.fullmatch(text):
            y, m, d = (int(part) for part in text.split("-"))
            return pendulum.datetime(y, m, d, tz=timezone)
        if _DATETIME.fullmatch(text):
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                return pendulum.instance(parsed, tz=timezone)
            return pendulum.instance(parsed)
    except ValueError:
        pass
    raise RuleTypeError("not a valid date or ISO datetime", path=where, value=text)


class _Parser:
    def __init__(self, text: str, schema: FieldSchema) -> None:
        self.tokens = tokenize(text)
        self.pos = 0
        self.schema = schema
        self.depth = 0

    # -- token helpers ----------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def _peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.pos + offset, len(self.tokens) - 1)]

    def _is(self, kind: str, *texts: str) -> bool:
        tok = self.tok
        return tok.kind == kind and (not texts or tok.value in texts)

    def _advance(self) -> Token:
        tok = self.tok
        if tok.kind != "END":
            self.pos += 1
        return tok

    def _fail(self, expected: str, tok: Token | None = None) -> RuleSyntaxError:
        tok = tok or self.tok
        if tok.kind == "END":
            return RuleSyntaxError(f"expected {expected}, found the end of the rule", path=tok.where)
        return RuleSyntaxError(f"expected {expected}", path=tok.where, value=tok.text)

    def _expect(self, kind: str, text: str, expected: str) -> Token:
        if not self._is(kind, text):
            raise self._fail(expected)
        return self._advance()

    def _word(self, *words: str) -> bool:
        return self._is("NAME", *words)

    # -- grammar ------------------------------------------------------------------------
    def rule(self) -> Node:
        node = self.or_expr()
        if self.tok.kind != "END":
            raise self._fail("'and', 'or' or the end of the rule")
        return node

    def or_expr(self) -> Node:
        args = [self.and_expr()]
        while self._word("or"):
            self._advance()
            args.append(self.and_expr())
        return args[0] if len(args) == 1 else Or(tuple(args))

    def and_expr(self) -> Node:
        args = [self.not_expr()]
        while self._word("and"):
            self._advance()
            args.append(self.not_expr())
        return args[0] if len(args) == 1 else And(tuple(args))

    def not_expr(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise RuleSyntaxError(f"rule nested deeper than {MAX_DEPTH} levels", path=self.tok.where)
        try:
            if self._word("not"):
                self._advance()
                return Not(self.not_expr())
            if self._is("PUNCT", "("):
                self._advance()
                node = self.or_expr()
                self._expect("PUNCT", ")", "')'")
                return node
            return self.clause()
        finally:
            self.depth -= 1

    def clause(self) -> Node:
        start = self.tok
        if start.kind == "STRING":
            self._advance()
            negated = self._not_in()
            name = self._field("a set-of-strings field after 'in'")
            return self._checked(Contains(name, cast(str, start.value), negated), start)
        if start.kind != "NAME" or start.value in KEYWORDS:
            raise self._fail("a condition")
        name = self._field("a condition")
        tok = self.tok
        node: Leaf
        if tok.kind == "OP":
            self._advance()
            op = cast(CompareOp, tok.value)
            if self.tok.kind == "NAME" and self.tok.value not in ("true", "false"):
                other = self._field("a value or a field")
                node = CompareFields(name, op, other)
            else:
                node = Compare(name, op, self._literal())
        elif self._word("not", "in"):
            negated = self._not_in()
            node = self._member(name, negated)
        elif self._word("has"):
            self._advance()
            if not self._word("any", "all"):
                raise self._fail("'any of' or 'all of'")
            mode = cast("str", self._advance().value)
            self._expect("NAME", "of", "'of'")
            values = self._collection(("{",))[0]
            node = HasTags(name, "any" if mode == "any" else "all", tuple(cast("list[str]", values)))
            for value in values:
                if not isinstance(value, str):
                    raise RuleTypeError(
                        f"'{name}' holds strings, not {type(value).__name__}", path=start.where, value=value
                    )
        elif self._word("is"):
            self._advance()
            if not self._word("missing", "present"):
                raise self._fail("'missing' or 'present'")
            node = Presence(name, self._advance().value == "present")
        elif self._word("within"):
            self._advance()
            node = Within(name, *self._duration())
        elif self._word("older"):
            self._advance()
            self._expect("NAME", "than", "'than'")
            node = OlderThan(name, *self._duration())
        elif self._word("before", "after"):
            word = self._advance().value
            lit = self.tok
            if lit.kind != "STRING":
                raise self._fail('a date such as "2026-12-01"')
            self._advance()
            text = cast(str, lit.value)
            instant = parse_instant(text, lit.where)
            node = Before(name, text, instant) if word == "before" else After(name, text, instant)
        else:
            node = Flag(name)
        return self._checked(node, start)

    def _checked(self, node: Leaf, start: Token) -> Node:
        check_leaf(node, self.schema, start.where)
        return node

    def _not_in(self) -> bool:
        negated = False
        if self._word("not"):
            self._advance()
            negated = True
        self._expect("NAME", "in", "'in'")
        return negated

    def _field(self, expected: str) -> str:
        tok = self.tok
        if tok.kind != "NAME" or tok.value in KEYWORDS:
            raise self._fail(expected)
        self._advance()
        return cast(str, tok.value)

    def _member(self, name: str, negated: bool) -> Member:
        values, style = self._collection(("{", "(", "["))
        return Member(name, tuple(values), "set" if style == "{" else "list", negated)

    def _collection(self, openers: tuple[str, ...]) -> tuple[list[Value], str]:
        if not self._is("PUNCT", *openers):
            raise self._fail("'{' to start a set" if openers == ("{",) else "a set {…} or a list (…)")
        opener = cast(str, self._advance().value)
        closer = {"{": "}", "(": ")", "[": "]"}[opener]
        values: list[Value] = []
        if self._is("PUNCT", closer):
            self._advance()
            return values, opener
        while True:
            values.append(self._literal())
            if self._is("PUNCT", ","):
                self._advance()
                if self._is("PUNCT", closer):  # trailing comma
                    self._advance()
                    return values, opener
                continue
            self._expect("PUNCT", closer, f"',' or '{closer}'")
            return values, opener

    def _literal(self) -> Value:
        tok = self.tok
        if tok.kind in ("STRING", "MONEY", "NUMBER"):
            self._advance()
            return cast(Value, tok.value)
        if self._word("true", "false"):
            self._advance()
            return tok.value == "true"
        if self._is("PUNCT", "-") and self._peek().kind in ("NUMBER", "MONEY"):
            self._advance()
            value = self._advance().value
            if isinstance(value, Money):
                return -value
            return -cast("int | Decimal", value)
        raise self._fail('a value (a "string", a number, an amount such as 3000 CNY, true or false)')

    def _duration(self) -> tuple[int, str]:
        tok = self.tok
        if tok.kind != "NUMBER" or not isinstance(tok.value, int):
            raise self._fail("a whole number of minutes/hours/days/weeks/months/years")
        self._advance()
        unit = self.tok
        if unit.kind != "NAME" or unit.value not in _UNITS:
            raise self._fail("a unit: minutes, hours, days, weeks, months or years")
        self._advance()
        return tok.value, _UNITS[str(unit.value)]


def parse_node(text: str, schema: FieldSchema) -> Node:
    """Parse and type-check ``text`` into an AST node (see :func:`cardbenefits.rules.parse`)."""
    return _Parser(text, schema).rule()
