"""``python -m pinterest_pipeline.batch --lake-root DIR --prefix P --warehouse DIR [--master URL] [--full-refresh]
[--logical-date YYYY-MM-DD] [--report FILE]``: reads the lake objects new since the last run."""
from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from tabulate import tabulate

from pinterest_pipeline.batch.job import BatchResult, run_batch
from pinterest_pipeline.batch.lake_reader import LakeReadError
from pinterest_pipeline.batch.report import write_report
from pinterest_pipeline.config import load_settings
from pinterest_pipeline.lake.store import s3_endpoint
from pinterest_pipeline.spark.session import absolute_location, get_spark

#: Rows of each insight printed on the terminal (the report and the tables hold them all).
PRINTED_ROWS = 10


def render_table(frame: pd.DataFrame, limit: int | None = None) -> str:
    """A compact plain-text table; with ``limit``, only the first rows and a note of the rest."""
    shown = frame if limit is None else frame.head(limit)
    text = tabulate(shown.to_dict("records"), headers="keys", tablefmt="simple", floatfmt=".1f")
    hidden = len(frame) - len(shown)
    return text + (f"\n… {hidden} more rows" if hidden > 0 else "")


def render_result(result: BatchResult) -> str:
    """Counts per topic, then each insight table, for the terminal."""
    counts = pd.DataFrame(
        [{"topic": kind, **c, "cleaned_rows": result.cleaned_rows[kind]} for kind, c in result.counts.items()]
    )
    day = f" (logical date {result.logical_date})" if result.logical_date else ""
    news = f"{result.batches} micro-batch(es) of new lake objects" if result.batches else "nothing new in the lake"
    parts = [f"Batch run for prefix {result.prefix}{day} in {result.seconds:.1f} s: {news}", render_table(counts)]
    for name, frame in result.insights.items():
        parts.append(f"\n{name}\n" + render_table(frame, PRINTED_ROWS))
    return "\n".join(parts)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pinterest_pipeline.batch", description=__doc__)
    parser.add_argument("--lake-root", help="lake root (local folder, s3a://, dbfs:/; default: settings, data/lake)")
    parser.add_argument("--prefix", help="topic prefix, the original's user id (default 124a514b9149)")
    parser.add_argument("--warehouse", help="folder of the Delta tables (default: settings, data/warehouse)")
    parser.add_argument("--master", help="Spark master URL, e.g. spark://host:7077, yarn, k8s://https://host:443 "
                                         "(default: settings, local[*]; under spark-submit, its --master)")
    parser.add_argument("--report", type=Path,
                        help="also write a markdown report (with charts) to this file, and a self-contained HTML page "
                             "beside it (the same name ending in .html)")
    parser.add_argument("--full-refresh", action="store_true",
                        help="forget which lake objects were read and rebuild every table from the whole lake")
    parser.add_argument("--logical-date", help="the day this run stands for (the DAG's logical date), for the report")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the batch job; 0 on success, 2 when the lake holds nothing for the prefix."""
    args = parse_args(argv)
    settings = load_settings(lake_root=args.lake_root, prefix=args.prefix, warehouse=args.warehouse,
                             spark_master=args.master)
    lake_root = absolute_location(settings.lake_root)
    spark = get_spark("pinterest-batch", warehouse_dir=settings.warehouse,
                      data_paths=[lake_root, settings.warehouse], master=settings.spark_master,
                      s3_endpoint_url=s3_endpoint(settings.s3_endpoint_url))
    try:
        result = run_batch(spark, lake_root, settings.prefix, settings.warehouse,
                           full_refresh=args.full_refresh, logical_date=args.logical_date)
    except LakeReadError as error:
        print(f"error: {error}")
        return 2
    print(render_result(result))
    if args.report:
        paths = write_report(result, args.report.parent, args.report.name)
        print(f"\nreport: {paths.html} ({paths.markdown})")
    return 0
