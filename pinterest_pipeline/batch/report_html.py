"""The batch report as one self-contained HTML page: no outside files, charts embedded as PNG data, readable on
a phone. Every value that comes from data is escaped."""
from __future__ import annotations

import base64
import numbers
import struct
from html import escape

import pandas as pd

from pinterest_pipeline.batch.figures import insight_title, quality_table, reasons_table, records_table
from pinterest_pipeline.batch.job import BatchResult

#: Tables longer than this scroll inside a box of their own instead of stretching the page.
SCROLL_AFTER_ROWS = 12
#: How a NULL (None, NaN, NaT) shows in a table.
MISSING = "—"

STYLE = """
:root { --accent: #bd081c; --ink: #1f1f1f; --muted: #5f5f5f; --line: #e3e3e3; --paper: #fff; --tint: #f6f6f6; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       background: var(--paper); }
header { background: var(--accent); color: #fff; padding: 1.25rem 1rem; }
header h1 { margin: 0; font-size: 1.5rem; line-height: 1.2; }
header p { margin: .35rem 0 0; opacity: .9; }
main { max-width: 60rem; margin: 0 auto; padding: 0 1rem 2rem; }
h2 { margin: 2rem 0 .5rem; font-size: 1.25rem; border-bottom: 2px solid var(--accent); padding-bottom: .2rem; }
h3 { margin: 1.75rem 0 .25rem; font-size: 1.05rem; }
code { font-size: .85em; background: var(--tint); padding: .05em .3em; border-radius: 3px; overflow-wrap: anywhere; }
.note { color: var(--muted); margin: .25rem 0 .75rem; font-size: .9rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(8.5rem, 1fr)); gap: .75rem; margin-top: 1rem; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: .75rem; }
.card b { display: block; font-size: 1.5rem; line-height: 1.2; font-variant-numeric: tabular-nums; }
.card span { color: var(--muted); font-size: .85rem; }
nav ul { list-style: none; padding: 0; margin: .5rem 0; }
nav li { margin: .2rem 0; }
nav a { color: var(--accent); }
.table-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; margin: .5rem 0; }
.table-wrap.long { max-height: 24rem; overflow-y: auto; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { padding: .35rem .6rem; text-align: left; vertical-align: top; border-bottom: 1px solid var(--line); }
th { background: var(--tint); position: sticky; top: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
img { display: block; max-width: 100%; height: auto; margin: .5rem 0; }
footer { color: var(--muted); font-size: .8rem; text-align: center; padding: 1rem; }
@media (max-width: 30rem) { body { font-size: 15px; } th, td { padding: .3rem .45rem; } }
"""


def _cell(value: object) -> tuple[str, bool]:
    """A value's text and whether it is a number (numbers are right-aligned)."""
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return MISSING, False
    if isinstance(value, bool):
        return str(value), False
    if isinstance(value, numbers.Integral):
        return str(int(value)), True
    if isinstance(value, numbers.Real):
        return f"{float(value):.1f}", True
    return str(value), False


def html_table(frame: pd.DataFrame) -> str:
    """``frame`` as an escaped HTML table in a box that scrolls sideways (and down when it is long)."""
    if not len(frame):
        return '<p class="note">(no rows)</p>'
    rows = [[_cell(value) for value in row] for row in frame.itertuples(index=False)]
    numeric = [all(number for text, number in column if text != MISSING) for column in zip(*rows)]
    align = [' class="num"' if number else "" for number in numeric]
    head = "".join(f"<th{a}>{escape(str(name))}</th>" for name, a in zip(frame.columns, align))
    body = "".join("<tr>" + "".join(f"<td{a}>{escape(text)}</td>" for (text, _), a in zip(row, align)) + "</tr>"
                   for row in rows)
    wrap = "table-wrap long" if len(frame) > SCROLL_AFTER_ROWS else "table-wrap"
    return f'<div class="{wrap}"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def png_image(png: bytes, alt: str) -> str:
    """An ``<img>`` carrying ``png`` as a data URI, with its pixel size so the page does not jump."""
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk, always first
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" width="{width}" height="{height}" alt="{escape(alt)}">'


def _cards(result: BatchResult) -> str:
    figures = [
        (sum(c["raw"] for c in result.counts.values()), "lines read"),
        (result.quarantined, "quarantined"),
        (sum(result.duplicates.values()), "repeats removed"),
        (sum(result.cleaned_rows.values()), "cleaned rows"),
        (len(result.insights), "insights"),
        (len(result.tables), "Delta tables"),
    ]
    cards = "".join(f'<div class="card"><b>{value:,}</b><span>{escape(label)}</span></div>' for value, label in figures)
    return f'<div class="cards">{cards}</div>'


def _insight(name: str, frame: pd.DataFrame, chart: bytes | None) -> str:
    title = insight_title(name)
    parts = [f'<section id="{escape(name)}">', f"<h3>{escape(title)}</h3>",
             f'<p class="note">Delta table <code>{escape(name)}</code> · {len(frame):,} rows</p>']
    if chart is not None:
        parts.append(png_image(chart, title))
    parts += [html_table(frame), "</section>"]
    return "\n".join(parts)


def render_html(result: BatchResult, charts: dict[str, bytes]) -> str:
    """The whole page; ``charts`` maps insight names to PNG bytes."""
    prefix = escape(result.prefix)
    contents = "".join(f'<li><a href="#{escape(name)}">{escape(insight_title(name))}</a></li>'
                       for name in result.insights)
    reasons = reasons_table(result)
    quarantine = html_table(reasons) if len(reasons) else '<p class="note">None: every line was a usable record.</p>'
    insights = "\n".join(_insight(name, frame, charts.get(name)) for name, frame in result.insights.items())
    tables = pd.DataFrame({"table": list(result.tables), "location": list(result.tables.values())})
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Pinterest batch report · {prefix}</title>
<style>{STYLE}</style>
</head>
<body>
<header><h1>Pinterest batch report</h1><p>prefix <b>{prefix}</b> · run time {result.seconds:.1f} s</p></header>
<main>
{_cards(result)}
<section id="records"><h2>Records read</h2>
<p class="note">Lines that are not a usable record go to the quarantine table. Repeats (sampling with
replacement, at-least-once delivery) are dropped: a cleaned table holds one row per <code>ind</code>.</p>
{html_table(records_table(result))}</section>
<section id="quarantine"><h2>Quarantined lines by reason</h2>
{quarantine}</section>
<section id="data-quality"><h2>Data quality</h2>
<p class="note">Empty strings, placeholders and unreadable values in good records: each becomes NULL when cleaned.</p>
{html_table(quality_table(result))}</section>
<section id="insights"><h2>Insights</h2>
<nav><ul>{contents}</ul></nav>
{insights}
</section>
<section id="tables"><h2>Delta tables</h2>
{html_table(tables)}</section>
</main>
<footer>Written by the batch job (<code>python -m pinterest_pipeline.batch</code>).</footer>
</body>
</html>
"""
