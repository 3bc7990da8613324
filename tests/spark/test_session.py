"""Where Spark runs: on Databricks the runtime's own session, with nothing fetched or configured locally."""
from __future__ import annotations

import pytest
from pyspark.sql import SparkSession

from pinterest_pipeline.spark import session

pytestmark = pytest.mark.spark


def test_s3_paths_add_hadoop_aws_locally() -> None:
    assert session.packages_for_paths(["data/lake", "/tmp/wh"]) == []
    [package] = session.packages_for_paths(["s3a://bucket/lake", "data/warehouse"])
    assert package.startswith("org.apache.hadoop:hadoop-aws:")


def test_on_databricks_the_runtime_session_serves_s3_without_local_jars(spark: SparkSession,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(session.DATABRICKS_ENV, "15.4")

    def no_local_jars() -> str:
        raise AssertionError("looked for pyspark's local jars on a Databricks runtime")

    monkeypatch.setattr(session, "hadoop_aws_package", no_local_jars)
    assert session.get_spark(data_paths=["s3://user-124a514b9149-bucket", "dbfs:/mnt/x"]) is spark
