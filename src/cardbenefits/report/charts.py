"""Self-contained SVG charts for reports: no JavaScript, no network, no plotting library.

Each function returns an ``<svg>`` string with ``data-chart`` and ``data-points`` attributes so
a test (or a browser) can check what was drawn. Values are Decimals or ints; labels are text
and are escaped.

>>> svg = bar_chart("Tiers", [("tier 1", 120), ("tier 2", 30)])
>>> svg.startswith("<svg") and 'data-chart="bar"' in svg and 'data-points="2"' in svg
True
>>> "tier 1" in svg
True

Long labels (refusal reasons such as ``cashback_small: not_qualified:min_amount``) are never
cut: the label column widens to the longest label up to a limit, and longer labels wrap onto
several lines at ``:``, space or ``/``, each bar row growing with its label.

>>> wide = bar_chart("Refusals", [("e_life: draw_limit_campaign_reached_for_this_person", 3)])
>>> wide.count("<tspan") > 1, wide.count('class="bar"')
(True, 1)
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from html import escape

__all__ = ["bar_chart", "funnel_chart", "line_chart", "text_width", "wrap_label"]

Number = Decimal | int

_WIDTH = 640
_PALETTE = ("#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0969da", "#57606a")


def _fmt(value: Number) -> str:
    # Coordinates are drawn with 2 decimals; Decimal keeps them exact until here.
    return f"{Decimal(value):.2f}"


def _header(kind: str, title: str, height: int, points: int, width: int = _WIDTH) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" '
        f'data-chart="{kind}" data-points="{points}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
        f'<text x="8" y="18" font-size="14" font-weight="bold">{escape(title)}</text>'
    )


def text_width(text: str, size: int = 12) -> int:
    """Estimated rendered width in px of ``text`` at font ``size`` (CJK glyphs are full width).

    >>> text_width("abc"), text_width("拒绝原因")
    (21, 48)
    """
    return sum(size if ord(ch) >= 0x2E80 else (size * 7 + 11) // 12 for ch in text)


def wrap_label(text: str, width: int, size: int = 12) -> list[str]:
    """``text`` split into lines of at most ``width`` px, breaking after ``:``, space or ``/``
    when possible (a single over-long word is split where it must be).

    >>> wrap_label("cashback_small: not_qualified:min_amount", 120)
    ['cashback_small: ', 'not_qualified:', 'min_amount']
    """
    lines: list[str] = []
    rest = text
    while rest and text_width(rest, size) > width:
        cut = 0
        for i in range(1, len(rest) + 1):
            if text_width(rest[:i], size) > width:
                break
            cut = i
        cut = max(cut, 1)
        soft = max((rest.rfind(sep, 0, cut) for sep in (": ", ":", " ", "/")), default=-1)
        if soft > 0:
            cut = soft + (2 if rest.startswith(": ", soft) else 1)
        lines.append(rest[:cut])
        rest = rest[cut:]
    if rest:
        lines.append(rest)
    return lines or [""]


def bar_chart(title: str, bars: Sequence[tuple[str, Number]], *, unit: str = "") -> str:
    """Horizontal bars, one per ``(label, value)``; negative values are drawn as zero.

    The label column is as wide as the longest label (120–300 px); longer labels wrap.
    """
    line_h, top, bar_area, max_label = 14, 30, 460, 300
    longest = max((text_width(label) for label, _ in bars), default=0)
    label_w = min(max(longest, 120), max_label) + 16
    width = max(_WIDTH, label_w + bar_area)
    wrapped = [wrap_label(label, label_w - 16) for label, _ in bars]
    rows = [max(26, 12 + line_h * len(lines)) for lines in wrapped]
    height = top + sum(rows) + (26 if not bars else 0) + 10
    peak = max((Decimal(v) for _, v in bars), default=Decimal(0))
    scale = Decimal(width - label_w - 90) / peak if peak > 0 else Decimal(0)
    parts = [_header("bar", title, height, len(bars), width)]
    y = top
    for i, ((_label, value), lines, row) in enumerate(zip(bars, wrapped, rows, strict=True)):
        bar_w = max(Decimal(value), Decimal(0)) * scale
        color = _PALETTE[i % len(_PALETTE)]
        mid = y + row // 2
        first = mid + 4 - (line_h * (len(lines) - 1)) // 2
        if len(lines) == 1:
            label_svg = f'<text x="8" y="{first}" font-size="12">{escape(lines[0])}</text>'
        else:
            spans = "".join(
                f'<tspan x="8" y="{first + j * line_h}">{escape(line)}</tspan>'
                for j, line in enumerate(lines)
            )
            label_svg = f'<text font-size="12">{spans}</text>'
        parts.append(
            f"{label_svg}"
            f'<rect class="bar" x="{label_w}" y="{mid - 9}" width="{_fmt(bar_w)}" height="18" '
            f'fill="{color}" data-value="{escape(str(value))}"/>'
            f'<text x="{_fmt(label_w + bar_w + 6)}" y="{mid + 4}" font-size="12">'
            f"{escape(str(value))}{escape(unit)}</text>"
        )
        y += row
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
