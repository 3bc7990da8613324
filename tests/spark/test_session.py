"""Where Spark runs: on Databricks the runtime's own session, with nothing fetched or configured locally; elsewhere
local[*] or a cluster master, with the settings each needs."""
from __future__ import annotations

from pathlib import Path

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


def test_only_local_masters_run_every_task_in_the_driver() -> None:
    assert all(session.is_local_master(m) for m in ("local", "local[*]", "local[2]", "local[4,3]"))
    assert not any(session.is_local_master(m) for m in ("spark://127.0.0.1:7077", "yarn", "k8s://https://h:443"))


def test_local_paths_become_absolute_and_uris_stay_as_they_are(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert session.absolute_location("data/lake") == str(tmp_path / "data" / "lake")
    for uri in ("s3a://bucket/lake", "dbfs:/mnt/lake", "file:/tmp/lake", "hdfs://namenode/lake"):
        assert session.absolute_location(uri) == uri


def test_s3_paths_read_through_s3a_and_a_local_endpoint_path_style() -> None:
    s3a = {"spark.hadoop.fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem"}
    assert session.s3a_conf(["s3://bucket/lake", "data/warehouse"], None) == s3a
    assert session.s3a_conf(["s3a://bucket/lake"], "http://127.0.0.1:5000") == {
        **s3a, "spark.hadoop.fs.s3a.endpoint": "http://127.0.0.1:5000", "spark.hadoop.fs.s3a.path.style.access": "true"}
    assert session.s3a_conf(["data/lake", "data/warehouse"], "http://127.0.0.1:5000") == {}


def test_cluster_defaults_leave_what_the_configuration_gives_alone(spark: SparkSession) -> None:
    unset = "spark.sql.pinterest.clusterDefaultForTest"
    before = spark.conf.get("spark.sql.shuffle.partitions")  # given when the session was built
    try:
        session.set_unless_configured(spark, {"spark.sql.shuffle.partitions": "97", unset: "3"})
        assert (spark.conf.get("spark.sql.shuffle.partitions"), spark.conf.get(unset)) == (before, "3")
    finally:
        spark.conf.unset(unset)
