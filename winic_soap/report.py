"""The HTML delivery report (``winic-soap stats --html DIR``): one self-contained ``index.html`` (inline CSS and
SVG, no script, nothing fetched: it opens offline) with the figures of :mod:`winic_soap.store.stats` and four
charts: the delivery funnel per job, the delivery rate over time, failures by category, and the latency
distribution. The charts are pygal's SVG (``pip install 'winic-soap[report]'``; this module is its only
importer, loaded only when a report is written), without pygal's tooltip scripts (one is fetched from a CDN).
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Sequence
from pathlib import Path

import pygal
from pygal.style import Style

from winic_soap.categories import FAILURES
from winic_soap.store.stats import Figures, Stats

__all__ = ["LATENCY_BINS", "render", "write_report"]

#: the latency chart's bins: (upper bound in seconds, label); the last one takes everything above
LATENCY_BINS: tuple[tuple[float, str], ...] = (
    (5, "< 5 s"),
    (15, "5-15 s"),
    (30, "15-30 s"),
    (60, "30-60 s"),
    (120, "1-2 min"),
    (300, "2-5 min"),
    (600, "5-10 min"),
    (1800, "10-30 min"),
    (3600, "30-60 min"),
    (7200, "1-2 h"),
    (21600, "2-6 h"),
    (86400, "6-24 h"),
    (float("inf"), "> 1 day"),
)
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.DOTALL | re.IGNORECASE)
_MAX_JOBS = 20  # the funnel shows the jobs with the most recipients; the table lists them all

_STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#222",
    foreground_strong="#111",
    foreground_subtle="#666",
    colors=("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1"),
    font_family="DejaVu Sans, Arial, sans-serif",
    label_font_size=13,
    major_label_font_size=13,
    legend_font_size=14,
    title_font_size=18,
    value_font_size=12,
    tooltip_font_size=13,
)

_CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 2em auto; max-width: 1000px; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.5em; }
table { border-collapse: collapse; margin: 0.5em 0; } td, th { padding: 0.25em 0.8em; border-bottom: 1px solid #ddd; }
th { text-align: left; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1em 0; } figure svg { width: 100%; height: auto; } figcaption { color: #555; }
"""


def _chart(kind: type[pygal.graph.graph.Graph], title: str, **options: object) -> pygal.graph.graph.Graph:
    return kind(
        title=title,
        style=_STYLE,
        js=[],  # pygal's tooltips load a script from a CDN: the report must open offline
        disable_xml_declaration=True,
        width=960,
        height=420,
        legend_at_bottom=True,
        **options,
    )


def _svg(chart: pygal.graph.graph.Graph) -> str:
    # pygal inlines a script with the chart's config for its tooltips, which the report does without: no script
    return _SCRIPT.sub("", str(chart.render(is_unicode=True)))


def _funnel(result: Stats) -> str:
    jobs = sorted(result.jobs.items(), key=lambda item: -item[1].sent)[:_MAX_JOBS]
    chart = _chart(pygal.Bar, "Delivery funnel per job (recipients)", x_label_rotation=20)
    chart.x_labels = [job for job, _ in jobs]
    for stage in ("sent", "accepted", "delivered", "failed", "waiting"):
        chart.add(stage, [_stage(f, stage) for _, f in jobs])
    return _svg(chart)


def _stage(figures: Figures, stage: str) -> int:
    return sum(figures.failed.values()) if stage == "failed" else int(getattr(figures, stage))


def _rate(result: Stats) -> str:
    chart = _chart(
        pygal.Line, "Delivery rate over time (% of accepted)", range=(0, 100), x_label_rotation=20, dots_size=4
    )
    chart.x_labels = list(result.buckets)
    chart.add("delivery rate", [_percent(f) for f in result.buckets.values()])
    return _svg(chart)


def _percent(figures: Figures) -> float | None:
    rate = figures.delivery_rate
    return None if rate is None else round(rate * 100, 1)


