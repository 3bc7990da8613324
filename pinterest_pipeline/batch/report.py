"""The reports of one batch run, written side by side: ``report.md`` (charts as PNG files beside it) and
``report.html`` (one self-contained page, charts embedded)."""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pandas as pd

from pinterest_pipeline.batch.charts import draw_charts
from pinterest_pipeline.batch.figures import insight_title, quality_table, reasons_table, records_table
from pinterest_pipeline.batch.job import BatchResult
from pinterest_pipeline.batch.report_html import render_html

IMAGE_FOLDER = "img"


class ReportPaths(NamedTuple):
    """The files one run's report is written to."""

    markdown: Path
    html: Path


def _markdown_table(frame: pd.DataFrame) -> str:
    return frame.to_markdown(index=False, floatfmt=".1f") if len(frame) else "_(no rows)_"


def render_markdown(result: BatchResult, images: dict[str, str]) -> str:
    """The report text; ``images`` maps insight names to chart paths relative to the report."""
    lines = [
        f"# Pinterest batch report — prefix `{result.prefix}`", "",
        *([f"Logical date {result.logical_date}.", ""] if result.logical_date else []),
        (f"Run time {result.seconds:.1f} s, {result.batches} micro-batch(es) of lake objects new to this run"
         f" (the counts below are theirs). Tables: {', '.join(f'`{name}`' for name in result.tables)}."), "",
        "## Records read", "", _markdown_table(records_table(result)), "",
        ("Quarantined lines (not UTF-8, not JSON of the schema, a number that is not finite, no key, or too large)"
         " are kept in the quarantine table with their exact bytes and the reason. Repeats (sampling with"
         " replacement, at-least-once delivery) are dropped: a cleaned table holds one row per `ind`."), "",
        "## Quarantined lines by reason", "", _markdown_table(reasons_table(result)), "",
        "## Data quality", "",
        "Empty strings and placeholder values found in good records (all become NULL when cleaned).", "",
        _markdown_table(quality_table(result)), "",
        "## Insights", "",
    ]
    for name, frame in result.insights.items():
        lines += [f"### {insight_title(name)}", "", f"Table `{name}`.", ""]
        if name in images:
            lines += [f"![{insight_title(name)}]({images[name]})", ""]
        lines += [_markdown_table(frame), ""]
    return "\n".join(lines)


def write_report(result: BatchResult, out_dir: str | Path = "out", filename: str = "report.md") -> ReportPaths:
    """Write ``<out_dir>/<filename>`` with its PNG charts under ``<out_dir>/img/``, and the same name ending in
    ``.html`` beside it."""
    out = Path(out_dir)
    (out / IMAGE_FOLDER).mkdir(parents=True, exist_ok=True)
    charts = draw_charts(result.insights)
    images = {}
    for name, png in charts.items():
        image = out / IMAGE_FOLDER / f"{name}.png"
        image.write_bytes(png)
        images[name] = image.relative_to(out).as_posix()
    markdown = out / filename
    html = markdown.with_suffix(".html")
    paths = ReportPaths(markdown if markdown != html else markdown.with_suffix(".md"), html)
    paths.markdown.write_text(render_markdown(result, images), encoding="utf-8")
    paths.html.write_text(render_html(result, charts), encoding="utf-8")
    return paths
