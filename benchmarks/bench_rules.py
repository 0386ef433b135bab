"""Benchmark: compiled eligibility rules against named baselines, in one run.

Same 5 rules of rising complexity over the same 200,000 synthetic customers (seeded):

- ``ours``        cardbenefits compiled predicate, per record (``compile_rule``)
- ``lambda``      a hand-written Python lambda per rule (direct ``r["key"]`` access)
- ``rule-engine`` the ``rule-engine`` package (``Rule.matches``)
- ``json-logic``  the ``json-logic`` package (0.6.3 is Python-2 code: it is run from its own
                  source with two one-line Python 3 fixes, ``keys()[0]`` and ``reduce``)
- ``zen``         ``zen-engine`` compiled expressions (``compile_expression(...).evaluate``)
- ``batch``       cardbenefits Polars batch path (``evaluate_batch`` on a prepared table;
                  building the table from records is timed separately)

Slow baselines run on the first 20,000 customers; rates are evaluations per second, so the
ratios are comparable. Every path must give the same answers as ours (checked). The data has
no missing values so every baseline can run unguarded; our predicate still checks for
missing values (three-valued logic), the lambdas do not.

Run: ``python benchmarks/bench_rules.py`` (about a minute). Not a test.
"""

from __future__ import annotations

import functools
import inspect
import random
import sys
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import pendulum

from cardbenefits.money import Money
from cardbenefits.rules import compile_rule, parse
from cardbenefits.rules.batch import evaluate_batch, records_to_frame

N = 200_000
SLOW_N = 20_000
SEED = 20260520
AT = pendulum.datetime(2026, 11, 20, 12, tz="Asia/Shanghai")
AT_TS = int(AT.timestamp())
START_30D_TS = int(AT.subtract(days=30).timestamp())
TAGS = ["gamer", "anime", "silver", "traveller", "parent", "pet", "new_city", "vip", "student", "sports"]
REGIONS = ["SH", "BJ", "GZ", "SZ", "HZ", "CD", "WH", "XA"]
TIERS = ["classic", "gold", "platinum", "diamond"]
STAGES = ["new", "activating", "active", "dormant", "win_back"]


