"""The batch job: lake → quarantine + cleaned Delta tables → insight Delta tables."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import reduce
from typing import TypeVar

import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pinterest_pipeline.batch.insights import INSIGHTS, CleanTables
from pinterest_pipeline.batch.lake_reader import parse_topic, split_rejects
from pinterest_pipeline.contract import KINDS, cleaned_table_name, quarantine_table_name, topic_name
from pinterest_pipeline.spark.cleansing import CLEANERS, data_quality_counts, deduplicate_by_ind
from pinterest_pipeline.spark.delta import Warehouse
from pinterest_pipeline.spark.parsing import REJECT_REASON, count_outcomes, count_reasons
from pinterest_pipeline.spark.schemas import RAW_SCHEMAS


@dataclass
class BatchResult:
    """What one run read, rejected, cleaned and concluded."""

    prefix: str
    #: kind → ``{"raw": lines, "good": records, "quarantined": lines}``
    counts: dict[str, dict[str, int]]
    #: kind → rows of the cleaned (one row per ``ind``) table
    cleaned_rows: dict[str, int]
    #: ``kind, column_name, issue, value_count``: empty strings, placeholders, unreadable values
    data_quality: pd.DataFrame
    #: insight table name → its rows
    insights: dict[str, pd.DataFrame]
    #: table name → location (folder locally, catalog name on Databricks)
    tables: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    #: kind → ``{reason: quarantined lines}``
    reasons: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def quarantined(self) -> int:
        """Lines rejected across all topics."""
        return sum(c["quarantined"] for c in self.counts.values())

    @property
    def duplicates(self) -> dict[str, int]:
        """kind → good records dropped as repeats of an ``ind`` already kept."""
        return {kind: c["good"] - self.cleaned_rows[kind] for kind, c in self.counts.items()}


#: Spark jobs submitted at once: small Delta writes spend most of their time in driver-side
#: bookkeeping, which overlaps well with another job's tasks.
CONCURRENT_JOBS = 4

T = TypeVar("T")
#: Called with (steps done, steps in all, name of the step just done).
ProgressCallback = Callable[[int, int, str], None]


def batch_steps() -> int:
    """Steps :func:`run_batch` reports to its ``progress`` callback: each topic counted, each cleaned table
    counted, the data quality facts, each table written (quarantine, cleaned tables, insights)."""
    return len(KINDS) + len(KINDS) + 1 + (1 + len(KINDS) + len(INSIGHTS))


class _Steps:
    """Counts finished steps of a run (from any thread) and reports each to a :data:`ProgressCallback`."""

    def __init__(self, total: int, report: ProgressCallback | None) -> None:
        self.total, self.done, self.report = total, 0, report
        self._lock = threading.Lock()

    def finished(self, name: str) -> None:
        with self._lock:
            self.done += 1
            if self.report:
                self.report(self.done, self.total, name)


def _in_parallel(tasks: Iterable[tuple[str, Callable[[], T]]], steps: _Steps, doing: str) -> dict[str, T]:
    """Run independent Spark actions from a few threads, each a step (``"<doing> <name>"``); results by name
    (the first error is raised)."""
    def run(name: str, task: Callable[[], T]) -> T:
        result = task()
        steps.finished(f"{doing} {name}")
        return result

    with ThreadPoolExecutor(max_workers=CONCURRENT_JOBS) as pool:
        futures = {name: pool.submit(run, name, task) for name, task in tasks}
        return {name: future.result() for name, future in futures.items()}


def _read_lake(spark: SparkSession, lake_root: str, prefix: str) -> dict[str, DataFrame]:
    """Each topic parsed once and kept (memory, spilling to disk); the raw text only of rejected lines."""
    parsed = {}
    for kind in KINDS:
        frame = parse_topic(spark, lake_root, topic_name(prefix, kind), RAW_SCHEMAS[kind])
        slim = frame.withColumn("raw_line", F.when(F.col(REJECT_REASON).isNotNull(), F.col("raw_line")))
        parsed[kind] = slim.persist(StorageLevel.MEMORY_AND_DISK)
    return parsed


def _data_quality(good: dict[str, DataFrame]) -> pd.DataFrame:
    """Data quality facts of every topic's good records, as one small table."""
    frames = [data_quality_counts(df).select(F.lit(kind).alias("kind"), "*") for kind, df in good.items()]
    return reduce(DataFrame.unionByName, frames).toPandas()


