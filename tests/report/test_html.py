"""The report page in a real headless browser: every chart must render a non-empty drawing."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from cardbenefits.report.charts import bar_chart, text_width, wrap_label
from cardbenefits.report.html import render_html
from cardbenefits.report.summary import build_report, write_report
from cardbenefits.simulate.example import example_data, example_simulation

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def _browser() -> str:
    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is required in CI for the report's browser test")
        pytest.skip("chromium is not installed")
    return CHROMIUM


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    customers, events = example_data()
    sim = example_simulation()
    out = tmp_path_factory.mktemp("report")
    write_report(build_report(sim.run(customers, events), catalog_ref="example"), out)
    return out


def test_page_is_self_contained(report_dir: Path) -> None:
    page = (report_dir / "index.html").read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']https?:""", page)
    assert page.count("<svg") == int(re.search(r'data-charts="(\d+)"', page).group(1)) == 6  # type: ignore[union-attr]
    for chart in ('data-chart="funnel"', 'data-chart="line"', 'data-chart="bar"'):
        assert chart in page


def test_charts_render_in_chromium(report_dir: Path, tmp_path: Path) -> None:
    browser = _browser()
    page = (report_dir / "index.html").resolve()
    dom = subprocess.run(
        [browser, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=90, check=True,
    ).stdout  # fmt: skip
    total = re.search(r'data-charts="(\d+)"', dom)
    rendered = re.search(r'data-charts-rendered="(\d+)"', dom)
    assert total is not None, dom[:500]
    assert rendered is not None, dom[:500]
    assert int(rendered.group(1)) == int(total.group(1)) == 6
    shot = tmp_path / "report.png"
    subprocess.run(
        [browser, *FLAGS, f"--user-data-dir={tmp_path / 'profile2'}", f"--screenshot={shot}",
         "--window-size=1200,2400", page.as_uri()],
        capture_output=True, timeout=90, check=True,
    )  # fmt: skip
    assert shot.stat().st_size > 10_000


def test_empty_chart_is_not_counted(tmp_path: Path) -> None:
    """The in-page check fails a chart with no drawing (so the browser test can fail)."""
    browser = _browser()
    report = {"catalog": "empty", "totals": {}, "events": {}, "programmes": [], "funnels": [],
              "limits": [], "segments": {"lifecycle": {}}}  # fmt: skip
    page = tmp_path / "index.html"
    page.write_text(render_html(report), encoding="utf-8")
    dom = subprocess.run(
        [browser, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=90, check=True,
    ).stdout  # fmt: skip
    rendered = re.search(r'data-charts-rendered="(\d+)"', dom)
    assert rendered is not None
    assert int(rendered.group(1)) < 6


def test_long_refusal_labels_are_not_cut() -> None:
    """Every label line fits the label column, and the full text is still there."""
    label = "cashback_small: not_qualified:min_amount_for_this_very_long_reason_code"
    for width in (120, 200, 300):
        lines = wrap_label(label, width)
        assert "".join(lines) == label
        assert all(text_width(line) <= width for line in lines)
    svg = bar_chart("Refusals", [(label, 3), ("short", 1)])
    match = re.search(r'<rect class="bar" x="(\d+)"', svg)
    assert match is not None
    column = int(match.group(1))
    for text in re.findall(r">([^<>]+)</tspan>", svg):
        assert text_width(text) <= column - 8
    assert "min_amount_for_this" in svg


def test_report_tables_cover_coupons_funnels_and_groups(report_dir: Path) -> None:
    page = (report_dir / "index.html").read_text(encoding="utf-8")
    for heading in (
        "Funnel by channel and day",
        "Group rewards",
        "Activation-ladder tiers",
        "coupons returned",
    ):
        assert heading in page
    for table in ("funnel_breakdown.csv", "group_rewards.csv"):
        assert (report_dir / table).read_text(encoding="utf-8").count("\n") > 1
