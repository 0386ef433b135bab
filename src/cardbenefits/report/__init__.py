"""Reports: machine-readable files and a self-contained HTML page with SVG charts."""

from __future__ import annotations

from cardbenefits.report.charts import bar_chart, funnel_chart, line_chart

__all__ = ["bar_chart", "funnel_chart", "line_chart"]
