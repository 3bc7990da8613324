"""One batch run for every test of the batch package: the job's tests and the report's read the same result."""
from __future__ import annotations

import pytest
from pyspark.sql import SparkSession

from pinterest_pipeline.batch import run_batch
from tests.support.batch_run import PREFIX, Lake, Run, make_lake


@pytest.fixture(scope="package")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    return make_lake(tmp_path_factory.mktemp("lake"))


@pytest.fixture(scope="package")
def run(spark: SparkSession, lake: Lake, tmp_path_factory: pytest.TempPathFactory) -> Run:
    warehouse = tmp_path_factory.mktemp("warehouse")
    progress: list[tuple[int, int, str]] = []
    result = run_batch(spark, str(lake.root), PREFIX, str(warehouse),
                       progress=lambda done, total, step: progress.append((done, total, step)))
    return Run(lake, warehouse, result, progress)
