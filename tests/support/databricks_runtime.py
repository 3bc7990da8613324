"""A Databricks runtime stand-in: run a notebook's code cells the way a cluster does, in another virtualenv.

Run with the stand-in's own interpreter (pyspark 3.5 and delta-spark 3.x, the Spark line of the 14.3 / 15.4 LTS
runtimes, and the package installed from its wheel only)::

    python databricks_runtime.py NOTEBOOK WIDGETS_JSON WAREHOUSE_DIR MANIFEST_JSON

Like the runtime it requires ``DATABRICKS_RUNTIME_VERSION``, creates the Delta-enabled session before the
notebook runs, and gives the cells ``spark``, ``dbutils`` (widgets whose values are the job's parameters,
else the defaults the notebook declares) and ``display``. With ``STANDIN_KINESIS_SOURCE=1`` (Spark 4 line only)
the runtime's ``kinesis`` source is played by the package's Python data source, registered under that name
before the notebook runs. Then it writes the manifest: every table of the schema named by the ``catalog`` /
``schema`` widgets, with its location and format (``DESCRIBE DETAIL``).
What it cannot show: Unity Catalog grants, instance profiles, the runtime's own Kinesis source, Photon.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from delta import configure_spark_with_delta_pip
from pyspark.sql import SparkSession


class Widgets:
    """``dbutils.widgets``: text widgets whose values come from the job's parameters, else their defaults."""

    def __init__(self, parameters: dict[str, str]) -> None:
        self.parameters, self.values = parameters, {}

    def text(self, name: str, default_value: str, label: str | None = None) -> None:
        self.values[name] = self.parameters.get(name, default_value)

    def dropdown(self, name: str, default_value: str, choices: list[str], label: str | None = None) -> None:
        value = self.parameters.get(name, default_value)
        if value not in choices:
            raise ValueError(f"widget {name}: {value!r} is not one of {choices}")
        self.values[name] = value

    def get(self, name: str) -> str:
        if name not in self.values:
            raise ValueError(f"InputWidgetNotDefined: no widget named {name}")  # the runtime's error
        return self.values[name]


class DBUtils:
    def __init__(self, parameters: dict[str, str]) -> None:
        self.widgets = Widgets(parameters)


def runtime_session(warehouse_dir: str) -> SparkSession:
    """The session a Databricks cluster has running before any notebook: Delta, UTC, a metastore."""
    builder = (
        SparkSession.builder.master("local[2]").appName("databricks-runtime-standin")
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.sql.warehouse.dir", warehouse_dir)
        .config("spark.sql.session.timeZone", "Etc/UTC")
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
    )
    spark = configure_spark_with_delta_pip(builder).getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def run_notebook(path: Path, namespace: dict[str, Any]) -> None:
    """Execute every code cell in order in one namespace, as the notebook's REPL does."""
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    for number, cell in enumerate(cells, start=1):
        exec(compile("".join(cell["source"]), f"<{path.name} cell {number}>", "exec"), namespace)  # noqa: S102


def manifest(spark: SparkSession, schema: str) -> dict[str, dict[str, str]]:
    """Every table of ``schema``: its format and location."""
    found = {}
    for row in spark.sql(f"SHOW TABLES IN {schema}").collect():
        detail = spark.sql(f"DESCRIBE DETAIL {schema}.{row['tableName']}").first()
        found[row["tableName"]] = {"format": detail["format"], "location": detail["location"]}
    return found


def main() -> int:
    notebook, widgets_json, warehouse_dir, manifest_path = sys.argv[1:5]
    if not os.environ.get("DATABRICKS_RUNTIME_VERSION"):
        raise SystemExit("DATABRICKS_RUNTIME_VERSION must be set, as on every Databricks runtime")
    parameters = json.loads(widgets_json)
    spark = runtime_session(warehouse_dir)
    if os.environ.get("STANDIN_KINESIS_SOURCE") == "1":
        from pinterest_pipeline.streaming.kinesis_source import KinesisDataSource

        spark.dataSource.register(KinesisDataSource)
    namespace = {"spark": spark, "dbutils": DBUtils(parameters), "display": print, "__name__": "__main__"}
    run_notebook(Path(notebook), namespace)
    schema = ".".join(p for p in (parameters.get("catalog"), parameters.get("schema")) if p)
    Path(manifest_path).write_text(json.dumps(manifest(spark, schema)))
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
