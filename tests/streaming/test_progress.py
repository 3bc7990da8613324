"""Micro-batch progress of the streaming job: one line per batch and a Delta table whose rows add up to the
records put into Kinesis."""
from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from pinterest_pipeline.contract import encode_json, stream_name, stream_progress_table_name
from pinterest_pipeline.kinesis import ensure_streams
from pinterest_pipeline.spark.delta import Warehouse
from pinterest_pipeline.streaming.job import AVAILABLE_NOW, await_queries, start_streaming
from pinterest_pipeline.streaming.progress import ProgressReporter, delta_progress_sink, log_progress

pytestmark = pytest.mark.spark
ROWS = 7


def test_each_micro_batch_is_logged_and_recorded_once(spark: SparkSession, moto_endpoint: str, kinesis: Any,
                                                      tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    prefix = f"progress{uuid.uuid4().hex[:6]}"
    ensure_streams(kinesis, prefix)
    records = [{"Data": encode_json({"ind": i, "country": "Chile", "latitude": 1.0, "longitude": 2.0,
                                     "timestamp": "2020-01-01 00:00:00"}), "PartitionKey": "k"} for i in range(ROWS)]
    assert kinesis.put_records(StreamName=stream_name(prefix, "geo"), Records=records)["FailedRecordCount"] == 0
    warehouse = Warehouse(str(tmp_path / "warehouse"))
    table = stream_progress_table_name(prefix)
    caplog.set_level(logging.INFO, logger="pinterest_pipeline.streaming.progress")
    queries = start_streaming(spark, prefix, str(tmp_path / "warehouse"), checkpoint_root=str(tmp_path / "cp"),
                              endpoint_url=moto_endpoint, region="us-east-1", trigger=AVAILABLE_NOW,
                              initial_position="trim_horizon", max_records_per_batch=3, kinds=("geo",))
    await_queries(queries, on_progress=ProgressReporter([log_progress, delta_progress_sink(spark, warehouse, table)]))
    rows = warehouse.read(spark, table).collect()
    assert sum(row.input_rows for row in rows) == ROWS
    assert len({(row.query, row.batch_id) for row in rows}) == len(rows) >= 3  # 3 + 3 + 1 records, each batch once
    lines = [r.getMessage() for r in caplog.records if " batch " in r.getMessage()]
    assert len(lines) == len(rows) and all("rows in" in line for line in lines)
