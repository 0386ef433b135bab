"""The simulation report as data: one JSON document and flat tables (CSV, Parquet).

:func:`build_report` turns a :class:`~cardbenefits.simulate.replay.SimulationResult` into a
plain dict (decimals as strings, so no float ever touches an amount) with the run's totals and
one row per programme or campaign: customers reached, grants, issuer cost against budget,
budget burn per day, stock used, coupons issued/redeemed, funnel conversion per stage, ladder
tier counts, refunds and clawbacks, refusals by reason; then the group rewards (per employer
group: members, activated, granted) and per funnel campaign the stage counts and conversion in
total, by channel and by day. :func:`report_tables` flattens it into
tables; :func:`write_report` writes ``report.json``, one CSV per table, Parquet copies when
pyarrow is installed, and ``index.html`` (:mod:`cardbenefits.report.html`).

The report holds no wall-clock time: the same inputs give byte-identical files.

>>> report = {"programmes": [{"programme_id": "p", "tiers": {"m1": 3}, "refusals": {"cap:x": 2},
...           "burn": [["2026-11-01", "5"]], "quantity": {"cashback": "5"}}], "funnels": [],
...           "limits": [], "segments": {"lifecycle": {"active": 1}, "rfm": {}}}
>>> tables = report_tables(report)
>>> tables["tiers"], tables["refusals"]
([{'programme_id': 'p', 'tier': 'm1', 'count': 3}], [{'programme_id': 'p', 'reason': 'cap:x', 'count': 2}])
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cardbenefits.simulate.replay import SimulationResult

__all__ = ["REPORT_FORMAT", "build_report", "report_tables", "write_report"]

REPORT_FORMAT = "cardbenefits.simulation/1"
"""The ``format`` field of ``report.json``; bumped when a field changes meaning."""

_ZERO = Decimal(0)


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def _pct(part: Decimal, whole: Decimal) -> str | None:
    return None if whole == 0 else str((part * 100 / whole).quantize(Decimal("0.01")))


def build_report(result: SimulationResult, *, catalog_ref: str | None = None) -> dict[str, Any]:
    """The whole report as a JSON-ready dict (see the module docstring)."""
    metrics = result.metrics
    programmes: list[dict[str, Any]] = []
    stock_used: dict[str, list[dict[str, str]]] = {}
    for usage in result.limits:
        if usage.kind == "stock":
            stock_used.setdefault(usage.programme_id, []).append(usage.to_dict())
    for pid, row in metrics.programmes.items():
        data = row.to_dict()
        budget = result.budgets.get(pid)
        data["budget"] = None if budget is None else str(budget)
        data["budget_used_pct"] = None if budget is None else _pct(row.issuer_cost, budget)
        data["stock"] = stock_used.get(pid, [])
        funnel = result.funnels.get(pid)
        data["funnel"] = None if funnel is None else _funnel(funnel)
        programmes.append(data)
    customers_reached = _reached_total(result)
    totals = {
        "customers": len(result.customers),
        "customers_active": metrics.active_customers,
        "customers_reached": customers_reached,
        "grants": sum(r.grants for r in metrics.programmes.values()),
        "clawbacks": sum(r.clawbacks for r in metrics.programmes.values()),
        "issuer_cost": str(sum((r.issuer_cost for r in metrics.programmes.values()), _ZERO)),
        "clawback_cost": str(sum((r.clawback_cost for r in metrics.programmes.values()), _ZERO)),
        "coupons_issued": sum(r.coupons_issued for r in metrics.programmes.values()),
        "coupons_redeemed": sum(r.coupons_redeemed for r in metrics.programmes.values()),
        "coupons_returned": sum(r.coupons_returned for r in metrics.programmes.values()),
        "coupon_value": str(sum((r.coupon_value for r in metrics.programmes.values()), _ZERO)),
        "refunds": metrics.refunds,
        "refunded_amount": str(metrics.refunded_amount),
        "refusals": sum(sum(r.refusals.values()) for r in metrics.programmes.values()),
    }
    return {
        "format": REPORT_FORMAT,
        "catalog": catalog_ref,
        "catalog_version": result.catalog_version,
        "as_of": _iso(result.as_of),
        "first_event": _iso(result.first_event),
        "last_event": _iso(result.last_event),
        "history_events": result.history_events,
        "events": dict(metrics.events),
        "totals": totals,
        "programmes": programmes,
        "limits": [u.to_dict() for u in result.limits],
        "funnels": [{"campaign_id": cid, **_funnel(f)} for cid, f in result.funnels.items()],
        "group_rewards": _groups(result),
        "segments": {k: dict(v) for k, v in result.segments.items()},
    }


def _groups(result: SimulationResult) -> list[dict[str, Any]]:
    """Per group reward: groups evaluated and granted, and one row per employer group."""
    by_reward: dict[str, list[Any]] = {}
    for outcome in result.groups:
        by_reward.setdefault(outcome.programme_id, []).append(outcome)
    return [
        {
            "programme_id": pid,
            "groups": len(rows),
            "granted": sum(1 for r in rows if r.granted),
            "clawed_back": sum(1 for r in rows if r.clawed_back),
            "members": sum(r.members for r in rows),
            "activated": sum(r.activated for r in rows),
            "evaluations": [r.to_dict() for r in rows],
        }
        for pid, rows in sorted(by_reward.items())
    ]


def _reached_total(result: SimulationResult) -> int:
    """Customers with at least one grant or coupon from any programme; the pseudo-customers
    holding group rewards (``group:<id>``) are not customers."""
    return result.metrics.customers_reached


def _funnel(metrics: Any) -> dict[str, Any]:
    total = metrics.total

    def rate(value: Any) -> str | None:
        return None if value is None else str(value)

    def counts(c: Any) -> dict[str, Any]:
        return {"follow": c.follow, "draw": c.draw, "pay": c.pay, "follow_to_draw": rate(c.draw_rate),
                "draw_to_pay": rate(c.pay_rate)}  # fmt: skip

    return {
        "stages": {"follow": total.follow, "draw": total.draw, "pay": total.pay},
        "conversion": {
            "follow_to_draw": rate(total.draw_rate),
            "draw_to_pay": rate(total.pay_rate),
            "follow_to_pay": rate(total.overall_rate),
        },
        "draws": metrics.draws,
        "wins": dict(metrics.wins),
        "blanks": metrics.blanks,
        "fallbacks": metrics.fallbacks,
        "by_channel": {ch: counts(c) for ch, c in metrics.by_channel.items()},
        "by_day": {day: counts(c) for day, c in metrics.by_day.items()},
    }


def report_tables(report: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Flat tables of a report: programmes, burn, tiers, refusals, quantities, reached, funnels (stages,
    and by channel and day), group rewards, limits, segments."""
    programmes, burn, tiers, refusals, quantity, reached = [], [], [], [], [], []
    for row in report["programmes"]:
        pid = row["programme_id"]
        programmes.append({k: v for k, v in row.items() if not isinstance(v, dict | list)})
        burn += [{"programme_id": pid, "day": day, "cumulative_cost": cost} for day, cost in row["burn"]]
        tiers += [{"programme_id": pid, "tier": t, "count": n} for t, n in row["tiers"].items()]
        refusals += [{"programme_id": pid, "reason": r, "count": n} for r, n in row["refusals"].items()]
        quantity += [{"programme_id": pid, "asset": a, "quantity": q} for a, q in row["quantity"].items()]
        reached += [
            {"programme_id": pid, "lifecycle": s, "customers": n}
            for s, n in row.get("reached_by", {}).items()
        ]
    funnels, funnel_days, groups = [], [], []
    for f in report["funnels"]:
        for stage, count in f["stages"].items():
            funnels.append({"campaign_id": f["campaign_id"], "stage": stage, "participants": count})
        for key, by in (("channel", "by_channel"), ("day", "by_day")):
            for value, counts in f.get(by, {}).items():
                funnel_days.append({"campaign_id": f["campaign_id"], "by": key, "value": value, **counts})
    for g in report.get("group_rewards", []):
        groups += [dict(row) for row in g["evaluations"]]
    segments = [
        {"kind": kind, "segment": name, "customers": n}
        for kind, counts in report["segments"].items()
        for name, n in counts.items()
    ]
    return {
        "programmes": programmes,
        "burn": burn,
        "tiers": tiers,
        "refusals": refusals,
        "quantity": quantity,
        "reached": reached,
        "funnels": funnels,
        "funnel_breakdown": funnel_days,
        "group_rewards": groups,
        "limits": list(report["limits"]),
        "segments": segments,
    }


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})


