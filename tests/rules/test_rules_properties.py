"""Properties of the rule language: round trips, agreement of every evaluation path, fuzzing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rule_strategies import AT, SCHEMA, nodes, records

from cardbenefits.errors import RuleError
from cardbenefits.rules import Rule, compile_rule, explain, parse, truth
from cardbenefits.rules.ast import Node, fields_of, to_text
from cardbenefits.rules.batch import evaluate_batch, records_to_frame
from cardbenefits.rules.jsonform import node_from_json, node_to_json

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(nodes)
def test_text_round_trip(node: Node) -> None:
    text = to_text(node)
    rule = parse(text, SCHEMA)
    assert rule.node == node
    assert to_text(rule.node) == text


@FAST
@given(nodes)
def test_json_round_trip_through_json_text(node: Node) -> None:
    doc = Rule(node, SCHEMA).to_json()
    reloaded = json.loads(json.dumps(doc, ensure_ascii=False))
    assert reloaded == doc
    again = Rule.from_json(reloaded, SCHEMA)
    assert again.node == node
    assert parse(again.text, SCHEMA).to_json() == doc


@FAST
@given(nodes, records())
def test_compiled_agrees_with_interpreter_and_explanation(node: Node, record: dict[str, Any]) -> None:
    rule = Rule(node, SCHEMA)
    compiled = compile_rule(rule)(record, AT)
    interpreted = truth(node, record, AT)
    assert compiled is (interpreted is True)
    explanation = explain(rule, record, AT)
    assert explanation.eligible is compiled
    assert rule.evaluate(record, AT) is compiled
    # A negated rule is eligible exactly when the original is definitely false.
    assert compile_rule(Rule(_negate(node), SCHEMA))(record, AT) is (interpreted is False)


def _negate(node: Node) -> Node:
    from cardbenefits.rules.ast import Not

    return Not(node)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nodes, st.lists(records(), min_size=1, max_size=6))
def test_batch_agrees_with_per_record(node: Node, rows: list[dict[str, Any]]) -> None:
    rule = Rule(node, SCHEMA)
    per_record = [rule.evaluate(r, AT) for r in rows]
    assert evaluate_batch(rule, rows, AT) == per_record
    # The negation too: UNKNOWN must stay UNKNOWN (not eligible) in both paths.
    from cardbenefits.rules.ast import Not

    negated = Rule(Not(node), SCHEMA)
    assert evaluate_batch(negated, records_to_frame(rows, SCHEMA), AT) == [
        negated.evaluate(r, AT) for r in rows
    ]


VOCAB = [
    "age", "tags", "region", "card.tier", "card", "card.approved_at", "rfm.recency_days", "rfm.recncy_days",
    "spend.month", "lifecycle", "delinquent", "__class__", "__import__", "os.system", "and", "or", "not",
    "in", "has", "any", "all", "of", "is", "missing", "present", "within", "older", "than", "before",
    "after", "days", "months", "true", "false", "==", "!=", "<", "<=", ">", ">=", "≥", "(", ")", "{", "}",
    "[", "]", ",", "-", "60", "3.5", "3000 CNY", "¥3,000", "12元", '"silver"', '"2026-12-01"', '"dormnt"',
    '"\\u0041"', '"bad\\q"', "'x'", "\n", "~", "@", "lambda", "__builtins__",
]  # fmt: skip

token_soup = st.lists(st.sampled_from(VOCAB), max_size=14).map(" ".join)


def _check_parse(text: str) -> None:
    try:
        rule = parse(text, SCHEMA)
    except RuleError as err:
        error: RuleError | None = err
    else:
        error = None
    if error is not None:
        assert error.path, error
        return
    known = set(SCHEMA) | set(SCHEMA.groups)
    assert set(fields_of(rule.node)) <= known
    assert parse(rule.canonical, SCHEMA) == rule


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=60), token_soup))
def test_no_text_crashes_the_parser_or_escapes_the_schema(text: str) -> None:
    _check_parse(text)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=8)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.sampled_from(
                [
                    "op",
                    "args",
                    "arg",
                    "field",
                    "value",
                    "values",
                    "style",
                    "amount",
                    "unit",
                    "instant",
                    "other",
                    "money",
                    "currency",
                    "decimal",
                ]
            ),
            inner,
            max_size=5,
        ),
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(nodes, json_values, st.randoms(use_true_random=False))
def test_mutated_json_fails_only_with_rule_errors(node: Node, junk: object, rnd: Any) -> None:
    doc = node_to_json(node)
    # Replace one random sub-object or value of the valid document with junk.
    holders: list[tuple[Any, Any]] = []

    def collect(obj: Any) -> None:
        if isinstance(obj, dict):
            for key, value in obj.items():
                holders.append((obj, key))
                collect(value)
        elif isinstance(obj, list):
            for i, value in enumerate(obj):
                holders.append((obj, i))
                collect(value)

    collect(doc)
    if holders:
        container, key = rnd.choice(holders)
        container[key] = junk
    try:
        loaded = node_from_json({"version": 1, "rule": doc}, SCHEMA)
    except RuleError as err:
        failure: RuleError | None = err
    else:
        failure = None
        assert set(fields_of(loaded)) <= set(SCHEMA) | set(SCHEMA.groups)
    assert failure is None or failure.path


@pytest.mark.parametrize(
    "doc",
    [
        None,
        [],
        {"version": 2, "rule": {}},
        {"version": True, "rule": {}},
        {"rule": {"op": "flag", "field": "delinquent"}},
    ],
)
def test_bad_envelopes(doc: object) -> None:
    with pytest.raises(RuleError):
        node_from_json(doc, SCHEMA)
