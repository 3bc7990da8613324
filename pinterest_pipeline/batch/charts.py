"""The report's charts: one matplotlib figure per charted insight, as PNG bytes."""
from __future__ import annotations

import io
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from pinterest_pipeline.batch.insights import AGE_GROUPS  # noqa: E402

TOP_COUNTRIES = 15
BAR_COLOUR = "#bd081c"


def _bar_chart(ax: Axes, labels: list[str], values: list[float], notes: list[str] | None = None) -> None:
    """Bars with their ``notes`` (e.g. the category) written on them."""
    bars = ax.bar(labels, values, color=BAR_COLOUR)
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
    ax.barh(top["country"][::-1], top["category_count"][::-1], color=BAR_COLOUR)
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


def chart_png(name: str, frame: pd.DataFrame) -> bytes:
    """The chart of insight ``name`` drawn from ``frame``, as a PNG."""
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    try:
        CHARTS[name](frame, ax)
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        image = io.BytesIO()
        fig.savefig(image, format="png")
    finally:
        plt.close(fig)
    return image.getvalue()


def draw_charts(insights: dict[str, pd.DataFrame]) -> dict[str, bytes]:
    """PNG of every charted insight that has rows, by insight name."""
    return {name: chart_png(name, insights[name]) for name in CHARTS if len(insights.get(name, ()))}
