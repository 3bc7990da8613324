"""Micro-batch progress of the streaming queries: one log line each, optionally rows of a Delta table.

The figures come from Spark's own query progress (``StreamingQuery.recentProgress``), described in
docs/metrics.md.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Callable, Mapping, Sequence

from pyspark.sql import SparkSession
from pyspark.sql.streaming import StreamingQuery
from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType, TimestampType

from pinterest_pipeline.spark.delta import Warehouse

logger = logging.getLogger("pinterest_pipeline.streaming.progress")
Progress = Mapping[str, Any]

#: Columns of ``<prefix>_stream_progress``: one row per micro-batch of each query.
PROGRESS_SCHEMA = StructType([
    StructField("query", StringType()),
    StructField("batch_id", LongType()),
    StructField("timestamp", TimestampType()),
    StructField("input_rows", LongType()),
    StructField("input_rows_per_second", DoubleType()),
    StructField("processed_rows_per_second", DoubleType()),
    StructField("batch_duration_ms", LongType()),
    StructField("add_batch_ms", LongType()),
])


def progress_row(progress: Progress) -> tuple:
    """One micro-batch's figures, in :data:`PROGRESS_SCHEMA` order."""
    durations = progress.get("durationMs") or {}
    return (progress.get("name"), int(progress["batchId"]),
            datetime.fromisoformat(str(progress["timestamp"]).replace("Z", "+00:00")).replace(tzinfo=None),
            int(progress.get("numInputRows") or 0), float(progress.get("inputRowsPerSecond") or 0.0),
            float(progress.get("processedRowsPerSecond") or 0.0), int(durations.get("triggerExecution") or 0),
            int(durations.get("addBatch") or 0))


def progress_line(progress: Progress) -> str:
    """``<query> batch <id>: <rows> rows in, <rate>/s processed, batch <ms> ms (write <ms> ms)``."""
    query, batch, _, rows, _, processed, duration, add_batch = progress_row(progress)
    return (f"{query} batch {batch}: {rows} rows in, {processed:.0f} rows/s processed, "
            f"batch {duration} ms (write {add_batch} ms)")


class ProgressReporter:
    """Hands each new micro-batch progress of the queries, once, to ``sinks``."""

    def __init__(self, sinks: Sequence[Callable[[list[Progress]], None]]) -> None:
        self.sinks = list(sinks)
        self._seen: dict[str, int] = {}

    def __call__(self, queries: Sequence[StreamingQuery]) -> None:
        fresh = []
        for query in queries:
            for progress in query.recentProgress:
                if progress["batchId"] > self._seen.get(str(query.id), -1):
                    fresh.append(progress)
                    self._seen[str(query.id)] = progress["batchId"]
        if fresh:
            for sink in self.sinks:
                sink(fresh)


def log_progress(progresses: list[Progress]) -> None:
    """One INFO line per micro-batch."""
    for progress in progresses:
        logger.info(progress_line(progress))


def delta_progress_sink(spark: SparkSession, warehouse: Warehouse, table: str) -> Callable[[list[Progress]], None]:
    """Appends the micro-batches to the Delta table ``table``."""

    def append(progresses: list[Progress]) -> None:
        rows = spark.createDataFrame([progress_row(p) for p in progresses], PROGRESS_SCHEMA)
        warehouse.write(rows, table, mode="append")

    return append
