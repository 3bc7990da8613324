"""The batch job on a real Spark cluster: a standalone master and two workers (pyspark's own launcher, 127.0.0.1
only), the job as its command line with ``--master spark://…``, over a lake in a shared folder (given by relative
paths from another working folder than the executors') and over S3 (a moto server, ``s3a://``). Its tables must
equal the DuckDB reference; the master must show the application finished, with an executor on each worker."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
from pyspark.sql import SparkSession

from pinterest_pipeline.batch.insights import INSIGHTS
from pinterest_pipeline.contract import KINDS, cleaned_table_name, quarantine_table_name
from pinterest_pipeline.demo.processes import DUMMY_AWS_ENVIRONMENT, MotoServer
from tests.support.batch_run import PREFIX, Lake
from tests.support.duckdb_reference import DuckDBReference, comparable_rows
from tests.support.spark_cluster import LOOPBACK, StandaloneCluster, loopback_environment

pytestmark = pytest.mark.spark

BUCKET = "cluster-lake"
#: Addresses a socket of the cluster, its executors or the driver may listen on.
LOOPBACK_ADDRESSES = {LOOPBACK, f"::ffff:{LOOPBACK}"}


@dataclass(frozen=True)
class ClusterRun:
    """One run of the batch command on the cluster: its output, the master's record of it, where it listened."""

    process: subprocess.CompletedProcess
    application: dict[str, Any]
    listening: set[str]


#: A run, and the folder holding the tables it wrote.
RunAndTables = tuple[ClusterRun, Path]


@pytest.fixture(scope="module")
def cluster() -> Iterator[StandaloneCluster]:
    with StandaloneCluster(workers=2, cores=1, memory="1g") as started:
        yield started


@pytest.fixture(scope="module")
def reference(lake: Lake) -> DuckDBReference:
    return DuckDBReference(lake.root, PREFIX)


def listening_addresses(roots: list[int]) -> set[str]:
    """``ip:port`` of every listening TCP socket of ``roots`` and their descendants (those still alive)."""
    found = set()
    for root in roots:
        try:
            tree = [psutil.Process(root), *psutil.Process(root).children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for process in tree:
            try:
                found |= {f"{c.laddr.ip}:{c.laddr.port}" for c in process.net_connections("tcp")
                          if c.status == psutil.CONN_LISTEN}
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                continue
    return found


def run_on_cluster(cluster: StandaloneCluster, args: list[str], cwd: Path, env: dict[str, str]) -> ClusterRun:
    """``python -m pinterest_pipeline.batch --master <cluster> args`` in ``cwd``; while it runs, the listening
    sockets of the cluster, its executors and the driver are sampled."""
    before = {app["id"] for app in cluster.state()["completedapps"]}
    command = [sys.executable, "-m", "pinterest_pipeline.batch", "--master", cluster.master_url, "--prefix", PREFIX,
               *args]
    child = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    listening: set[str] = set()
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.append(child.stdout.read()))
    reader.start()
    try:
        while child.poll() is None:
            listening |= listening_addresses([*cluster.pids(), child.pid])
            reader.join(0.5)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        reader.join()
    process = subprocess.CompletedProcess(command, child.returncode, "".join(output))
    assert process.returncode == 0, process.stdout[-5000:]
    [application] = [app for app in cluster.state()["completedapps"] if app["id"] not in before]
    return ClusterRun(process, application, listening)


def driver_environment(**extra: str) -> dict[str, str]:
    """The job's environment: this worktree's package first, the driver bound to 127.0.0.1, no pipeline settings."""
    inherited = {k: v for k, v in loopback_environment().items() if not k.startswith("PINTEREST_")}
    path = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[2]), inherited.get("PYTHONPATH")]))
    return {**inherited, "PYTHONPATH": path, **extra}


@pytest.fixture(scope="module")
def folder_run(cluster: StandaloneCluster, lake: Lake, tmp_path_factory: pytest.TempPathFactory) -> RunAndTables:
    """The job over the lake in a shared folder, given as relative paths from the driver's own working folder."""
    job = tmp_path_factory.mktemp("cluster-job")
    (job / "lake").symlink_to(lake.root)
    run = run_on_cluster(cluster, ["--lake-root", "lake", "--warehouse", "warehouse"], job, driver_environment())
    return run, job / "warehouse"


