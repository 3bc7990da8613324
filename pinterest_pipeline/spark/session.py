"""The one place that knows where Spark runs: Databricks' own session, or a local Delta-enabled one."""
from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import pyspark
from pyspark.sql import SparkSession

#: Set by every Databricks runtime; its presence means "use the cluster's session".
DATABRICKS_ENV = "DATABRICKS_RUNTIME_VERSION"


def on_databricks() -> bool:
    """True inside a Databricks runtime."""
    return bool(os.environ.get(DATABRICKS_ENV))


def hadoop_aws_package() -> str:
    """Maven coordinate of ``hadoop-aws`` matching the Hadoop client bundled with pyspark (``s3a://``)."""
    jars = Path(pyspark.__file__).parent / "jars"
    client = next(jars.glob("hadoop-client-api-*.jar"), None)
    if client is None:
        raise RuntimeError(f"no hadoop-client-api jar under {jars}: cannot pick a hadoop-aws version")
    version = client.stem.removeprefix("hadoop-client-api-")
    return f"org.apache.hadoop:hadoop-aws:{version}"


def packages_for_paths(paths: Iterable[str]) -> list[str]:
    """Extra Maven packages a local session needs to read or write ``paths`` (S3 paths need hadoop-aws)."""
    if any(str(p).startswith(("s3a://", "s3://")) for p in paths):
        return [hadoop_aws_package()]
    return []


def get_spark(
    app_name: str = "pinterest-pipeline",
    warehouse_dir: str | None = None,
    data_paths: Iterable[str] = (),
    shuffle_partitions: int = 4,
    driver_memory: str = "4g",
    extra_conf: Mapping[str, str] | None = None,
) -> SparkSession:
    """The active Databricks session, or a local ``local[*]`` session with Delta Lake configured.

    Locally the Delta jars come from Maven Central the first time (cached in ``~/.ivy2*`` after);
    ``data_paths`` are the lake and warehouse the session will use: S3 paths add ``hadoop-aws`` locally
    (:func:`packages_for_paths`), never on Databricks, whose runtime reads S3 itself;
    ``driver_memory`` is the heap of the one local JVM that runs every task; ``extra_conf`` adds or
    overrides Spark settings of the local session.
    """
    if on_databricks():
        return SparkSession.builder.getOrCreate()

    from delta import configure_spark_with_delta_pip

    extra_packages = packages_for_paths(data_paths)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master("local[*]")
        .appName(app_name)
        .config("spark.driver.memory", driver_memory)
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.default.parallelism", str(shuffle_partitions))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.databricks.delta.snapshotPartitions", "2")
        # Cached tables keep their hash partitioning by key, so later joins on it need no shuffle.
        .config("spark.sql.optimizer.canChangeCachedPlanOutputPartitioning", "false")
    )
    if any(p.startswith("org.apache.hadoop:hadoop-aws") for p in extra_packages):
        builder = builder.config("spark.hadoop.fs.s3.impl", "org.apache.hadoop.fs.s3a.S3AFileSystem")
    for key, value in (extra_conf or {}).items():
        builder = builder.config(key, value)
    if warehouse_dir:
        builder = builder.config("spark.sql.warehouse.dir", os.path.abspath(warehouse_dir))
    spark = configure_spark_with_delta_pip(builder, extra_packages=extra_packages).getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
