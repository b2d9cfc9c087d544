"""Baseline-vs-pilot reports as documents: an HTML page and a PDF, with the same content.

Both are drawn from one :class:`~lastmile.analytics.service.Report`: the objectives with their
verdicts, a chart of baseline against pilot for every objective's metric, and every KPI of the
catalogue side by side. The charts (SVG in the HTML, vector in the PDF) and the PDF itself come
from matplotlib, which ships its own font (DejaVu Sans), so a report renders the same on any
server without system fonts; matplotlib is imported on first use only, as it takes a moment.
"""

from __future__ import annotations

import io
import math
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from lastmile.core import kpi

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from lastmile.analytics.service import Filters, Report

GOOD, BAD, NEUTRAL, BASE = "#1b5e20", "#a3001b", "#555555", "#8a9bb0"
NO_VALUE = "\u2013"  # an en dash: nothing to show
_env = Environment(
    loader=FileSystemLoader(str(Path(str(resources.files("lastmile.web") / "templates")))),
    autoescape=select_autoescape(["html"]),
)


# --- numbers in words ------------------------------------------------------------------------


def fmt(value: float | None, unit: str) -> str:
    """A metric's value for people: rates as percentages, durations in minutes or hours."""
    if value is None or not math.isfinite(value):
        return NO_VALUE
    if unit == "rate":
        return f"{100 * value:.1f} %"
    if unit == "seconds":
        return f"{value / 60:.1f} min" if abs(value) < 5400 else f"{value / 3600:.2f} h"
    if unit == "km":
        return f"{value:.2f} km"
    if unit == "hours":
        return f"{value:.2f} h"
    if unit == "per_hour":
        return f"{value:.2f} /h"
    if unit == "count":
        return f"{value:.0f}"
    if unit == "stars":
        return f"{value:.2f} / 5"
    return f"{value:.2f}"


def fmt_change(change: kpi.MetricChange) -> str:
    """The change as people read it: percentage points for rates, else a relative change."""
    if change.change is None:
        return NO_VALUE
    if change.metric.unit == "rate":
        return f"{100 * change.change:+.1f} pp"
    if change.change_rate is None:
        return "+" + fmt(change.change, change.metric.unit) if change.change > 0 else NO_VALUE
    return f"{100 * change.change_rate:+.1f} %"


def objective_label(objective: kpi.Objective) -> str:
    """``On time at least 95.0 %`` or ``Cost per delivery: change at most -15.0 %``."""
    metric = kpi.BY_NAME[objective.metric]
    words = "at least" if objective.op == "at_least" else "at most"
    if objective.relative:
        return f"{metric.label}: change {words} {100 * objective.target:+.1f} %"
    return f"{metric.label} {words} {fmt(objective.target, metric.unit)}"


def actual_label(result: kpi.ObjectiveResult) -> str:
    if result.actual is None:
        return "no data"
    if result.objective.relative:
        return f"{100 * result.actual:+.1f} %"
    return fmt(result.actual, result.metric.unit)


def verdict(met: bool | None) -> str:
    return {True: "met", False: "not met", None: "no data"}[met]


def scope_label(f: Filters, names: dict[str, str]) -> str:
    """``2026-11-02 to 2026-11-29, depot Schaan`` (ids shown by name where known)."""
    days = f.start.isoformat() if f.start == f.end else f"{f.start} to {f.end}"
    parts = [days]
    for key, word in (("depot_id", "depot"), ("driver_id", "driver"), ("vehicle_id", "vehicle")):
        value = getattr(f, key)
        if value:
            parts.append(f"{word} {names.get(value, value)}")
    return ", ".join(parts)


