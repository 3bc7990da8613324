"""The one place that knows where Spark runs: Databricks' own session, or a Delta-enabled one on a master URL
(``local[*]`` by default, a standalone / YARN / Kubernetes cluster, or what ``spark-submit`` was given)."""
from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import pyspark
from pyspark.sql import SparkSession

#: Set by every Databricks runtime; its presence means "use the cluster's session".
DATABRICKS_ENV = "DATABRICKS_RUNTIME_VERSION"
#: Spark's master URL for running every task in the driver's JVM, a thread per core: the pipeline's default.
LOCAL_MASTER = "local[*]"


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


def is_local_master(master: str) -> bool:
    """True for ``local``, ``local[N]``, ``local[*]``, ``local[N,F]``: every task in the driver's own JVM."""
    return master == "local" or master.startswith("local[")


def launched_by_spark_submit() -> bool:
    """True when ``spark-submit`` started this interpreter: its JVM already runs, with the master, packages and
    memory it was given (pyspark connects to it through ``PYSPARK_GATEWAY_PORT``)."""
    return bool(os.environ.get("PYSPARK_GATEWAY_PORT"))


def s3a_conf(data_paths: Iterable[str], endpoint_url: str | None) -> dict[str, str]:
    """Hadoop settings for S3 paths: ``s3://`` read as ``s3a://``, and a non-AWS endpoint (moto, MinIO) addressed
    path-style. They travel with every task, so executors reach the same endpoint."""
    if not packages_for_paths(data_paths):
        return {}
    conf = {"spark.hadoop.fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem"}
    if endpoint_url:
        conf.update({"spark.hadoop.fs.s3a.endpoint": endpoint_url, "spark.hadoop.fs.s3a.path.style.access": "true"})
    return conf


def launch_conf() -> dict[str, str]:
    """For a JVM this process launches (not ``spark-submit``'s): UTC in the driver's and executors' JVMs too, no
    progress bar on the terminal."""
    return {"spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
            "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
            "spark.ui.showConsoleProgress": "false"}


def partitioning_conf(shuffle_partitions: int) -> dict[str, str]:
    """Partitions of shuffles and of Delta's log replay, sized for the pipeline's tables. Cached tables keep their
    shuffle's partitions (see :func:`pipeline_conf`), so Spark's 200 would mean 200 tasks per later step."""
    return {"spark.sql.shuffle.partitions": str(shuffle_partitions),
            "spark.databricks.delta.snapshotPartitions": "2"}


def local_conf(shuffle_partitions: int, driver_memory: str) -> dict[str, str]:
    """Sizing for ``local[*]``: one JVM runs every task on a few cores."""
    return {
        "spark.driver.memory": driver_memory,
        "spark.default.parallelism": str(shuffle_partitions),
        "spark.ui.enabled": "false",
        **partitioning_conf(shuffle_partitions),
    }


def set_unless_configured(spark: SparkSession, conf: Mapping[str, str]) -> None:
    """Runtime settings the cluster's own configuration (``spark-defaults.conf``, ``--conf``) does not give."""
    given = spark.sparkContext.getConf()
    for key, value in conf.items():
        if not given.contains(key):
            spark.conf.set(key, value)


def pipeline_conf(warehouse_dir: str | None) -> dict[str, str]:
    """What every session of the pipeline needs, wherever it runs: Delta Lake's SQL extension and catalog, UTC."""
    conf = {
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.session.timeZone": "UTC",
        # Cached tables keep their hash partitioning by key, so later joins on it need no shuffle.
        "spark.sql.optimizer.canChangeCachedPlanOutputPartitioning": "false",
    }
    if warehouse_dir:
        conf["spark.sql.warehouse.dir"] = absolute_location(warehouse_dir)
    return conf


def absolute_location(path: str) -> str:
    """A URI (``s3a://…``, ``dbfs:/…``, ``file:/…``) as it is, a local path made absolute: a driver's relative path
    means nothing to an executor, whose working folder is elsewhere."""
    if "://" in path or path.startswith(("dbfs:", "file:")):
        return path
    return os.path.abspath(path)


def get_spark(
    app_name: str = "pinterest-pipeline",
    warehouse_dir: str | None = None,
    data_paths: Iterable[str] = (),
    shuffle_partitions: int = 4,
    driver_memory: str = "4g",
    extra_conf: Mapping[str, str] | None = None,
    master: str | None = None,
    s3_endpoint_url: str | None = None,
) -> SparkSession:
    """The active Databricks session, or a Delta-enabled session on ``master`` (default ``local[*]``).

    - ``local[*]`` (or ``local[N]``): one JVM runs every task: ``driver_memory`` is its heap, shuffles use
      ``shuffle_partitions``, no web UI;
    - a cluster (``spark://host:port``, ``yarn``, ``k8s://…``): the driver only plans and collects, so it keeps
      Spark's own sizing (driver and executor memory, executor cores) and whatever ``spark-defaults.conf`` says;
      shuffles use ``shuffle_partitions`` unless that configuration sets them; the Delta (and ``hadoop-aws``)
      jars reach the executors through ``spark.jars.packages``, served by the driver;
    - under ``spark-submit`` with no ``master`` given: its JVM, master and packages (``--packages``) as they are.

    Locally the jars come from Maven Central the first time (cached in ``~/.ivy2*`` after); ``data_paths`` are
    the lake and warehouse the session will use: S3 paths add ``hadoop-aws`` (:func:`packages_for_paths`) and
    ``s3_endpoint_url`` (a local S3 such as moto) if given, never on Databricks, whose runtime reads S3 itself.
    ``extra_conf`` adds or overrides Spark settings.
    """
    if on_databricks():
        return SparkSession.builder.getOrCreate()

    from delta import configure_spark_with_delta_pip

    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    submitted = master is None and launched_by_spark_submit()
    conf = {**pipeline_conf(warehouse_dir), **s3a_conf(data_paths, s3_endpoint_url)}
    builder = SparkSession.builder.appName(app_name)
    if not submitted:
        master = master or LOCAL_MASTER
        builder = configure_spark_with_delta_pip(builder.master(master), extra_packages=packages_for_paths(data_paths))
        conf.update(launch_conf())
        if is_local_master(master):
            # A local session's Python workers run this interpreter; a cluster's, spark.pyspark.python's.
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            conf.update(local_conf(shuffle_partitions, driver_memory))
    conf.update(extra_conf or {})
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    if submitted or not is_local_master(master):
        set_unless_configured(spark, partitioning_conf(shuffle_partitions))
    return spark
