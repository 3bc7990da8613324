"""The streaming notebook on Databricks runtime stand-ins (see tests/support/databricks_runtime.py): on the Spark 4
line it runs to completion against moto's Kinesis with the package's source playing the runtime's ``kinesis``;
on the Spark 3.5 line (whose runtimes have their own source, which no stand-in has) it imports and reaches its
first Kinesis read without touching the Spark 4 data source API."""
from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession
from pyspark.testing import assertDataFrameEqual

from pinterest_pipeline.contract import (
    KINDS,
    SOURCE_TABLE_BY_KIND,
    encode_json,
    stream_name,
    streaming_quarantine_table_name,
    streaming_table_name,
)
from pinterest_pipeline.kinesis import ensure_streams
from pinterest_pipeline.source.generator import generate_rows
from pinterest_pipeline.spark.cleansing import CLEANERS
from pinterest_pipeline.spark.schemas import RAW_SCHEMAS
from tests.support import REPO_ROOT
from tests.support.standins import DATABRICKS_SPARK_4, DATABRICKS_SPARK_35, build_dist, ensure_venv, install_wheel

pytestmark = pytest.mark.spark

NOTEBOOK = REPO_ROOT / "databricks_kinisis_to_databricks.ipynb"
RUNTIME = REPO_ROOT / "tests" / "support" / "databricks_runtime.py"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return next((build_dist(tmp_path_factory.mktemp("dist")) / "databricks").glob("*.whl"))


def runtime(requirements: tuple[str, ...], name: str, wheel: Path) -> Path:
    python = ensure_venv(name, requirements)
    install_wheel(python, wheel)
    return python


def run_notebook(python: Path, widgets: dict[str, str], workdir: Path, *, kinesis_source: bool,
                 runtime_version: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABRICKS_RUNTIME_VERSION": runtime_version, "PYSPARK_PYTHON": str(python),
           "PYSPARK_DRIVER_PYTHON": str(python), "PYTHONPATH": "",
           "STANDIN_KINESIS_SOURCE": "1" if kinesis_source else "0",
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    return subprocess.run([str(python), str(RUNTIME), str(NOTEBOOK), json.dumps(widgets), str(workdir / "metastore"),
                           str(workdir / "manifest.json")], cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=900)


def test_on_the_spark_4_line_the_notebook_streams_into_managed_tables(
        wheel: Path, moto_endpoint: str, kinesis: Any, spark: SparkSession, tmp_path: Path) -> None:
    prefix = uuid.uuid4().hex[:12]
    ensure_streams(kinesis, prefix)
    rows = generate_rows(0, 25, seed=9)
    for kind, table in SOURCE_TABLE_BY_KIND.items():
        records = [{"Data": encode_json(row), "PartitionKey": "partition_1"} for row in rows[table]]
        records.append({"Data": b"not json", "PartitionKey": "partition_1"})
        assert kinesis.put_records(StreamName=stream_name(prefix, kind), Records=records)["FailedRecordCount"] == 0
    widgets = {"prefix": prefix, "endpoint_url": moto_endpoint, "catalog": "spark_catalog",
               "schema": "pinterest_stream", "checkpoint_root": str(tmp_path / "checkpoints")}

    python = runtime(DATABRICKS_SPARK_4, "databricks-17.3", wheel)
    done = run_notebook(python, widgets, tmp_path, kinesis_source=True, runtime_version="17.3")
    assert done.returncode == 0, done.stderr[-4000:]

    tables = json.loads((tmp_path / "manifest.json").read_text())
    names = {streaming_table_name(prefix, kind) for kind in KINDS} | {streaming_quarantine_table_name(prefix)}
    assert set(tables) == names
    assert all("/metastore/pinterest_stream.db/" in t["location"] for t in tables.values())
    for kind, table in SOURCE_TABLE_BY_KIND.items():
        stored = spark.read.format("delta").load(tables[streaming_table_name(prefix, kind)]["location"])
        expected = CLEANERS[kind](spark.createDataFrame(rows[table], RAW_SCHEMAS[kind]))
        assertDataFrameEqual(stored, expected)
    quarantine = spark.read.format("delta").load(tables[streaming_quarantine_table_name(prefix)]["location"])
    assert quarantine.count() == len(KINDS)


def test_on_the_spark_3_5_line_the_notebook_imports_and_reaches_the_runtimes_source(wheel: Path,
                                                                                   tmp_path: Path) -> None:
    python = runtime(DATABRICKS_SPARK_35, "databricks-15.4", wheel)
    widgets = {"prefix": "p35", "catalog": "spark_catalog", "schema": "pinterest_stream35",
               "role_arn": "arn:aws:iam::123456789012:role/kinesis-reader"}
    done = run_notebook(python, widgets, tmp_path, kinesis_source=False, runtime_version="15.4")
    # Every cell before the first Kinesis read ran; the read asks for the runtime's own source, absent here.
    assert "Failed to find the data source: kinesis" in done.stderr or "DATA_SOURCE_NOT_FOUND" in done.stderr, \
        done.stderr[-4000:]
    assert "ModuleNotFoundError" not in done.stderr and "ImportError" not in done.stderr
    assert "arn:aws:iam" not in done.stdout  # the role is shown as <set>, not printed