def context(report: Report, names: dict[str, str]) -> dict[str, Any]:
    """What both documents show, already in words."""
    result = report.result
    return {
        "name": report.comparison.name,
        "baseline": ("typed in, " if "typed" in report.comparison.baseline else "")
        + scope_label(report.baseline, names),
        "pilot": scope_label(report.pilot, names),
        "baseline_orders": result.baseline.orders,
        "pilot_orders": result.pilot.orders,
        "warnings": report.warnings,
        "all_met": result.all_met,
        "verdict": verdict,
        "objectives": [
            {
                "label": objective_label(r.objective),
                "baseline": fmt(
                    next(c.baseline for c in result.changes if c.metric is r.metric),
                    r.metric.unit,
                ),
                "actual": actual_label(r),
                "met": r.met,
            }
            for r in result.objectives
        ],
        "groups": [
            (
                title,
                [
                    {
                        "label": c.metric.label,
                        "baseline": fmt(c.baseline, c.metric.unit),
                        "pilot": fmt(c.pilot, c.metric.unit),
                        "change": fmt_change(c),
                        "improved": c.improved,
                    }
                    for c in result.changes
                    if c.metric.indicator == indicator
                ],
            )
            for indicator, title in (
                ("lagging", "Lagging indicators (outcomes)"),
                ("leading", "Leading indicators (they move first)"),
            )
        ],
    }


# --- the chart -------------------------------------------------------------------------------


def chart_metrics(report: Report) -> list[kpi.MetricChange]:
    """One panel per objective's metric (each once); without objectives, the main outcomes."""
    wanted: list[str] = []
    for o in report.result.objectives:
        if o.metric.name not in wanted:
            wanted.append(o.metric.name)
    if not wanted:
        wanted = ["cost_per_delivery", "first_attempt_success_rate", "on_time_rate"]
    by_name = {c.metric.name: c for c in report.result.changes}
    return [by_name[name] for name in wanted]


Panel = tuple[
    str, str, float | None, float | None, bool | None, tuple[tuple[float, bool | None], ...]
]
"""One bar chart: metric label, unit, baseline, pilot, improved, targets (line, met)."""


def chart_panels(report: Report) -> tuple[Panel, ...]:
    """Everything the chart draws, as plain values: two reports with the same panels have
    the same chart (so it is drawn once, see :func:`_chart_svg`)."""
    targets: dict[str, list[tuple[float, bool | None]]] = {}
    for r in report.result.objectives:
        base = next(c.baseline for c in report.result.changes if c.metric is r.metric)
        line = r.objective.target
        if r.objective.relative:
            if base is None:
                continue
            line = base + abs(base) * r.objective.target
        targets.setdefault(r.metric.name, []).append((line, r.met))
    return tuple(
        (c.metric.label, c.metric.unit, c.baseline, c.pilot, c.improved,
         tuple(targets.get(c.metric.name, [])))
        for c in chart_metrics(report)
    )  # fmt: skip


def figure(report: Report, *, width_in: float = 7.5) -> Figure:
    """Baseline and pilot bars per metric, the objective's target as a dashed line."""
    return _figure(chart_panels(report), width_in)


