"""Benchmark: the batch job on a local Spark standalone cluster against the same job on ``local[*]``.

One lake of ``--rows`` generated rows per table (5 % of them sent twice), then, in one run, the job's own command
(``python -m pinterest_pipeline.batch``) twice: with ``--master spark://…`` on a standalone cluster started here
from pyspark's launcher (``--workers`` workers of ``--worker-cores`` cores, 127.0.0.1 only), and with the default
``local[*]``. Each is timed from the command's start (JVM, Ivy and executors included) and by the job's own figure;
the two runs' insight tables are compared row by row. Prints JSON with the load average before and after each run.
Goal: the same answers, and the cluster run at most :data:`GOAL_RATIO` × the local one (the same cores, plus
executors in their own JVMs); the output says whether the goal was met.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench_batch import PREFIX, write_bench_lake  # noqa: E402
from tests.support.duckdb_reference import comparable_rows  # noqa: E402
from tests.support.spark_cluster import StandaloneCluster, loopback_environment  # noqa: E402

from pinterest_pipeline.batch.insights import INSIGHTS  # noqa: E402
from pinterest_pipeline.spark.session import get_spark  # noqa: E402

#: The cluster run may take at most this many times the local run.
GOAL_RATIO = 2.0
JOB_SECONDS = re.compile(r"Batch run for prefix \S+ in ([0-9.]+) s")


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def run_job(lake: Path, warehouse: Path, master: str | None, executor_memory: str) -> dict:
    """The batch command over ``lake`` (on ``master``, else the default ``local[*]``): its times and loads."""
    command = [sys.executable, "-m", "pinterest_pipeline.batch", "--lake-root", str(lake), "--prefix", PREFIX,
               "--warehouse", str(warehouse)]
    env = {**loopback_environment(), "PYTHONPATH": str(REPO_ROOT)}
    if master:
        command += ["--master", master]
        env["PYSPARK_SUBMIT_ARGS"] = f"--executor-memory {executor_memory} pyspark-shell"
    load_before = load_average()
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{(done.stdout + done.stderr)[-5000:]}")
    job = JOB_SECONDS.search(done.stdout)
    return {"command_s": round(wall, 1), "job_s": float(job.group(1)) if job else None,
            "load_average_1m_before": load_before, "load_average_1m_after": load_average()}


def same_insights(warehouses: list[Path]) -> bool:
    """Whether every insight table holds the same rows in each warehouse (read by one local session)."""
    spark = get_spark("bench-cluster-compare", warehouse_dir=str(warehouses[0].parent / "spark-warehouse"))
    try:
        def rows(warehouse: Path, name: str) -> list:
            return sorted(comparable_rows(spark.read.format("delta").load(str(warehouse / name)).toPandas()),
                          key=repr)

        return all(rows(warehouses[0], name) == rows(other, name) for name in INSIGHTS for other in warehouses[1:])
    finally:
        spark.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows per table")
    parser.add_argument("--flush-size", type=int, default=10_000, help="records per lake object")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-cores", type=int, default=1)
    parser.add_argument("--worker-memory", default="2g", help="memory each worker offers")
    parser.add_argument("--executor-memory", default="2g", help="heap of each executor (at most --worker-memory)")
    parser.add_argument("--workdir", type=Path, help="where the lake and warehouses go (default: a temp folder)")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    lake = workdir / "lake"
    try:
        started = time.perf_counter()
        records = write_bench_lake(lake, args.rows, args.flush_size)
        generate_s = time.perf_counter() - started
        with StandaloneCluster(args.workers, args.worker_cores, args.worker_memory) as cluster:
            on_cluster = run_job(lake, workdir / "warehouse-cluster", cluster.master_url, args.executor_memory)
            print(f"cluster: {on_cluster}", file=sys.stderr, flush=True)
            application = cluster.state()["completedapps"][-1]
        local = run_job(lake, workdir / "warehouse-local", None, args.executor_memory)
        print(f"local: {local}", file=sys.stderr, flush=True)
        same = same_insights([workdir / "warehouse-cluster", workdir / "warehouse-local"])
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    ratio = round(on_cluster["command_s"] / local["command_s"], 2)
    report = {
        "benchmark": "batch job: local standalone cluster vs local[*], the same lake, the job's own command",
        "cpu_count": os.cpu_count(), "rows_per_table": args.rows, "records_per_topic": records["pin"],
        "flush_size": args.flush_size, "generate_lake_s": round(generate_s, 1),
        "cluster": {"workers": args.workers, "cores_per_worker": args.worker_cores,
                    "worker_memory": args.worker_memory, "executor_memory": args.executor_memory,
                    "application_state": application["state"], "application_cores": application["cores"],
                    **on_cluster},
        "local": {"master": "local[*]", **local},
        "cluster_over_local": ratio, "same_answers": same,
        "goal": f"same answers and cluster <= {GOAL_RATIO}x local", "goal_met": same and ratio <= GOAL_RATIO,
    }
    if not report["goal_met"]:
        report["note"] = "goal missed" + ("" if same else ": the answers differ")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
