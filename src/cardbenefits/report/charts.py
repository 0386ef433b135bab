"""Self-contained SVG charts for reports: no JavaScript, no network, no plotting library.

Each function returns an ``<svg>`` string with ``data-chart`` and ``data-points`` attributes so
a test (or a browser) can check what was drawn. Values are Decimals or ints; labels are text
and are escaped.

>>> svg = bar_chart("Tiers", [("tier 1", 120), ("tier 2", 30)])
>>> svg.startswith("<svg") and 'data-chart="bar"' in svg and 'data-points="2"' in svg
True
>>> "tier 1" in svg
True
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from html import escape

__all__ = ["bar_chart", "funnel_chart", "line_chart"]

Number = Decimal | int

_WIDTH = 640
_PALETTE = ("#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0969da", "#57606a")


def _fmt(value: Number) -> str:
    # Coordinates are drawn with 2 decimals; Decimal keeps them exact until here.
    return f"{Decimal(value):.2f}"


def _header(kind: str, title: str, height: int, points: int) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" '
        f'data-chart="{kind}" data-points="{points}" width="{_WIDTH}" height="{height}" '
        f'viewBox="0 0 {_WIDTH} {height}" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
        f'<text x="8" y="18" font-size="14" font-weight="bold">{escape(title)}</text>'
    )


def bar_chart(title: str, bars: Sequence[tuple[str, Number]], *, unit: str = "") -> str:
    """Horizontal bars, one per ``(label, value)``; negative values are drawn as zero."""
    row, top, label_w = 26, 30, 180
    height = top + row * max(len(bars), 1) + 10
    peak = max((Decimal(v) for _, v in bars), default=Decimal(0))
    scale = Decimal(_WIDTH - label_w - 90) / peak if peak > 0 else Decimal(0)
    parts = [_header("bar", title, height, len(bars))]
    for i, (label, value) in enumerate(bars):
        y = top + i * row
        width = max(Decimal(value), Decimal(0)) * scale
        color = _PALETTE[i % len(_PALETTE)]
        parts.append(
            f'<text x="8" y="{y + 16}" font-size="12">{escape(label)}</text>'
            f'<rect class="bar" x="{label_w}" y="{y + 4}" width="{_fmt(width)}" height="{row - 8}" '
            f'fill="{color}" data-value="{escape(str(value))}"/>'
            f'<text x="{_fmt(label_w + width + 6)}" y="{y + 16}" font-size="12">'
            f"{escape(str(value))}{escape(unit)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def funnel_chart(title: str, stages: Sequence[tuple[str, int]]) -> str:
    """A funnel: one centred band per stage, with the conversion from the previous stage."""
    row, top = 44, 30
    height = top + row * max(len(stages), 1) + 10
    first = max((count for _, count in stages), default=0)
    parts = [_header("funnel", title, height, len(stages))]
    previous: int | None = None
    for i, (label, count) in enumerate(stages):
        y = top + i * row
        width = Decimal(_WIDTH - 220) * count / first if first else Decimal(0)
        x = (Decimal(_WIDTH - 220) - width) / 2 + 10
        rate = ""
        if previous:
            rate = f" ({Decimal(count * 100) / previous:.1f}%)"
        parts.append(
            f'<rect class="stage" x="{_fmt(x)}" y="{y}" width="{_fmt(width)}" height="{row - 8}" '
            f'fill="{_PALETTE[i % len(_PALETTE)]}" data-value="{count}"/>'
            f'<text x="{_WIDTH - 200}" y="{y + 22}" font-size="12">'
            f"{escape(label)}: {count}{escape(rate)}</text>"
        )
        previous = count
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    title: str,
    series: Sequence[tuple[str, Sequence[tuple[str, Number]]]],
    *,
    baseline: Number | None = None,
) -> str:
    """One polyline per named series of ``(x label, value)`` points; an optional dashed
    horizontal ``baseline`` (e.g. the budget)."""
    height, left, top, bottom = 300, 60, 30, 40
    plot_w, plot_h = _WIDTH - left - 20, height - top - bottom
    values = [Decimal(v) for _, pts in series for _, v in pts]
    if baseline is not None:
        values.append(Decimal(baseline))
    peak = max(values, default=Decimal(0))
    peak = peak if peak > 0 else Decimal(1)
    count = max((len(pts) for _, pts in series), default=0)
    step = Decimal(plot_w) / (count - 1) if count > 1 else Decimal(0)
    parts = [_header("line", title, height, sum(len(pts) for _, pts in series))]
    parts.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#888"/>'
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#888"/>'
        f'<text x="4" y="{top + 10}" font-size="11">{escape(str(peak))}</text>'
    )

    def y_of(value: Decimal) -> Decimal:
        return top + plot_h - (value / peak) * plot_h

    if baseline is not None:
        y = y_of(Decimal(baseline))
        parts.append(
            f'<line class="baseline" x1="{left}" y1="{_fmt(y)}" x2="{left + plot_w}" y2="{_fmt(y)}" '
            f'stroke="#d1242f" stroke-dasharray="6 4"/>'
        )
    for s, (name, pts) in enumerate(series):
        coords = " ".join(f"{_fmt(left + i * step)},{_fmt(y_of(Decimal(v)))}" for i, (_, v) in enumerate(pts))
        color = _PALETTE[s % len(_PALETTE)]
        parts.append(
            f'<polyline class="series" fill="none" stroke="{color}" stroke-width="2" points="{coords}" '
            f'data-name="{escape(name)}"/>'
            f'<text x="{left + 8}" y="{top + 14 + 14 * s}" font-size="11" fill="{color}">'
            f"{escape(name)}</text>"
        )
    if series and series[0][1]:
        pts = series[0][1]
        for i in sorted({0, len(pts) // 2, len(pts) - 1}):
            parts.append(
                f'<text x="{_fmt(left + i * step)}" y="{height - 14}" font-size="10" '
                f'text-anchor="middle">{escape(pts[i][0])}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