def _figure(panels: tuple[Panel, ...], width_in: float) -> Figure:
    from matplotlib.figure import Figure

    columns = min(3, len(panels))
    rows = math.ceil(len(panels) / columns)
    fig = Figure(figsize=(width_in, 2.3 * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax, (label, unit, baseline, pilot, improved, targets) in zip(
        axes.flat, panels, strict=False
    ):
        scale = 100.0 if unit == "rate" else 1.0
        heights = [(v or 0.0) * scale for v in (baseline, pilot)]
        colour = {True: GOOD, False: BAD, None: NEUTRAL}[improved]
        bars = ax.bar(["baseline", "pilot"], heights, color=[BASE, colour], width=0.6)
        for bar, value in zip(bars, (baseline, pilot), strict=True):
            ax.annotate(
                fmt(value, unit),
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=8,
            )
        for line, met in targets:
            ax.axhline(line * scale, color=GOOD if met else BAD, linestyle="--", linewidth=1)
        ax.set_title(label, fontsize=9)
        ax.tick_params(labelsize=8)
        lines = [line * scale for line, _ in targets]
        if max(abs(v) for v in [*heights, *lines]) == 0:
            ax.set_ylim(0, 1)  # all zero: an empty axis, not one scaled to 1e-17
        ax.margins(y=0.2)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    return fig


@lru_cache(maxsize=64)
def _chart_svg(panels: tuple[Panel, ...]) -> str:
    """The chart as inline SVG. Drawing it is most of a report's time (0.1-0.3 s of
    matplotlib); an owner reloading the report of a running pilot mostly sees the same
    figures, so a chart is drawn once per set of figures."""
    buffer = io.StringIO()
    _figure(panels, 7.5).savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]  # drop the XML prologue inside HTML


# --- the documents ---------------------------------------------------------------------------


def to_html(report: Report, names: dict[str, str]) -> str:
    """A self-contained HTML report (inline SVG chart and styles; prints on A4)."""
    template = _env.get_template("reports/comparison.html")
    return template.render(**context(report, names), chart=_chart_svg(chart_panels(report)))


def _table(
    page: Figure,
    box: tuple[float, float, float, float],
    header: list[str],
    widths: list[float],
    rows: list[list[str]],
    verdicts: list[bool | None],
) -> None:
    """A table filling ``box`` of the page; the last column coloured by each row's verdict."""
    from matplotlib.transforms import Bbox

    ax = page.add_axes(box)
    ax.axis("off")
    table = ax.table(
        cellText=rows,
        colLabels=header,
        colWidths=widths,
        bbox=Bbox.from_bounds(0, 0, 1, 1),
        cellLoc="left",
    )
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    last = len(header) - 1
    for (row, col), cell in table.get_celld().items():
        if row > 0 and col == last:
            cell.get_text().set_color({True: GOOD, False: BAD, None: NEUTRAL}[verdicts[row - 1]])


def to_pdf(report: Report, names: dict[str, str]) -> bytes:
    """The same report as an A4 PDF: objectives and chart on page 1, every KPI on page 2."""
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    ctx = context(report, names)
    out = io.BytesIO()
    a4 = (8.27, 11.69)
    with PdfPages(out, metadata={"Title": f"{ctx['name']}: baseline vs pilot"}) as pdf:
        page = Figure(figsize=a4)
        page.text(0.07, 0.95, ctx["name"], fontsize=16, weight="bold")
        page.text(
            0.07,
            0.925,
            f"Baseline: {ctx['baseline']} ({ctx['baseline_orders']} orders)",
            fontsize=9,
        )
        page.text(0.07, 0.908, f"Pilot: {ctx['pilot']} ({ctx['pilot_orders']} orders)", fontsize=9)
        for i, warning in enumerate(ctx["warnings"]):
            page.text(0.07, 0.056 - 0.016 * i, f"Warning: {warning}", fontsize=7.5, color=BAD)
        overall = {
            True: "All objectives met",
            False: "Not all objectives met",
            None: "Some objectives cannot be judged yet",
        }
        page.text(
            0.07,
            0.88,
            overall[ctx["all_met"]] if ctx["objectives"] else "No objectives set",
            fontsize=11,
            weight="bold",
            color={True: GOOD, False: BAD, None: NEUTRAL}[ctx["all_met"]],
        )
        rows = [
            [o["label"], o["baseline"], o["actual"], verdict(o["met"])] for o in ctx["objectives"]
        ]
        top = 0.86
        if rows:
            height = 0.025 * (len(rows) + 1)
            _table(
                page,
                (0.07, top - height, 0.86, height),
                ["Objective", "Baseline", "Pilot", "Verdict"],
                [0.55, 0.15, 0.15, 0.15],
                rows,
                [o["met"] for o in ctx["objectives"]],
            )
            top -= height + 0.03
        chart = figure(report, width_in=a4[0] * 0.86)
        chart_h = chart.get_figheight() / a4[1]
        buffer = io.BytesIO()
        chart.savefig(buffer, format="png", dpi=150)
        buffer.seek(0)
        from matplotlib.image import imread

        ax = page.add_axes((0.07, max(0.05, top - chart_h), 0.86, min(chart_h, top - 0.05)))
        ax.imshow(imread(buffer))
        ax.axis("off")
        pdf.savefig(page)

        page = Figure(figsize=a4)
        y = 0.95
        for title, metrics in ctx["groups"]:
            page.text(0.07, y, title, fontsize=11, weight="bold")
            height = 0.022 * (len(metrics) + 1)
            _table(
                page,
                (0.07, y - 0.01 - height, 0.86, height),
                ["KPI", "Baseline", "Pilot", "Change"],
                [0.46, 0.18, 0.18, 0.18],
                [[m["label"], m["baseline"], m["pilot"], m["change"]] for m in metrics],
                [m["improved"] for m in metrics],
            )
            y -= height + 0.06
        page.text(
            0.07,
            0.03,
            "KPIs recomputed from stored events when this report was made; formulas in docs/kpis.md.",
            fontsize=7,
            color=NEUTRAL,
        )
        pdf.savefig(page)
    return out.getvalue()
