"""The demos' Spark stages: the session (one line saying so when a first run fetches jars), the batch job with
a progress bar, the insights a line each, and the report."""
from __future__ import annotations

import time
from collections.abc import Iterable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pandas as pd

from pinterest_pipeline.batch import BatchResult, run_batch
from pinterest_pipeline.batch.figures import insight_title
from pinterest_pipeline.batch.job import batch_steps
from pinterest_pipeline.batch.report import write_report
from pinterest_pipeline.demo.console import Console, duration, per_topic
from pinterest_pipeline.demo.jars import Fetched, ivy_jar_folders, jars_in
from pinterest_pipeline.spark.session import get_spark


def start_spark(console: Console, app_name: str, warehouse: Path, data_paths: Iterable[str] = (),
                master: str | None = None) -> Any:
    """A Delta-enabled session on ``master`` (default ``local[*]``; its output, Ivy's included, goes to the
    console's log)."""
    before = jars_in(ivy_jar_folders())
    first_run = not any(path.name.startswith("io.delta_delta-spark") for path in before)
    wait = "starting Spark" + ("; first run: fetching Delta Lake jars from Maven Central" if first_run else "")
    started = time.monotonic()
    with console.waiting(wait):
        spark = get_spark(app_name, warehouse_dir=str(warehouse), data_paths=data_paths, master=master)
    console.stage("spark", f"Spark {spark.version} with Delta Lake {version('delta-spark')} "
                           f"({spark.sparkContext.master}) up in {duration(time.monotonic() - started)}")
    fetched = Fetched.between(before, jars_in(ivy_jar_folders()))
    if fetched:
        console.detail(fetched.line("Delta Lake and its dependencies"))
    return spark


def _answer(frame: pd.DataFrame) -> str:
    """An insight's rows in brief: the only row, or how many and the first."""
    if not len(frame):
        return "no rows"
    values = [frame[column].iloc[0] for column in frame.columns]  # each with its column's type
    first = " | ".join(f"{v:.1f}" if isinstance(v, float) else str(v) for v in values)
    return first if len(frame) == 1 else f"{len(frame):,} rows, e.g. {first}"


def batch_stage(console: Console, spark: Any, lake_root: Path, prefix: str, warehouse: Path) -> BatchResult:
    """The batch job over the lake, with a bar over its steps; one line of figures, one per insight."""
    done = {"steps": 0}

    def progress(steps: int, total: int, name: str) -> None:
        done["steps"] = steps
        bar.set_postfix_str(name, refresh=False)

    with console.watch("batch job", lambda: done["steps"], total=batch_steps(), unit="step") as bar:
        # The demo writes a new lake each time: its objects reuse names an earlier demo's run has read.
        result = run_batch(spark, str(lake_root), prefix, str(warehouse), progress=progress, full_refresh=True)
    console.stage("batch", f"{sum(c['raw'] for c in result.counts.values()):,} lines read, "
                           f"{result.quarantined:,} quarantined, {sum(result.duplicates.values()):,} repeats removed "
                           f"→ cleaned rows: {per_topic(result.cleaned_rows)}; {len(result.tables)} Delta tables "
                           f"under {warehouse}/ in {duration(result.seconds)}")
    console.stage("insights", f"{len(result.insights)} tables (each one's first row here, all rows in the report)")
    for name, frame in result.insights.items():
        console.detail(f"{insight_title(name)} → {_answer(frame)}")
    return result


def report_stage(console: Console, result: BatchResult, report: Path) -> None:
    """Write the Markdown and HTML reports; say where they are and how to open them."""
    paths = write_report(result, report.parent, report.name)
    console.stage("report", f"{paths.html} (open it with `make report`), Markdown version {paths.markdown}")