@pytest.fixture(scope="module")
def s3_run(cluster: StandaloneCluster, lake: Lake, tmp_path_factory: pytest.TempPathFactory) -> RunAndTables:
    """The job over the lake copied to S3 (moto), writing its tables to S3; the tables copied back to a folder."""
    with MotoServer() as moto:
        s3 = moto.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        for path in sorted(p for p in lake.root.rglob("*") if p.is_file()):
            s3.put_object(Bucket=BUCKET, Key=f"lake/{path.relative_to(lake.root)}", Body=path.read_bytes())
        job = tmp_path_factory.mktemp("cluster-s3-job")
        run = run_on_cluster(cluster, ["--lake-root", f"s3a://{BUCKET}/lake", "--warehouse",
                                       f"s3a://{BUCKET}/warehouse"], job, driver_environment(**moto.environment()))
        copy = job / "warehouse-copy"
        keys = [item["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="warehouse/")
                for item in page.get("Contents", [])]
        # s3a marks a folder it made (e.g. the lake stream's checkpoint) with an empty object of the folder's name.
        folders = {key.rsplit("/", 1)[0] for key in keys}
        for key in keys:
            if key.rstrip("/") in folders:
                continue
            target = copy / key.removeprefix("warehouse/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    return run, copy


def assert_tables_equal_reference(spark: SparkSession, warehouse: Path, reference: DuckDBReference) -> None:
    """Cleaned tables, insights and quarantine in ``warehouse`` are the DuckDB reference's."""
    def table(name: str) -> Any:
        return spark.read.format("delta").load(str(warehouse / name))

    for kind in KINDS:
        ours = table(cleaned_table_name(PREFIX, kind)).orderBy("ind").toPandas()
        theirs = reference.table(kind)
        assert list(ours.columns) == list(theirs.columns), kind
        assert comparable_rows(ours) == comparable_rows(theirs), kind
    for name in INSIGHTS:
        theirs = reference.insight(name)
        ours = table(name).toPandas()
        assert list(ours.columns) == list(theirs.columns), name
        assert sorted(comparable_rows(ours), key=repr) == sorted(comparable_rows(theirs), key=repr), name
    quarantine = table(quarantine_table_name(PREFIX)).collect()
    for kind in KINDS:
        lines = sorted(bytes(r["raw_bytes"]) for r in quarantine if r["topic"] == f"{PREFIX}.{kind}")
        assert lines == sorted(reference.rejected_lines(kind)), kind


def assert_ran_on_the_cluster(cluster: StandaloneCluster, run: ClusterRun) -> None:
    """The master lists the application as finished with both workers' cores; each worker ran an executor of it;
    nothing of the cluster, its executors or the driver listened beyond 127.0.0.1."""
    app = run.application
    assert (app["name"], app["state"], app["cores"]) == ("pinterest-batch", "FINISHED", 2)
    for worker in cluster.worker_states():
        assert app["id"] in {executor["appid"] for executor in worker["finishedexecutors"]}, worker["id"]
    assert run.listening and {address.rsplit(":", 1)[0] for address in run.listening} <= LOOPBACK_ADDRESSES


def test_job_on_a_shared_folder_equals_duckdb(spark: SparkSession, folder_run: RunAndTables,
                                              reference: DuckDBReference) -> None:
    run, warehouse = folder_run
    assert "insight_3b_top_country_by_followers" in run.process.stdout
    assert_tables_equal_reference(spark, warehouse, reference)


def test_job_on_a_shared_folder_ran_on_both_workers(cluster: StandaloneCluster,
                                                    folder_run: RunAndTables) -> None:
    assert_ran_on_the_cluster(cluster, folder_run[0])


def test_job_on_s3_equals_duckdb(spark: SparkSession, s3_run: RunAndTables,
                                 reference: DuckDBReference) -> None:
    run, warehouse = s3_run
    assert DUMMY_AWS_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"] not in run.process.stdout
    assert_tables_equal_reference(spark, warehouse, reference)


def test_job_on_s3_ran_on_both_workers(cluster: StandaloneCluster, s3_run: RunAndTables) -> None:
    assert_ran_on_the_cluster(cluster, s3_run[0])