def _collect_and_write(spark: SparkSession, query: DataFrame, warehouse: Warehouse,
                       name: str) -> tuple[str, pd.DataFrame]:
    """Compute a (small) insight once: its rows become both the Delta table and the returned frame."""
    rows = query.collect()
    location = warehouse.write(spark.createDataFrame(rows, query.schema).coalesce(1), name)
    return location, pd.DataFrame([tuple(r) for r in rows], columns=query.columns)


def run_batch(spark: SparkSession, lake_root: str, prefix: str, warehouse_root: str,
              schema: str | None = None, progress: ProgressCallback | None = None) -> BatchResult:
    """Read the three topics of ``prefix`` under ``lake_root``, quarantine unreadable lines, write the
    cleaned tables and every insight as Delta tables (replacing an earlier run's), and report counts.

    Tables are folders under ``warehouse_root``, or on Databricks managed tables in ``schema``
    (``catalog.schema``; None = the current schema), created if missing. ``progress`` hears of every
    finished step (:func:`batch_steps`).
    """
    started = time.perf_counter()
    steps = _Steps(batch_steps(), progress)
    warehouse = Warehouse.for_runtime(warehouse_root, schema)
    warehouse.ensure_schema(spark)
    parsed = _read_lake(spark, lake_root, prefix)
    cleaned: dict[str, DataFrame] = {}
    try:
        outcomes = _in_parallel(((kind, lambda df=df: (count_outcomes(df), count_reasons(df)))
                                 for kind, df in parsed.items()), steps, "read")
        split = {kind: split_rejects(df, RAW_SCHEMAS[kind]) for kind, df in parsed.items()}
        for kind, topic in split.items():
            cleaned[kind] = deduplicate_by_ind(CLEANERS[kind](topic.good)).persist(StorageLevel.MEMORY_AND_DISK)
        cleaned_rows = _in_parallel(((kind, df.count) for kind, df in cleaned.items()), steps, "cleaned")
        data_quality = _data_quality({kind: topic.good for kind, topic in split.items()})
        steps.finished("data quality")

        outputs = {quarantine_table_name(prefix): reduce(DataFrame.unionByName, [t.quarantine for t in split.values()])}
        outputs.update({cleaned_table_name(prefix, kind): df for kind, df in cleaned.items()})
        clean_tables = CleanTables(**cleaned)
        writes: list[tuple[str, Callable[[], str | tuple[str, pd.DataFrame]]]] = [
            (name, lambda name=name, df=df: warehouse.write(df, name)) for name, df in outputs.items()
        ]
        writes += [
            (name, lambda name=name, query=query: _collect_and_write(spark, query(clean_tables), warehouse, name))
            for name, query in INSIGHTS.items()
        ]
        done = _in_parallel(writes, steps, "wrote")
    finally:
        for df in [*parsed.values(), *cleaned.values()]:
            df.unpersist()
    tables = {name: done[name] for name in outputs}
    answers = {name: done[name] for name in INSIGHTS}
    tables.update({name: location for name, (location, _) in answers.items()})
    return BatchResult(prefix, {kind: counts for kind, (counts, _) in outcomes.items()}, cleaned_rows, data_quality,
                       insights={name: frame for name, (_, frame) in answers.items()}, tables=tables,
                       seconds=time.perf_counter() - started,
                       reasons={kind: reasons for kind, (_, reasons) in outcomes.items()})
