"""The batch notebook runs under papermill in a fresh kernel and writes the same tables as the batch job."""
from __future__ import annotations

from pathlib import Path

import nbformat
import papermill
import pytest
from pyspark.sql import SparkSession

from pinterest_pipeline.batch.insights import INSIGHTS
from pinterest_pipeline.batch.job import table_names
from pinterest_pipeline.contract import KINDS, cleaned_table_name, quarantine_table_name
from tests.support import REPO_ROOT
from tests.support.duckdb_reference import DuckDBReference, comparable_rows
from tests.support.lake_files import MALFORMED_LINES, sampled_rows, write_lake

pytestmark = pytest.mark.spark

NOTEBOOK = REPO_ROOT / "databricks_s3_to_databricks.ipynb"
PREFIX = "nb0test"


def test_notebook_is_valid_and_parameterised() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assert all(f"{name} = " in tagged[0].source for name in ("lake_root", "prefix", "warehouse"))
    assert "dbutils.widgets.text" in "".join(c.source for c in notebook.cells)


def test_notebook_writes_the_batch_tables(spark: SparkSession, tmp_path: Path) -> None:
    lake, warehouse = tmp_path / "lake", tmp_path / "warehouse"
    write_lake(lake, PREFIX, sampled_rows(400, 500, seed=7), flush_size=100, malformed=MALFORMED_LINES)
    executed = tmp_path / "executed.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK), str(executed), kernel_name="python3", progress_bar=False, cwd=str(tmp_path),
        parameters={"lake_root": str(lake), "prefix": PREFIX, "warehouse": str(warehouse)},
    )
    shown = {c.source: str(c.get("outputs")) for c in nbformat.read(executed, as_version=4).cells}
    assert "category_count" in shown['result.insights["insight_1_popular_category_by_country"]']

    reference = DuckDBReference(lake, PREFIX)
    assert {p.name for p in warehouse.iterdir()} == {*table_names(PREFIX), "_checkpoints"}
    quarantine = spark.read.format("delta").load(str(warehouse / quarantine_table_name(PREFIX)))
    assert quarantine.count() == sum(len(lines) for lines in MALFORMED_LINES.values())
    for kind in KINDS:
        stored = spark.read.format("delta").load(str(warehouse / cleaned_table_name(PREFIX, kind)))
        assert comparable_rows(stored.orderBy("ind").toPandas()) == comparable_rows(reference.table(kind)), kind
    for name in INSIGHTS:
        stored = spark.read.format("delta").load(str(warehouse / name)).toPandas()
        assert comparable_rows(stored) == comparable_rows(reference.insight(name)), name
