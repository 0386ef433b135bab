"""Tokenizer for the rule text form.

Tokens carry their ``line`` and ``column`` (1-based) so errors can point into the text.

>>> [(t.kind, t.value) for t in tokenize('spend.month >= ¥3,000 and "gamer" in tags')][:4]
[('NAME', 'spend.month'), ('OP', '>='), ('MONEY', Money('3000', 'CNY')), ('NAME', 'and')]
>>> [t.value for t in tokenize("x in (1, 2.50, 3000 CNY)")]
['x', 'in', '(', 1, ',', Decimal('2.50'), ',', Money('3000', 'CNY'), ')', None]
>>> tokenize('age >= 6O ~')
Traceback (most recent call last):
  ...
cardbenefits.errors.RuleSyntaxError: 1:11: unexpected character (got '~')
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Final

import attrs

from cardbenefits.errors import RuleSyntaxError
from cardbenefits.money import Money

__all__ = ["Token", "tokenize"]

#: Longest text accepted (a rule is a sentence, not a document).
MAX_LENGTH: Final = 20_000

_NUMBER = r"\d+(?:,\d{3})*(?:\.\d+)?|\d+(?:\.\d+)?"
_TOKEN = re.compile(
    rf"""
    (?P<WS>[ \t\r\n]+)
  | (?P<MONEY_PREFIX>[¥￥]\s*(?P<mp_sign>-)?(?P<mp_num>{_NUMBER}))
  | (?P<NUMBER>(?P<num>\d+(?:\.\d+)?)(?:(?P<cur_sp>[ \t]+)(?P<cur>[A-Z]{{3}})(?![A-Za-z0-9_.])|(?P<yuan>元))?)
  | (?P<STRING>"(?:[^"\\\n]|\\.)*")
  | (?P<NAME>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<OP>==|!=|<=|>=|<|>|≤|≥|≠)
  | (?P<PUNCT>[(){{}}\[\],-])
    """,
    re.VERBOSE,
)

_OP_ALIASES = {"≤": "<=", "≥": ">=", "≠": "!="}


@attrs.frozen
class Token:
    """One token: ``kind`` is NAME, NUMBER, MONEY, STRING, OP, PUNCT or END."""

    kind: str
    text: str
    value: object
    line: int
    column: int

    @property
    def where(self) -> str:
        """``line:column`` of the token's first character."""
        return f"{self.line}:{self.column}"


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens, ending with an ``END`` token."""
    if not isinstance(text, str):
        raise RuleSyntaxError("a rule must be text", path="1:1", value=text)
    if len(text) > MAX_LENGTH:
        raise RuleSyntaxError(f"rule text longer than {MAX_LENGTH} characters", path="1:1", value=len(text))
    tokens: list[Token] = []
    pos, line, line_start = 0, 1, 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        column = pos - line_start + 1
        if match is None:
            raise RuleSyntaxError("unexpected character", path=f"{line}:{column}", value=text[pos])
        kind = match.lastgroup
        assert kind is not None
        chunk = match.group(0)
        if kind == "WS":
            pass
        elif kind == "MONEY_PREFIX":
            amount = match.group("mp_num").replace(",", "")
            if len(amount) > 40:
                raise RuleSyntaxError("number too long", path=f"{line}:{column}", value=chunk)
            sign = "-" if match.group("mp_sign") else ""
            tokens.append(Token("MONEY", chunk, Money.of(sign + amount), line, column))
        elif kind == "NUMBER" or (kind == "STRING" or kind == "NAME" or kind == "OP" or kind == "PUNCT"):
            tokens.append(Token(*_simple(match, kind, chunk, line, column)))
        newlines = chunk.count("\n")
        if newlines:
            line += newlines
            line_start = pos + chunk.rindex("\n") + 1
        pos = match.end()
    tokens.append(Token("END", "", None, line, pos - line_start + 1))
    return tokens


def _simple(
    match: re.Match[str], kind: str, chunk: str, line: int, column: int
) -> tuple[str, str, object, int, int]:
    where = f"{line}:{column}"
    if kind == "NUMBER":
        num = match.group("num")
        if len(num) > 40:
            raise RuleSyntaxError("number too long", path=where, value=chunk)
        value: object = Decimal(num) if "." in num else int(num)
        if match.group("cur"):
            return "MONEY", chunk, Money.of(num, match.group("cur")), line, column
        if match.group("yuan"):
            return "MONEY", chunk, Money.of(num), line, column
        return "NUMBER", chunk, value, line, column
    if kind == "STRING":
        try:
            value = json.loads(chunk)
        except ValueError:
            raise RuleSyntaxError(
                "invalid string literal (use JSON escapes)", path=where, value=chunk
            ) from None
        return "STRING", chunk, value, line, column
    if kind == "OP":
        return "OP", chunk, _OP_ALIASES.get(chunk, chunk), line, column
    return kind, chunk, chunk, line, column
