"""The simulation report as one self-contained HTML page: tables and inline SVG charts.

No external CSS, fonts or scripts: the page opens from disk anywhere. It carries a tiny inline
script that measures each chart (``getBBox()`` of every ``svg.chart``) once the page has laid
out and writes the number of charts with a non-empty drawing into ``data-charts-rendered`` on
``<body>`` (``data-charts`` holds how many there are) — a headless browser's ``--dump-dom``
then shows whether the charts really rendered.

Charts: a funnel per funnel campaign (or, without one, the customer funnel: customers → active
in the period → reached by a benefit), the budget burn-down (remaining budget per programme
with a budget; cumulative issuer cost otherwise), the activation-ladder tier distribution,
refusals by reason, coupons issued/redeemed/returned per programme and customers per
lifecycle stage. Tables: programmes (reached, grants, cost against budget, coupons, refunds and
clawbacks), funnels with conversion per stage in total, by channel and by day, group rewards
per employer group, budgets and stock, ladder tiers, refusals by reason and segments.

>>> page = render_html({"catalog": "demo@1", "totals": {"customers": 2, "customers_reached": 1},
...     "events": {"transaction": 3}, "programmes": [], "funnels": [], "limits": [],
...     "segments": {"lifecycle": {"active": 2}, "rfm": {}}})
>>> page.startswith("<!DOCTYPE html>") and 'data-charts="' in page and "<script" in page
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from html import escape
from typing import Any

from cardbenefits.report.charts import bar_chart, funnel_chart, line_chart

__all__ = ["render_html"]

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI","PingFang SC","Noto Sans CJK SC",sans-serif;
margin:24px;color:#1f2328;max-width:1100px}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:right}
th{background:#f6f8fa}td:first-child,th:first-child{text-align:left}
.charts{display:flex;flex-wrap:wrap;gap:16px}.chart{border:1px solid #d0d7de;background:#fff}
.kpi{display:inline-block;margin:4px 16px 4px 0}.kpi b{display:block;font-size:20px}
"""

_SCRIPT = """
(function(){function measure(){var charts=document.querySelectorAll('svg.chart'),n=0;
charts.forEach(function(svg){var box=svg.getBBox();var marks=svg.querySelectorAll('rect,polyline');
var drawn=0;marks.forEach(function(m){var b=m.getBBox();if(b.width>0||b.height>0){drawn++;}});
if(box.width>0&&box.height>0&&drawn>0){n++;svg.setAttribute('data-rendered','true');}});
document.body.setAttribute('data-charts-rendered',String(n));}
if(document.readyState==='loading'){document.addEventListener('DOMContentLoaded',measure);}else{measure();}})();
"""


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape('' if v is None else str(v))}</td>" for v in row) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _burn_chart(programmes: Sequence[Mapping[str, Any]]) -> str:
    budgeted = [p for p in programmes if p.get("budget") is not None and p["burn"]]
    if budgeted:
        series = [
            (p["programme_id"], [(day, Decimal(p["budget"]) - Decimal(cost)) for day, cost in p["burn"]])
            for p in budgeted
        ]
        peak = max(Decimal(p["budget"]) for p in budgeted)
        return line_chart("Budget burn-down 预算剩余 (¥)", series, baseline=peak)
    spending = [p for p in programmes if p["burn"]]
    series = [(p["programme_id"], [(day, Decimal(cost)) for day, cost in p["burn"]]) for p in spending]
    return line_chart("Cumulative issuer cost 累计成本 (¥)", series)


def _tier_chart(programmes: Sequence[Mapping[str, Any]]) -> str:
    bars = [(f"{p['programme_id']}/{tier}", n) for p in programmes for tier, n in p["tiers"].items()]
    return bar_chart("Activation-ladder tiers 阶梯达标", bars)


def _coupon_chart(programmes: Sequence[Mapping[str, Any]]) -> str:
    bars: list[tuple[str, int]] = []
    for p in programmes:
        for key, label in (("coupons_issued", "issued 发券"), ("coupons_redeemed", "redeemed 核销"),
                           ("coupons_returned", "returned 退券")):  # fmt: skip
            if p.get("coupons_issued"):
                bars.append((f"{p['programme_id']} {label}", int(p.get(key, 0))))
    if not bars:
        bars = [("issued 发券", 0)]
    return bar_chart("Coupons 电子券", bars)


def _funnel_charts(report: Mapping[str, Any]) -> list[str]:
    charts = []
    for funnel in report["funnels"]:
        stages = funnel["stages"]
        charts.append(
            funnel_chart(
                f"Funnel 漏斗: {funnel['campaign_id']}",
                [
                    ("follow 关注", stages["follow"]),
                    ("draw 抽奖", stages["draw"]),
                    ("pay 支付", stages["pay"]),
                ],
            )
        )
    if not charts:
        totals = report["totals"]
        charts.append(
            funnel_chart(
                "Customer funnel 客户漏斗",
                [
                    ("customers 客户", int(totals.get("customers", 0))),
                    ("active 有交易", int(totals.get("customers_active", 0))),
                    ("reached 获益", int(totals.get("customers_reached", 0))),
                ],
            )
        )
    return charts


