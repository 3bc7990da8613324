"""A markdown report of one batch run: counts, data quality facts, every insight, and a few charts."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from pinterest_pipeline.batch.insights import AGE_GROUPS, INSIGHTS  # noqa: E402
from pinterest_pipeline.batch.job import BatchResult  # noqa: E402

IMAGE_FOLDER = "img"
TOP_COUNTRIES = 15


def _bar_chart(ax: Axes, labels: list[str], values: list[float], notes: list[str] | None = None) -> None:
    """Bars with their ``notes`` (e.g. the category) written on them."""
    bars = ax.bar(labels, values, color="#bd081c")
    for bar, note in zip(bars, notes or []):
        ax.annotate(note, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom",
                    fontsize=7, rotation=90 if len(labels) > 8 else 0, xytext=(0, 2), textcoords="offset points")
    ax.margins(y=0.25)


def _by_age_group(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in the natural order of the age groups (18-24 first) rather than text order."""
    order = {name: position for position, name in enumerate(AGE_GROUPS)}
    return frame.sort_values("age_group", key=lambda s: s.map(order))


def _category_by_country(frame: pd.DataFrame, ax: Axes) -> None:
    top = frame.sort_values(["category_count", "country"], ascending=[False, True]).head(TOP_COUNTRIES)
    ax.barh(top["country"][::-1], top["category_count"][::-1], color="#bd081c")
    for y, (count, category) in enumerate(zip(top["category_count"][::-1], top["category"][::-1])):
        ax.annotate(f" {category}", (count, y), va="center", fontsize=7)
    ax.set(title=f"Most popular category, top {TOP_COUNTRIES} countries", xlabel="pins of that category")
    ax.margins(x=0.3)


def _category_by_year(frame: pd.DataFrame, ax: Axes) -> None:
    _bar_chart(ax, frame["post_year"].astype(str).tolist(), frame["category_count"].tolist(),
               frame["category"].tolist())
    ax.set(title="Most popular category per year", xlabel="year posted", ylabel="pins")


def _median_by_age_group(frame: pd.DataFrame, ax: Axes) -> None:
    ordered = _by_age_group(frame)
    _bar_chart(ax, ordered["age_group"].tolist(), ordered["median_follower_count"].tolist())
    ax.set(title="Median follower count by age group", xlabel="age group", ylabel="followers")


def _joins_by_year(frame: pd.DataFrame, ax: Axes) -> None:
    _bar_chart(ax, frame["post_year"].astype(str).tolist(), frame["number_users_joined"].tolist())
    ax.set(title="Users joined per year", xlabel="year joined", ylabel="users")


#: Insight table → the chart drawn from it.
CHARTS: dict[str, Callable[[pd.DataFrame, Axes], None]] = {
    "insight_1_popular_category_by_country": _category_by_country,
    "insight_2_popular_category_by_year": _category_by_year,
    "insight_5_median_followers_by_age_group": _median_by_age_group,
    "insight_6_users_joined_by_year": _joins_by_year,
}


def draw_chart(name: str, frame: pd.DataFrame, path: Path) -> Path:
    """Draw the chart of insight ``name`` into the PNG ``path``."""
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    try:
        CHARTS[name](frame, ax)
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path


def insight_title(name: str) -> str:
    """``"1. Most popular category in each country"`` from the query's docstring."""
    doc = INSIGHTS[name].__doc__ or name
    return " ".join(doc.split()).split(" → ")[0].rstrip(". ")


def _markdown_table(frame: pd.DataFrame) -> str:
    return frame.to_markdown(index=False, floatfmt=".1f") if len(frame) else "_(no rows)_"


def render_markdown(result: BatchResult, images: dict[str, str]) -> str:
    """The report text; ``images`` maps insight names to chart paths relative to the report."""
    counts = pd.DataFrame([{"topic": kind, **c, "cleaned rows (one per ind)": result.cleaned_rows[kind]}
                           for kind, c in result.counts.items()])
    issues = result.data_quality[result.data_quality["value_count"] > 0]
    lines = [
        f"# Pinterest batch report — prefix `{result.prefix}`", "",
        f"Run time {result.seconds:.1f} s. Tables: {', '.join(f'`{name}`' for name in result.tables)}.", "",
        "## Records read", "", _markdown_table(counts), "",
        ("Quarantined lines (not UTF-8, not JSON of the schema, a number that is not finite, no key, or too large)"
         " are kept in the quarantine table with their exact bytes and the reason."), "",
        "## Data quality", "",
        "Empty strings and placeholder values found in good records (all become NULL when cleaned).", "",
        _markdown_table(issues), "",
        "## Insights", "",
    ]
    for name, frame in result.insights.items():
        lines += [f"### {insight_title(name)}", "", f"Table `{name}`.", ""]
        if name in images:
            lines += [f"![{insight_title(name)}]({images[name]})", ""]
        lines += [_markdown_table(frame), ""]
    return "\n".join(lines)


def write_report(results: BatchResult, out_dir: str | Path = "out", filename: str = "report.md") -> Path:
    """Write ``<out_dir>/<filename>`` and its PNG charts under ``<out_dir>/img/``; the report's path."""
    out = Path(out_dir)
    (out / IMAGE_FOLDER).mkdir(parents=True, exist_ok=True)
    images = {}
    for name in CHARTS:
        frame = results.insights.get(name)
        if frame is not None and len(frame):
            path = draw_chart(name, frame, out / IMAGE_FOLDER / f"{name}.png")
            images[name] = path.relative_to(out).as_posix()
    report = out / filename
    report.write_text(render_markdown(results, images), encoding="utf-8")
    return report
