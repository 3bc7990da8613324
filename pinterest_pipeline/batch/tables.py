"""Where batch tables live: path-based Delta under the warehouse folder locally, managed tables on Databricks."""
from __future__ import annotations

from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from pinterest_pipeline.spark_session import on_databricks


def table_location(warehouse: str, name: str) -> str:
    """The table's catalog name on Databricks, else ``<warehouse>/<name>`` (absolute for local folders)."""
    if on_databricks():
        return name
    if "://" in warehouse or warehouse.startswith("dbfs:"):
        return f"{warehouse.rstrip('/')}/{name}"
    return str(Path(warehouse).resolve() / name)


def write_delta(df: DataFrame, warehouse: str, name: str) -> str:
    """Write ``df`` as the Delta table ``name``, replacing data and schema of any earlier run; its location."""
    location = table_location(warehouse, name)
    writer = df.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
    if on_databricks():
        writer.saveAsTable(location)
    else:
        writer.save(location)
    return location


def read_delta(spark: SparkSession, location: str) -> DataFrame:
    """The Delta table written by :func:`write_delta` at ``location``."""
    return spark.table(location) if on_databricks() else spark.read.format("delta").load(location)