def synth_customers(n: int, seed: int = SEED) -> list[dict[str, Any]]:
    """``n`` customer records in the shared record shape (no missing values)."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        approved = AT.subtract(minutes=rnd.randrange(0, 60 * 24 * 400))
        out.append(
            {
                "id": f"c{i}",
                "person_id": f"p{i}",
                "segment": rnd.choice(["z_gen", "mid_career", "hnw", "new_urban", "silver"]),
                "tags": frozenset(rnd.sample(TAGS, rnd.randrange(0, 4))),
                "age": rnd.randrange(18, 85),
                "region": rnd.choice(REGIONS),
                "channel": rnd.choice(["app", "wechat", "branch"]),
                "employer_group": None,
                "new_to_bank": rnd.random() < 0.2,
                "delinquent": rnd.random() < 0.05,
                "card": {
                    "id": f"k{i}",
                    "product": "std",
                    "tier": rnd.choice(TIERS),
                    "approved_at": approved,
                    "activated_at": approved.add(days=rnd.randrange(0, 30)),
                    "supplementary": rnd.random() < 0.1,
                },
                "rfm": {
                    "recency_days": rnd.randrange(0, 400),
                    "frequency": rnd.randrange(0, 60),
                    "monetary": Money.from_minor(rnd.randrange(0, 2_000_000)),
                    "score": rnd.randrange(1, 6),
                },
                "lifecycle": rnd.choice(STAGES),
                "spend": {"month": Money.from_minor(rnd.randrange(0, 800_000)), "campaign": Money.zero()},
            }
        )
    return out


# name, our rule, hand lambda, rule-engine text, json-logic, zen expression
RULES: list[tuple[str, str, Callable[[dict[str, Any], datetime], bool], str, Any, str]] = [
    (
        "R1 one comparison",
        "age >= 60",
        lambda r, at: r["age"] >= 60,
        "age >= 60",
        {">=": [{"var": "age"}, 60]},
        "age >= 60",
    ),
    (
        "R2 two clauses",
        "age >= 30 and not delinquent",
        lambda r, at: r["age"] >= 30 and not r["delinquent"],
        "age >= 30 and not delinquent",
        {"and": [{">=": [{"var": "age"}, 30]}, {"!": {"var": "delinquent"}}]},
        "age >= 30 and not delinquent",
    ),
    (
        "R3 nested + set",
        'card.tier in ("gold", "platinum") and not delinquent and rfm.recency_days <= 90',
        lambda r, at: r["card"]["tier"] in ("gold", "platinum")
        and not r["delinquent"]
        and r["rfm"]["recency_days"] <= 90,
        'card.tier in ["gold", "platinum"] and not delinquent and rfm.recency_days <= 90',
        {
            "and": [
                {"in": [{"var": "card.tier"}, ["gold", "platinum"]]},
                {"!": {"var": "delinquent"}},
                {"<=": [{"var": "rfm.recency_days"}, 90]},
            ]
        },
        "card.tier in ['gold', 'platinum'] and not delinquent and rfm.recency_days <= 90",
    ),
    (
        "R4 money + tags + region",
        'spend.month >= 3000 CNY and "gamer" in tags and region in {"SH", "BJ", "GZ", "SZ"}',
        lambda r, at: r["spend"]["month"] >= _M3000
        and "gamer" in r["tags"]
        and r["region"] in {"SH", "BJ", "GZ", "SZ"},
        'spend.month >= 3000 and "gamer" in tags and region in ["SH", "BJ", "GZ", "SZ"]',
        {
            "and": [
                {">=": [{"var": "spend.month"}, Decimal(3000)]},
                {"in": ["gamer", {"var": "tags"}]},
                {"in": [{"var": "region"}, ["SH", "BJ", "GZ", "SZ"]]},
            ]
        },
        "spend.month >= 3000 and 'gamer' in tags and region in ['SH', 'BJ', 'GZ', 'SZ']",
    ),
    (
        "R5 window + any-of + or",
        '(tags has any of {"gamer", "anime"} or age >= 60) and card.approved_at within 30 days'
        ' and lifecycle in {"new", "activating"} and not delinquent and spend.month >= ¥500',
        lambda r, at: ("gamer" in r["tags"] or "anime" in r["tags"] or r["age"] >= 60)
        and _START30 <= r["card"]["approved_at"] <= at
        and r["lifecycle"] in ("new", "activating")
        and not r["delinquent"]
        and r["spend"]["month"] >= _M500,
        f'("gamer" in tags or "anime" in tags or age >= 60) and card.approved_at >= {START_30D_TS}'
        f' and card.approved_at <= {AT_TS} and lifecycle in ["new", "activating"] and not delinquent'
        " and spend.month >= 500",
        {
            "and": [
                {"or": [{"in": ["gamer", {"var": "tags"}]}, {"in": ["anime", {"var": "tags"}]},
                        {">=": [{"var": "age"}, 60]}]},
                {"<=": [START_30D_TS, {"var": "card.approved_at"}, AT_TS + 1]},
                {"in": [{"var": "lifecycle"}, ["new", "activating"]]},
                {"!": {"var": "delinquent"}},
                {">=": [{"var": "spend.month"}, Decimal(500)]},
            ]
        },
        f"('gamer' in tags or 'anime' in tags or age >= 60) and card.approved_at >= {START_30D_TS}"
        f" and card.approved_at <= {AT_TS} and lifecycle in ['new', 'activating'] and not delinquent"
        " and spend.month >= 500",
    ),
]  # fmt: skip
_START30 = AT.subtract(days=30)  # a careful hand-written rule hoists the window start
_M500 = Money.of(500)
_M3000 = Money.of(3000)


def _plain(
    record: dict[str, Any], *, money: Callable[[Money], Any], when: Callable[[Any], Any]
) -> dict[str, Any]:
    """A record converted for a baseline engine (dates as epoch seconds, money as numbers)."""
    card = dict(record["card"])
    card["approved_at"] = when(card["approved_at"])
    card["activated_at"] = when(card["activated_at"])
    rfm = dict(record["rfm"], monetary=money(record["rfm"]["monetary"]))
    spend = {k: money(v) for k, v in record["spend"].items()}
    return dict(record, card=card, rfm=rfm, spend=spend, tags=sorted(record["tags"]))


def _json_logic() -> Callable[[Any, Any], Any]:
    import json_logic

    source = inspect.getsource(json_logic)
    patched = source.replace("op = tests.keys()[0]", "op = next(iter(tests))")
    namespace: dict[str, Any] = {"reduce": functools.reduce, "sys": sys}
    exec(compile(patched, json_logic.__file__ or "json_logic", "exec"), namespace)
    return namespace["jsonLogic"]  # type: ignore[no-any-return]


def _rate(function: Callable[[], list[bool]], count: int) -> tuple[float, list[bool]]:
    start = time.perf_counter()
    result = function()
    elapsed = time.perf_counter() - start
    return count / elapsed, result


def main() -> None:
    import rule_engine
    import zen

    t0 = time.perf_counter()
    customers = synth_customers(N)
    print(f"generated {N:,} customers in {time.perf_counter() - t0:.1f}s (seed {SEED})")
    slow = customers[:SLOW_N]
    re_records = [_plain(r, money=lambda m: m.amount, when=lambda d: int(d.timestamp())) for r in slow]
    jl_records = re_records
    zen_records = [
        _plain(r, money=lambda m: float(m.amount), when=lambda d: int(d.timestamp())) for r in customers
    ]
    t0 = time.perf_counter()
    frame = records_to_frame(customers, parse("age > 0").schema)
    build = time.perf_counter() - t0
    print(f"built the Polars table in {build:.2f}s ({N / build:,.0f} records/s, not included below)")
    jsonlogic = _json_logic()
    context = rule_engine.Context(resolver=rule_engine.resolve_item)

    header = (
        f"{'rule':26} {'ours/s':>11} {'lambda/s':>11} {'vs lambda':>9} {'rule-eng/s':>11} {'x faster':>8}"
        f" {'json-lgc/s':>11} {'x faster':>8} {'zen/s':>11} {'x faster':>8} {'batch/s':>12} {'batch x':>8}"
    )
    print(header)
    print("-" * len(header))
    for name, text, hand, re_text, jl_rule, zen_text in RULES:
        rule = parse(text)
        check = compile_rule(rule)
        ours, ours_result = _rate(lambda: [check(r, AT) for r in customers], N)  # noqa: B023
        lam, lam_result = _rate(lambda: [hand(r, AT) for r in customers], N)  # noqa: B023
        engine_rule = rule_engine.Rule(re_text, context=context)
        eng, eng_result = _rate(lambda: [engine_rule.matches(r) for r in re_records], SLOW_N)  # noqa: B023
        jl, jl_result = _rate(lambda: [bool(jsonlogic(jl_rule, r)) for r in jl_records], SLOW_N)  # noqa: B023
        compiled_zen = zen.compile_expression(zen_text)
        zn, zen_result = _rate(lambda: [bool(compiled_zen.evaluate(r)) for r in zen_records], N)  # noqa: B023
        bat, batch_result = _rate(lambda: evaluate_batch(rule, frame, AT), N)  # noqa: B023
        agree = (
            ours_result == lam_result == zen_result == batch_result
            and ours_result[:SLOW_N] == eng_result == jl_result
        )
        print(
            f"{name:26} {ours:11,.0f} {lam:11,.0f} {lam / ours:8.2f}x {eng:11,.0f} {ours / eng:7.1f}x"
            f" {jl:11,.0f} {ours / jl:7.1f}x {zn:11,.0f} {ours / zn:7.1f}x {bat:12,.0f} {bat / ours:7.1f}x"
            + ("" if agree else "   ANSWERS DIFFER")
        )
        print(f"{'':26} eligible: {sum(ours_result):,} of {N:,}; all engines agree: {agree}")
    print(
        "vs lambda = our time / lambda time (1.00x = as fast; target <= 1.5x); x faster = our rate / theirs;"
        " batch x = batch rate / our per-record rate"
    )


if __name__ == "__main__":
    main()
