"""Benchmark: the Spark batch job against DuckDB answering the same questions over the same lake files.

For each size, ``N`` generated rows per table are written to a lake (``--flush-size`` records per object,
plus a 5 % share of records sent twice, as at-least-once delivery does), then timed, in one run:
- Spark: ``run_batch`` on a warm session, a first (full) run: parse, bronze, quarantine, cleanse, deduplicate,
  all insights, writing every Delta table (session start-up is reported apart), with the seconds of each stage
  (summed over the topics' threads, which overlap);
- DuckDB: the independent reference of the tests: load the lines, cleanse, deduplicate, all insights.
Both answers are compared. Prints JSON with both times, their ratio, and the growth between sizes.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tests.support.duckdb_reference import DuckDBReference, comparable_rows  # noqa: E402
from tests.support.lake_files import write_generated_lake  # noqa: E402

from pinterest_pipeline.batch import BatchResult, run_batch  # noqa: E402
from pinterest_pipeline.spark.session import get_spark  # noqa: E402

PREFIX = "124a514b9149"


def time_spark(spark, lake: Path, warehouse: Path) -> tuple[float, BatchResult]:
    started = time.perf_counter()
    result = run_batch(spark, str(lake), PREFIX, str(warehouse))
    return time.perf_counter() - started, result


def time_duckdb(lake: Path) -> tuple[float, dict]:
    started = time.perf_counter()
    reference = DuckDBReference(lake, PREFIX)
    answers = reference.insights()
    return time.perf_counter() - started, answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000], help="rows per table")
    parser.add_argument("--flush-size", type=int, default=10_000, help="records per lake object")
    parser.add_argument("--workdir", type=Path, help="where lakes and warehouses go (default: a temp folder)")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-batch-"))
    started = time.perf_counter()
    spark = get_spark("bench-batch", warehouse_dir=str(workdir / "spark-warehouse"))
    startup = time.perf_counter() - started
    runs = {}
    try:
        for rows in args.sizes:
            lake, warehouse = workdir / f"lake-{rows}", workdir / f"warehouse-{rows}"
            started = time.perf_counter()
            records = write_generated_lake(lake, PREFIX, rows, args.flush_size)
            generate_s = time.perf_counter() - started
            spark_s, result = time_spark(spark, lake, warehouse)
            duckdb_s, theirs = time_duckdb(lake)
            same = all(comparable_rows(result.insights[name]) == comparable_rows(theirs[name]) for name in theirs)
            print(f"{rows} rows: spark {spark_s:.1f} s, duckdb {duckdb_s:.1f} s", file=sys.stderr, flush=True)
            runs[rows] = {
                "records_per_topic": records["pin"], "generate_lake_s": round(generate_s, 1),
                "spark_s": round(spark_s, 2), "duckdb_s": round(duckdb_s, 2),
                "spark_over_duckdb": round(spark_s / duckdb_s, 2), "same_answers": same,
                "spark_stage_s": {stage: round(seconds, 2) for stage, seconds in result.stage_seconds.items()},
            }
            shutil.rmtree(lake, ignore_errors=True)
            shutil.rmtree(warehouse, ignore_errors=True)
    finally:
        spark.stop()
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    sizes = sorted(runs)
    report = {
        "benchmark": "batch: Spark run_batch (incl. Delta writes) vs DuckDB over the same lake files",
        "cpu_count": os.cpu_count(), "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "spark_startup_s": round(startup, 1), "flush_size": args.flush_size, "runs": runs,
    }
    if len(sizes) > 1:
        small, large = runs[sizes[0]], runs[sizes[-1]]
        report["growth"] = {
            "rows": round(sizes[-1] / sizes[0], 1),
            "spark": round(large["spark_s"] / small["spark_s"], 2),
            "duckdb": round(large["duckdb_s"] / small["duckdb_s"], 2),
        }
    report["goal_spark_at_most_3x_duckdb_at_largest"] = met = runs[sizes[-1]]["spark_over_duckdb"] <= 3
    if not met:
        report["note"] = "goal missed: Spark took more than 3x DuckDB's time at the largest size"
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
