"""One local Delta-enabled SparkSession for the whole test run (startup costs ~15 s)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from pyspark.sql import SparkSession

from pinterest_pipeline.spark_session import get_spark


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    """The shared session; its SQL warehouse lives in a temporary folder."""
    session = get_spark("pinterest-pipeline-tests", warehouse_dir=str(tmp_path_factory.mktemp("spark-warehouse")))
    yield session
    session.stop()
