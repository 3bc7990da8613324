"""The batch job: new lake objects → bronze, quarantine and cleaned Delta tables → insight Delta tables.

Each run reads only the objects no earlier run read (:mod:`~pinterest_pipeline.batch.lake_stream`, a checkpoint
under ``<warehouse>/_checkpoints/``), appends their records to the bronze tables, merges them into the cleaned
tables (one row per ``ind``) and recomputes the insights (:mod:`~pinterest_pipeline.batch.increment`). A run with
nothing new changes no table. ``full_refresh`` forgets what was read: the run rebuilds every table from the lake.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import pandas as pd
from pyspark.sql import SparkSession

from pinterest_pipeline.batch.increment import MicroBatchWriter, ProgressCallback, Tally, batch_steps, in_parallel
from pinterest_pipeline.batch.insights import INSIGHTS
from pinterest_pipeline.batch.lake_reader import LakeReadError, topic_glob
from pinterest_pipeline.batch.lake_stream import lake_checkpoint, lake_lines
from pinterest_pipeline.contract import (
    KINDS,
    bronze_table_name,
    cleaned_table_name,
    quarantine_table_name,
    topic_name,
)
from pinterest_pipeline.spark.delta import Warehouse, remove_folder
from pinterest_pipeline.spark.session import on_databricks

__all__ = ["BatchResult", "ProgressCallback", "batch_steps", "run_batch"]


@dataclass
class BatchResult:
    """What one run read (only the lake objects new to it), rejected, cleaned and concluded."""

    prefix: str
    #: kind → ``{"raw": lines, "good": records, "quarantined": lines}`` read in this run
    counts: dict[str, dict[str, int]]
    #: kind → rows of the cleaned (one row per ``ind``) table after the run
    cleaned_rows: dict[str, int]
    #: ``kind, column_name, issue, value_count``: empty strings, placeholders, unreadable values of this run
    data_quality: pd.DataFrame
    #: insight table name → its rows
    insights: dict[str, pd.DataFrame]
    #: table name → location (folder locally, catalog name on Databricks)
    tables: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    #: kind → ``{reason: quarantined lines}`` of this run
    reasons: dict[str, dict[str, int]] = field(default_factory=dict)
    #: kind → rows this run added to the cleaned table (new ``ind``; all of them when it was rebuilt)
    cleaned_rows_added: dict[str, int] = field(default_factory=dict)
    #: the day the run stands for (the DAG's logical date), when given
    logical_date: str | None = None
    #: micro-batches of new lake objects the run processed (0: nothing new, no table changed)
    batches: int = 0
    #: stage of the micro-batches (parse and count, bronze, data quality, cleaned, quarantine, insights) → seconds,
    #: summed over the topics' threads (which overlap)
    stage_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def quarantined(self) -> int:
        """Lines rejected across all topics."""
        return sum(c["quarantined"] for c in self.counts.values())

    @property
    def duplicates(self) -> dict[str, int]:
        """kind → good records of this run that added no cleaned row (repeats of an ``ind`` already kept)."""
        return {kind: c["good"] - self.cleaned_rows_added.get(kind, 0) for kind, c in self.counts.items()}


def table_names(prefix: str) -> list[str]:
    """Every table the batch job writes: bronze, quarantine, cleaned, insights."""
    return [*(bronze_table_name(prefix, kind) for kind in KINDS), quarantine_table_name(prefix),
            *(cleaned_table_name(prefix, kind) for kind in KINDS), *INSIGHTS]


def _row_counts(spark: SparkSession, warehouse: Warehouse, names: dict[str, str]) -> dict[str, int]:
    """key → rows of table ``names[key]``; Delta answers from its statistics."""
    return in_parallel({key: warehouse.read(spark, name).count for key, name in names.items()})


def _stored_insights(spark: SparkSession, warehouse: Warehouse) -> dict[str, pd.DataFrame]:
    """The insight tables as the last run that read something wrote them."""
    return in_parallel({name: warehouse.read(spark, name).toPandas for name in INSIGHTS})


def _check_topics(spark: SparkSession, warehouse: Warehouse, tally: Tally, lake_root: str, prefix: str) -> None:
    """``LakeReadError`` for a topic never read: no bronze table, or no line of it when the tables were rebuilt."""
    for kind in KINDS:
        unread = tally.rebuilt and not tally.counts[kind]["raw"]
        if unread or not warehouse.exists(spark, bronze_table_name(prefix, kind)):
            topic = topic_name(prefix, kind)
            raise LakeReadError(f"no lake objects for topic {topic!r} at {topic_glob(lake_root, topic)}")


def run_batch(spark: SparkSession, lake_root: str, prefix: str, warehouse_root: str,
              schema: str | None = None, progress: ProgressCallback | None = None, *, full_refresh: bool = False,
              logical_date: str | None = None, auto_loader: bool | None = None) -> BatchResult:
    """Bring the tables of ``prefix`` up to date with the lake objects under ``lake_root`` read since the last run
    (all of them on the first run or with ``full_refresh``), and report counts of this run and the insights.

    Tables are folders under ``warehouse_root``, or on Databricks managed tables in ``schema``
    (``catalog.schema``; None = the current schema), created if missing; the checkpoint is always under
    ``warehouse_root`` (:func:`~pinterest_pipeline.batch.lake_stream.lake_checkpoint`). ``progress`` hears of every
    finished step of each micro-batch (:func:`batch_steps`). ``auto_loader``: read the lake with Databricks'
    Auto Loader (default: on Databricks). ``logical_date`` is only reported.
    """
    started = time.perf_counter()
    warehouse = Warehouse.for_runtime(warehouse_root, schema)
    warehouse.ensure_schema(spark)
    checkpoint = lake_checkpoint(warehouse_root, prefix)
    if full_refresh:
        remove_folder(spark, checkpoint)
    writer = MicroBatchWriter(prefix, warehouse, progress)
    query = (lake_lines(spark, lake_root, prefix, on_databricks() if auto_loader is None else auto_loader)
             .writeStream.queryName(f"{prefix}_lake_to_bronze").foreachBatch(writer)
             .option("checkpointLocation", checkpoint).trigger(availableNow=True).start())
    writer.started(str(query.id))
    query.awaitTermination()
    tally = writer.tally
    _check_topics(spark, warehouse, tally, lake_root, prefix)
    return BatchResult(
        prefix, {kind: dict(tally.counts[kind]) for kind in KINDS},
        _row_counts(spark, warehouse, {kind: cleaned_table_name(prefix, kind) for kind in KINDS}),
        tally.data_quality(),
        insights=tally.insights or _stored_insights(spark, warehouse),
        tables={name: warehouse.location(name) for name in table_names(prefix)},
        seconds=time.perf_counter() - started, reasons={kind: dict(tally.reasons[kind]) for kind in KINDS},
        cleaned_rows_added=dict(tally.cleaned_added), logical_date=logical_date, batches=tally.batches,
        stage_seconds=dict(tally.stage_seconds))