def write_report(
    report: Mapping[str, Any], out: str | Path, *, html: bool = True, parquet: bool | None = None
) -> list[Path]:
    """Write ``report.json``, ``<table>.csv`` (and ``.parquet``) and ``index.html`` into ``out``.

    ``parquet=None`` writes Parquet when pyarrow is installed; ``True`` requires it (raising
    :class:`~cardbenefits.simulate.io.MissingExtraError`). Returns the files written.
    """
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "report.json"]
    written[0].write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    tables = report_tables(report)
    for name, rows in tables.items():
        path = folder / f"{name}.csv"
        _write_csv(path, rows)
        written.append(path)
    if parquet is not False:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            if parquet:
                from cardbenefits.simulate.io import MissingExtraError

                raise MissingExtraError(
                    "Parquet reports need pyarrow: pip install 'cardbenefits[parquet]'",
                    path="parquet",
                    value="pyarrow",
                ) from None
        else:
            for name, rows in tables.items():
                if rows:
                    path = folder / f"{name}.parquet"
                    text_rows = [{k: (None if v is None else str(v)) for k, v in r.items()} for r in rows]
                    pq.write_table(pa.Table.from_pylist(text_rows), path)
                    written.append(path)
    if html:
        from cardbenefits.report.html import render_html

        page = folder / "index.html"
        page.write_text(render_html(report), encoding="utf-8")
        written.append(page)
    return written
