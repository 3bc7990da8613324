"""Benchmark: an incremental batch run against a full run over the same lake, and a run with nothing new.

In one run, on one warm Spark session: a lake of ``--history`` generated rows per table (5 % of records sent
twice, ``--flush-size`` records per object) is read by a first run; then ``--new`` rows per table arrive as new
objects and are timed three ways:
- incremental: the next run, which reads only the new objects (bronze append, MERGE, insights);
- nothing new: the run after it, which finds no new object (goal: at most 10 s);
- full: ``--full-refresh`` over the same lake (history + new), which rebuilds every table from scratch.
Goal: the incremental run takes at most a third of the full run's time. The answers of the incremental and the
full run are compared. Prints JSON with the machine's load average, and says which goals were missed.
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

from tests.support.duckdb_reference import comparable_rows  # noqa: E402
from tests.support.lake_files import write_generated_lake  # noqa: E402

from pinterest_pipeline.batch import BatchResult, run_batch  # noqa: E402
from pinterest_pipeline.spark.session import get_spark  # noqa: E402

PREFIX = "124a514b9149"
#: Goals of issue 12: incremental at most this share of the full run; nothing new within this many seconds.
INCREMENTAL_SHARE_GOAL = 1 / 3
NOTHING_NEW_GOAL_S = 10.0


def timed_run(spark, lake: Path, warehouse: Path, full_refresh: bool = False) -> tuple[float, BatchResult]:
    started = time.perf_counter()
    result = run_batch(spark, str(lake), PREFIX, str(warehouse), full_refresh=full_refresh)
    return time.perf_counter() - started, result


def summary(seconds: float, result: BatchResult) -> dict:
    return {"seconds": round(seconds, 2), "batches": result.batches,
            "lines_read": sum(c["raw"] for c in result.counts.values()),
            "stage_s": {stage: round(s, 2) for stage, s in result.stage_seconds.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, default=1_000_000, help="rows per table already read")
    parser.add_argument("--new", type=int, default=10_000, help="rows per table that arrive before the timed run")
    parser.add_argument("--flush-size", type=int, default=10_000, help="records per lake object")
    parser.add_argument("--workdir", type=Path, help="where the lake and warehouse go (default: a temp folder)")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-incremental-"))
    lake, warehouse = workdir / "lake", workdir / "warehouse"
    spark = get_spark("bench-incremental", warehouse_dir=str(workdir / "spark-warehouse"))
    try:
        offsets = write_generated_lake(lake, PREFIX, args.history, args.flush_size)
        first_s, _ = timed_run(spark, lake, warehouse)
        print(f"history read in {first_s:.1f} s", file=sys.stderr, flush=True)
        write_generated_lake(lake, PREFIX, args.new, args.flush_size, first_row=args.history, offsets=offsets)
        incremental = timed_run(spark, lake, warehouse)
        nothing_new = timed_run(spark, lake, warehouse)
        full = timed_run(spark, lake, warehouse, full_refresh=True)
    finally:
        spark.stop()
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    same = all(comparable_rows(incremental[1].insights[name]) == comparable_rows(full[1].insights[name])
               for name in full[1].insights) and incremental[1].cleaned_rows == full[1].cleaned_rows
    share = incremental[0] / full[0]
    report = {
        "benchmark": "batch: incremental run (new objects only) vs full run over the same lake; nothing-new run",
        "cpu_count": os.cpu_count(), "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "history_rows_per_table": args.history, "new_rows_per_table": args.new, "flush_size": args.flush_size,
        "first_run_s": round(first_s, 2),
        "incremental": summary(*incremental), "full": summary(*full), "nothing_new": summary(*nothing_new),
        "incremental_over_full": round(share, 3), "same_answers": same,
        "goal_incremental_at_most_a_third_of_full": share <= INCREMENTAL_SHARE_GOAL,
        "goal_nothing_new_at_most_10_s": nothing_new[0] <= NOTHING_NEW_GOAL_S,
    }
    missed = [name for name in ("goal_incremental_at_most_a_third_of_full", "goal_nothing_new_at_most_10_s")
              if not report[name]]
    if missed:
        report["note"] = f"goals missed: {', '.join(missed)}"
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