def _failures(result: Stats) -> str:
    chart = _chart(pygal.HorizontalBar, "Failures by category (recipients)", show_legend=False, print_values=True)
    shown = [c for c in FAILURES if result.total.failed.get(c)]
    chart.x_labels = [c.replace("_", " ") for c in shown]
    chart.add("failed", [result.total.failed[c] for c in shown])
    return _svg(chart)


def latency_bins(histogram: Sequence[tuple[float, int]]) -> list[int]:
    """The latency histogram of :class:`~winic_soap.store.stats.Latency` (0.1 s steps) in :data:`LATENCY_BINS`."""
    counts = [0] * len(LATENCY_BINS)
    for start, n in histogram:
        index = next(i for i, (bound, _) in enumerate(LATENCY_BINS) if start < bound)
        counts[index] += n
    return counts


def _latency(result: Stats) -> str:
    chart = _chart(pygal.Bar, "Report latency: send to report (reports)", x_label_rotation=20)
    chart.x_labels = [label for _, label in LATENCY_BINS]
    chart.add("reports", latency_bins(result.latency.histogram))
    return _svg(chart)


def _row(label: str, *cells: object) -> str:
    return f"<tr><th>{html.escape(label)}</th>" + "".join(f'<td class="n">{html.escape(str(c))}</td>' for c in cells)


def _summary(result: Stats) -> str:
    t, lat = result.total, result.latency
    rate = "-" if t.delivery_rate is None else f"{t.delivery_rate:.1%}"
    seconds = "-" if not lat.count else f"p50 {lat.p50:g} s · p95 {lat.p95:g} s · max {lat.max:g} s"
    rows = [
        _row("sent (recipients)", t.sent),
        _row("accepted", t.accepted),
        _row("refused by the service", t.refused),
        _row("outcome unknown", t.unknown),
        _row("delivered", t.delivered),
        _row("delivery rate (of accepted)", rate),
        _row("failed", sum(t.failed.values())),
        _row("waiting for a final report", t.waiting),
        _row(f"report latency ({lat.count} reports)", seconds),
    ]
    codes = [
        _row(category.replace("_", " "), code, n)
        for category in FAILURES
        for code, n in sorted(t.codes.get(category, {}).items())
    ]
    jobs = [
        _row(job, f.sent, f.accepted, f.delivered, sum(f.failed.values()), f.waiting, _percent(f) or "-")
        for job, f in result.jobs.items()
    ]
    return (
        "<table>" + "".join(rows) + "</table>"
        "<h2>Failure codes</h2><table><tr><th>category</th><th>code</th><th>recipients</th></tr>"
        + ("".join(codes) or "<tr><td>none</td></tr>")
        + "</table>"
        + "<h2>Jobs</h2><table><tr><th>job</th><th>sent</th><th>accepted</th><th>delivered</th><th>failed</th>"
        "<th>waiting</th><th>rate %</th></tr>" + "".join(jobs) + "</table>"
    )


def render(result: Stats) -> str:
    """The report's HTML, one self-contained page."""
    data = result.as_dict()
    span = f"{data['since'] or 'the start'} to {data['until'] or 'now'}" + (f", job {result.job}" if result.job else "")
    charts = [
        ("funnel", _funnel(result), "Recipients at each stage, per job (the largest jobs)."),
        ("rate", _rate(result), f"Delivered / accepted, per {result.by or 'range'} (UTC) in which the sends started."),
        ("failures", _failures(result), "Final failure reports by category (their raw codes are in the table above)."),
        ("latency", _latency(result), "Time from a send's start to the arrival of the report that settled it."),
    ]
    figures = "".join(
        f'<figure id="{name}" class="chart">{svg}<figcaption>{html.escape(caption)}</figcaption></figure>'
        for name, svg, caption in charts
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>winic-soap delivery report</title><style>{_CSS}</style></head><body>"
        f"<h1>Delivery report</h1><p>Sends from {html.escape(span)}.</p>"
        f"{_summary(result)}<h2>Charts</h2>{figures}</body></html>"
    )


def write_report(result: Stats, directory: str | os.PathLike[str]) -> Path:
    """Write ``index.html`` into ``directory`` (made if missing); returns its path."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "index.html"
    path.write_text(render(result), encoding="utf-8")
    return path