def render_html(report: Mapping[str, Any]) -> str:
    """The report page (see the module docstring)."""
    programmes = list(report["programmes"])
    totals = report["totals"]
    refusals: dict[str, int] = {}
    for p in programmes:
        for reason, n in p["refusals"].items():
            refusals[f"{p['programme_id']}: {reason}"] = n
    top = sorted(refusals.items(), key=lambda kv: (-kv[1], kv[0]))[:12]
    charts = [
        *_funnel_charts(report),
        _burn_chart(programmes),
        _tier_chart(programmes),
        bar_chart("Refusals by reason 拒绝原因", top),
        _coupon_chart(programmes),
        bar_chart(
            "Customers by lifecycle stage 生命周期", list(report["segments"].get("lifecycle", {}).items())
        ),
    ]
    kpis = "".join(
        f'<span class="kpi">{escape(label)}<b>{escape(str(totals.get(key, "")))}</b></span>'
        for key, label in (
            ("customers", "customers 客户"),
            ("customers_reached", "reached 触达"),
            ("grants", "grants 发放"),
            ("issuer_cost", "issuer cost 成本 ¥"),
            ("clawbacks", "clawbacks 扣回"),
            ("refunds", "refunds 退款"),
            ("coupons_issued", "coupons issued 发券"),
            ("coupons_redeemed", "coupons redeemed 核销"),
            ("coupons_returned", "coupons returned 退券"),
        )
    )
    programme_rows = [
        (
            p["programme_id"],
            p["customers_reached"],
            p["grants"],
            p["clawbacks"],
            p["issuer_cost"],
            p.get("budget"),
            p.get("budget_used_pct"),
            ", ".join(f"{q} {a}" for a, q in p["quantity"].items()),
            p["coupons_issued"],
            p["coupons_redeemed"],
            p.get("coupons_returned", 0),
            sum(p["refusals"].values()),
        )
        for p in programmes
    ]
    breakdown_rows = [
        (f["campaign_id"], by, value, c["follow"], c["draw"], c["pay"], c["follow_to_draw"], c["draw_to_pay"])
        for f in report["funnels"]
        for by, key in (("channel", "by_channel"), ("day", "by_day"))
        for value, c in f.get(key, {}).items()
    ]
    group_rows = [
        (e["programme_id"], e["group_id"], e["at"], e["members"], e["activated"], e["required"],
         "yes" if e["granted"] else "no")
        for g in report.get("group_rewards", [])
        for e in g["evaluations"]
    ]  # fmt: skip
    tier_rows = [(p["programme_id"], tier, n) for p in programmes for tier, n in p["tiers"].items()]
    funnel_rows = [
        (
            f["campaign_id"],
            f["stages"]["follow"],
            f["stages"]["draw"],
            f["stages"]["pay"],
            f["conversion"]["follow_to_draw"],
            f["conversion"]["draw_to_pay"],
            f["draws"],
            f["blanks"],
        )
        for f in report["funnels"]
    ]
    limit_rows = [
        (u["programme_id"], u["limit_id"], u["kind"], u["maximum"], u["used"]) for u in report["limits"]
    ]
    events = ", ".join(f"{n} {kind}" for kind, n in report["events"].items())
    title = f"Simulation report 模拟报告 — {report.get('catalog') or report.get('catalog_version', '')}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>",
        f'<body data-charts="{len(charts)}" data-charts-rendered="0">',
        f"<h1>{escape(title)}</h1>",
        f"<p>Events 事件: {escape(events)}; from {escape(str(report.get('first_event')))} "
        f"to {escape(str(report.get('last_event')))}; segments as of {escape(str(report.get('as_of')))} "
        f"({escape(str(report.get('history_events', 0)))} history events).</p>",
        f"<div>{kpis}</div>",
        '<h2>Charts 图表</h2><div class="charts">',
        *charts,
        "</div>",
        "<h2>Programmes 权益活动</h2>",
        _table(
            [
                "programme",
                "reached",
                "grants",
                "clawbacks",
                "issuer cost ¥",
                "budget ¥",
                "budget used %",
                "quantity",
                "coupons issued",
                "coupons redeemed",
                "coupons returned",
                "refusals",
            ],
            programme_rows,
        ),
        "<h2>Funnels 漏斗</h2>",
        _table(
            ["campaign", "follow", "draw", "pay", "follow→draw", "draw→pay", "draws", "blanks"], funnel_rows
        ),
        "<h3>Funnel by channel and day 分渠道/分日转化</h3>",
        _table(
            ["campaign", "by", "value", "follow", "draw", "pay", "follow→draw", "draw→pay"], breakdown_rows
        ),
        "<h2>Group rewards 团队达标奖</h2>",
        _table(
            ["programme", "group", "evaluated at", "members", "activated", "required", "granted"], group_rows
        ),
        "<h2>Activation-ladder tiers 阶梯达标</h2>",
        _table(["programme", "tier", "count"], tier_rows),
        "<h2>Budgets and stock 预算与库存</h2>",
        _table(["programme", "limit", "kind", "maximum", "used"], limit_rows),
        "<h2>Refusals 拒绝原因</h2>",
        _table(["programme: reason", "count"], sorted(refusals.items())),
        "<h2>Segments 客群</h2>",
        _table(
            ["kind", "segment", "customers"],
            [(k, s, n) for k, counts in report["segments"].items() for s, n in counts.items()],
        ),
        f"<script>{_SCRIPT}</script>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"
