"""The batch notebook on a Databricks runtime stand-in: Spark 3.5 + Delta 3.x in their own virtualenv, the
package installed from the built wheel only, managed tables in the schema the widgets name."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from pinterest_pipeline.batch.insights import INSIGHTS
from pinterest_pipeline.batch.job import table_names
from pinterest_pipeline.contract import KINDS, cleaned_table_name, quarantine_table_name
from tests.support import REPO_ROOT
from tests.support.duckdb_reference import DuckDBReference, comparable_rows
from tests.support.lake_files import MALFORMED_LINES, sampled_rows, write_lake
from tests.support.standins import DATABRICKS_SPARK_35, build_dist, ensure_venv, install_wheel

pytestmark = pytest.mark.spark

PREFIX = "dbr0test"
RUNTIME = REPO_ROOT / "tests" / "support" / "databricks_runtime.py"


@pytest.fixture(scope="module")
def runtime_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Spark 3.5 'runtime' with the package installed from ``make dist``'s wheel, nothing else of ours."""
    dist = build_dist(tmp_path_factory.mktemp("dist"))
    python = ensure_venv("databricks-15.4", DATABRICKS_SPARK_35)
    install_wheel(python, next((dist / "databricks").glob("*.whl")))
    return python


def run_on_runtime(python: Path, notebook: Path, widgets: dict[str, str], workdir: Path) -> dict:
    manifest = workdir / "manifest.json"
    env = {**os.environ, "DATABRICKS_RUNTIME_VERSION": "15.4", "PYSPARK_PYTHON": str(python),
           "PYSPARK_DRIVER_PYTHON": str(python), "PYTHONPATH": ""}
    done = subprocess.run([str(python), str(RUNTIME), str(notebook), json.dumps(widgets),
                           str(workdir / "metastore"), str(manifest)],
                          cwd=workdir, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(manifest.read_text())


def test_batch_notebook_writes_managed_tables_in_the_chosen_schema(runtime_python: Path, spark: SparkSession,
                                                                   tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    write_lake(lake, PREFIX, sampled_rows(300, 400, seed=11), flush_size=50, malformed=MALFORMED_LINES)
    # The stand-in has no Auto Loader: Spark's own file source reads the lake; the checkpoint goes to a folder.
    widgets = {"lake_root": str(lake), "prefix": PREFIX, "catalog": "spark_catalog", "schema": "pinterest_dbr",
               "warehouse": str(tmp_path / "checkpoints"), "auto_loader": "false"}
    tables = run_on_runtime(runtime_python, REPO_ROOT / "databricks_s3_to_databricks.ipynb", widgets, tmp_path)

    assert set(tables) == set(table_names(PREFIX))
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["_checkpoints"]
    assert {t["format"] for t in tables.values()} == {"delta"}
    assert all("/metastore/pinterest_dbr.db/" in t["location"] for t in tables.values())  # managed, in the schema
    assert not (tmp_path / "data").exists()  # nothing written to the local warehouse default

    reference = DuckDBReference(lake, PREFIX)
    stored = {name: spark.read.format("delta").load(t["location"]) for name, t in tables.items()}
    assert stored[quarantine_table_name(PREFIX)].count() == sum(len(v) for v in MALFORMED_LINES.values())
    for kind in KINDS:
        frame = stored[cleaned_table_name(PREFIX, kind)].orderBy("ind").toPandas()
        assert comparable_rows(frame) == comparable_rows(reference.table(kind)), kind
    for name in INSIGHTS:
        assert comparable_rows(stored[name].toPandas()) == comparable_rows(reference.insight(name)), name
