"""The JSON form of rules: stable, versioned, and equivalent to the text form.

Document layout (version 1)::

    {"version": 1, "rule": NODE}

    NODE := {"op": "and" | "or", "args": [NODE, NODE, ...]}          # two or more
          | {"op": "not", "arg": NODE}
          | {"op": "flag", "field": F}                                 # bool field alone
          | {"op": "==" | "!=" | "<" | "<=" | ">" | ">=", "field": F, "value": VALUE}
          | {"op": "==" | ..., "field": F, "other": F}                 # field vs field
          | {"op": "in" | "not in", "field": F, "values": [VALUE, ...], "style": "set" | "list"}
          | {"op": "contains" | "not contains", "field": F, "value": STR}   # "x" in tags
          | {"op": "has any" | "has all", "field": F, "values": [STR, ...]}
          | {"op": "is missing" | "is present", "field": F}
          | {"op": "within" | "older than", "field": F, "amount": INT, "unit": UNIT}
          | {"op": "before" | "after", "field": F, "instant": "2026-12-01"}
    VALUE := STR | INT | true | false | {"decimal": "1.50"} | {"money": "3000", "currency": "CNY"}

Decimals and money are strings so no JSON float ever touches them. Loading checks the
document against the schema like the parser; errors carry the JSON path
(``rule.args[1].value``).

>>> from cardbenefits.rules import parse
>>> doc = parse("spend.month >= ¥3000 and lifecycle in {\\"dormant\\", \\"win_back\\"}").to_json()
>>> doc["rule"]["args"][0]
{'op': '>=', 'field': 'spend.month', 'value': {'money': '3000', 'currency': 'CNY'}}
>>> from cardbenefits.rules.schema import default_schema
>>> to_text(node_from_json(doc, default_schema()))
'spend.month >= 3000 CNY and lifecycle in {"dormant", "win_back"}'
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final, cast

from cardbenefits.errors import CardBenefitsError, RuleSyntaxError, RuleTypeError
from cardbenefits.money import Money
from cardbenefits.rules.ast import (
    COMPARISONS,
    MAX_DEPTH,
    UNITS,
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
    to_text,
)
from cardbenefits.rules.parser import parse_instant
from cardbenefits.rules.schema import FIELD_NAME, FieldSchema
from cardbenefits.rules.typecheck import check_leaf

__all__ = ["JSON_VERSION", "node_from_json", "node_to_json", "to_text", "value_from_json", "value_to_json"]

#: Version of the JSON layout written by :func:`node_to_json`.
JSON_VERSION: Final = 1


def value_to_json(value: Value) -> object:
    """A literal as JSON (decimals and money as strings).

    >>> value_to_json(Decimal("1.50")), value_to_json(Money.of("9.9", "USD"))
    ({'decimal': '1.50'}, {'money': '9.9', 'currency': 'USD'})
    """
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return {"decimal": str(value)}
    return {"money": str(value.amount), "currency": value.currency}


def node_to_json(node: Node) -> dict[str, Any]:
    """The JSON object of one node (without the version envelope)."""
    if isinstance(node, And | Or):
        return {"op": "and" if isinstance(node, And) else "or", "args": [node_to_json(a) for a in node.args]}
    if isinstance(node, Not):
        return {"op": "not", "arg": node_to_json(node.arg)}
    if isinstance(node, Flag):
        return {"op": "flag", "field": node.field}
    if isinstance(node, Compare):
        return {"op": node.op, "field": node.field, "value": value_to_json(node.value)}
    if isinstance(node, CompareFields):
        return {"op": node.op, "field": node.field, "other": node.other}
    if isinstance(node, Member):
        return {
            "op": "not in" if node.negated else "in",
            "field": node.field,
            "values": [value_to_json(v) for v in node.values],
            "style": node.style,
        }
    if isinstance(node, Contains):
        return {
            "op": "not contains" if node.negated else "contains",
            "field": node.field,
            "value": node.value,
        }
    if isinstance(node, HasTags):
        return {"op": f"has {node.mode}", "field": node.field, "values": list(node.values)}
    if isinstance(node, Presence):
        return {"op": "is present" if node.present else "is missing", "field": node.field}
    if isinstance(node, Within | OlderThan):
        op = "within" if isinstance(node, Within) else "older than"
        return {"op": op, "field": node.field, "amount": node.amount, "unit": node.unit}
    return {
        "op": "before" if isinstance(node, Before) else "after",
        "field": node.field,
        "instant": node.text,
    }


def value_from_json(data: object, path: str) -> Value:
    """A literal from its JSON form (see :func:`value_to_json`)."""
    if isinstance(data, bool | int | str):
        return data
    if isinstance(data, Mapping):
        try:
            if set(data) == {"decimal"} and isinstance(data["decimal"], str):
                result = Decimal(data["decimal"])
                if result.is_finite():
                    return result
            elif (
                set(data) == {"money", "currency"}
                and isinstance(data["money"], str)
                and isinstance(data["currency"], str)
            ):
                return Money.of(data["money"], data["currency"])
        except (decimal.InvalidOperation, CardBenefitsError):
            pass
    raise RuleSyntaxError(
        'expected a string, an integer, true/false, {"decimal": "1.5"} or {"money": "10", "currency": "CNY"}',
        path=path,
        value=data,
    )


_KEYS: Final[dict[str, frozenset[str]]] = {
    "and": frozenset({"op", "args"}),
    "or": frozenset({"op", "args"}),
    "not": frozenset({"op", "arg"}),
    "flag": frozenset({"op", "field"}),
    "in": frozenset({"op", "field", "values", "style"}),
    "not in": frozenset({"op", "field", "values", "style"}),
    "contains": frozenset({"op", "field", "value"}),
    "not contains": frozenset({"op", "field", "value"}),
    "has any": frozenset({"op", "field", "values"}),
    "has all": frozenset({"op", "field", "values"}),
    "is missing": frozenset({"op", "field"}),
    "is present": frozenset({"op", "field"}),
    "within": frozenset({"op", "field", "amount", "unit"}),
    "older than": frozenset({"op", "field", "amount", "unit"}),
    "before": frozenset({"op", "field", "instant"}),
    "after": frozenset({"op", "field", "instant"}),
}


def node_from_json(data: object, schema: FieldSchema) -> Node:
    """Load and check a versioned JSON document ``{"version": 1, "rule": {...}}``."""
    if not isinstance(data, Mapping):
        raise RuleSyntaxError("a rule document is an object", path="$", value=data)
    if set(data) != {"version", "rule"}:
        raise RuleSyntaxError(
            "a rule document has exactly 'version' and 'rule'", path="$", value=sorted(data)
        )
    if data["version"] != JSON_VERSION or isinstance(data["version"], bool):
        raise RuleSyntaxError(
            f"unsupported rule version; this library reads {JSON_VERSION}",
            path="version",
            value=data["version"],
        )
    return _node(data["rule"], schema, "rule", 1)


def _node(data: object, schema: FieldSchema, path: str, level: int) -> Node:
    if level > MAX_DEPTH:
        raise RuleSyntaxError(f"rule nested deeper than {MAX_DEPTH} levels", path=path)
    if not isinstance(data, Mapping):
        raise RuleSyntaxError("a rule node is an object with an 'op'", path=path, value=data)
    op = data.get("op")
    keys = _KEYS.get(op) if isinstance(op, str) else None
    if keys is None:
        if op in COMPARISONS:
            keys = frozenset({"op", "field", "other" if "other" in data else "value"})
        else:
            raise RuleSyntaxError(
                f"unknown op; expected one of {', '.join([*_KEYS, *COMPARISONS])}",
                path=f"{path}.op",
                value=op,
            )
    if set(data) != keys:
        raise RuleSyntaxError(
            f"op '{op}' takes exactly the keys {', '.join(sorted(keys))}", path=path, value=sorted(data)
        )
    if op in ("and", "or"):
        args = data["args"]
        if not isinstance(args, list) or len(args) < 2:
            raise RuleSyntaxError("'args' is a list of two or more rules", path=f"{path}.args", value=args)
        nodes = tuple(_node(a, schema, f"{path}.args[{i}]", level + 1) for i, a in enumerate(args))
        return And(nodes) if op == "and" else Or(nodes)
    if op == "not":
        return Not(_node(data["arg"], schema, f"{path}.arg", level + 1))
    field = data["field"]
    if not isinstance(field, str) or not FIELD_NAME.fullmatch(field):
        raise RuleSyntaxError("'field' is a dotted field name", path=f"{path}.field", value=field)
    node = _leaf(cast(str, op), field, data, path)
    check_leaf(node, schema, path)
    return node


def _strings(data: object, path: str) -> tuple[str, ...]:
    if not isinstance(data, list) or not all(isinstance(v, str) for v in data):
        raise RuleTypeError("expected a list of strings", path=path, value=data)
    return tuple(data)


def _leaf(op: str, field: str, data: Mapping[str, object], path: str) -> Leaf:
    if op == "flag":
        return Flag(field)
    if op in COMPARISONS:
        if "other" in data:
            other = data["other"]
            if not isinstance(other, str) or not FIELD_NAME.fullmatch(other):
                raise RuleSyntaxError("'other' is a dotted field name", path=f"{path}.other", value=other)
            return CompareFields(field, cast(CompareOp, op), other)
        return Compare(field, cast(CompareOp, op), value_from_json(data["value"], f"{path}.value"))
    if op in ("in", "not in"):
        values = data["values"]
        if not isinstance(values, list):
            raise RuleSyntaxError("'values' is a list", path=f"{path}.values", value=values)
        style = data["style"]
        if style not in ("set", "list"):
            raise RuleSyntaxError("'style' is 'set' or 'list'", path=f"{path}.style", value=style)
        parsed = tuple(value_from_json(v, f"{path}.values[{i}]") for i, v in enumerate(values))
        return Member(field, parsed, "set" if style == "set" else "list", op == "not in")
    if op in ("contains", "not contains"):
        value = data["value"]
        if not isinstance(value, str):
            raise RuleTypeError("'value' is a string", path=f"{path}.value", value=value)
        return Contains(field, value, op == "not contains")
    if op in ("has any", "has all"):
        return HasTags(field, "any" if op == "has any" else "all", _strings(data["values"], f"{path}.values"))
    if op in ("is missing", "is present"):
        return Presence(field, op == "is present")
    if op in ("within", "older than"):
        amount, unit = data["amount"], data["unit"]
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
            raise RuleTypeError("'amount' is a whole number >= 0", path=f"{path}.amount", value=amount)
        if unit not in UNITS:
            raise RuleTypeError(f"'unit' is one of {', '.join(UNITS)}", path=f"{path}.unit", value=unit)
        return (Within if op == "within" else OlderThan)(field, amount, str(unit))
    text = data["instant"]
    if not isinstance(text, str):
        raise RuleTypeError("'instant' is a date string", path=f"{path}.instant", value=text)
    instant = parse_instant(text, f"{path}.instant")
    return Before(field, text, instant) if op == "before" else After(field, text, instant)
