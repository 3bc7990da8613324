"""One micro-batch of new lake lines → bronze, quarantine and cleaned Delta tables, then the insights.

Called by the lake stream (:mod:`~pinterest_pipeline.batch.lake_stream`) once per micro-batch. Batch 0 of a
checkpoint is the first read of the lake (a first run, or ``--full-refresh``): it overwrites every table. A later
batch appends to bronze and quarantine idempotently (``Warehouse.append_once``: the query's id and the batch id) and
merges its cleaned rows into the cleaned tables (:meth:`~pinterest_pipeline.spark.delta.Warehouse.merge_least_rows`,
idempotent too). Insights are recomputed last, inside the batch, from the two joins they share, each computed once: a
run killed anywhere before the batch's commit replays the whole batch, so no table is left behind the others.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import reduce
from typing import TypeVar

import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from pinterest_pipeline.batch.insights import INSIGHTS, CleanTables, pins_with_country, pins_with_user
from pinterest_pipeline.batch.lake_reader import LAKE_PROVENANCE
from pinterest_pipeline.batch.lake_stream import of_topic
from pinterest_pipeline.contract import (
    KINDS,
    bronze_table_name,
    cleaned_table_name,
    quarantine_table_name,
    topic_name,
)
from pinterest_pipeline.spark.cleansing import CLEANERS, data_quality_metrics, deduplicate_by_ind, quality_issue
from pinterest_pipeline.spark.delta import Warehouse
from pinterest_pipeline.spark.parsing import REJECT_REASON, good_records, parse_raw, rejected_records
from pinterest_pipeline.spark.schemas import RAW_SCHEMAS

#: Columns a bronze row keeps beside the raw schema's: the lake object it came from, when this job read it.
BRONZE_METADATA = ("source_file", "ingested_at")
#: Spark jobs submitted at once: small Delta writes spend most of their time in driver-side bookkeeping,
#: which overlaps well with another job's tasks.
CONCURRENT_JOBS = 4

#: Columns of the data quality facts (:meth:`Tally.data_quality`).
QUALITY_COLUMNS = ["kind", "column_name", "issue", "value_count"]

T = TypeVar("T")
#: Called with (steps done, steps in all, name of the step just done).
ProgressCallback = Callable[[int, int, str], None]


def batch_steps() -> int:
    """Steps of one micro-batch reported to a :data:`ProgressCallback`: each topic read, bronze and cleaned tables
    written, the quarantine written, each insight written."""
    return len(KINDS) + 1 + len(INSIGHTS)


class Steps:
    """Counts finished steps of a micro-batch (from any thread) and reports each to a :data:`ProgressCallback`."""

    def __init__(self, total: int, report: ProgressCallback | None) -> None:
        self.total, self.done, self.report = total, 0, report
        self._lock = threading.Lock()

    def finished(self, name: str) -> None:
        with self._lock:
            self.done += 1
            if self.report:
                self.report(self.done, self.total, name)


def in_parallel(tasks: dict[str, Callable[[], T]], steps: Steps | None = None, doing: str = "") -> dict[str, T]:
    """Run independent Spark actions from a few threads, each a step (``"<doing> <name>"``) when ``steps`` are
    counted; results by name (the first error is raised)."""
    def run(name: str, task: Callable[[], T]) -> T:
        result = task()
        if steps is not None:
            steps.finished(f"{doing} {name}")
        return result

    with ThreadPoolExecutor(max_workers=CONCURRENT_JOBS) as pool:
        futures = {name: pool.submit(run, name, task) for name, task in tasks.items()}
        return {name: future.result() for name, future in futures.items()}


@dataclass
class Tally:
    """What the micro-batches of one run read and concluded."""

    #: kind → ``{"raw": lines, "good": records, "quarantined": lines}``
    counts: dict[str, Counter] = field(
        default_factory=lambda: {kind: Counter(raw=0, good=0, quarantined=0) for kind in KINDS})
    #: kind → ``{reason: quarantined lines}``
    reasons: dict[str, Counter] = field(default_factory=lambda: {kind: Counter() for kind in KINDS})
    #: kind → rows the micro-batches added to the cleaned table (new ``ind``)
    cleaned_added: Counter = field(default_factory=Counter)
    #: one ``kind, column_name, issue, value_count`` frame per micro-batch
    quality: list[pd.DataFrame] = field(default_factory=list)
    #: insight table name → its rows, as the last micro-batch computed them
    insights: dict[str, pd.DataFrame] = field(default_factory=dict)
    batches: int = 0
    #: whether batch 0 of the checkpoint ran, which rebuilds every table
    rebuilt: bool = False
    #: stage → seconds spent in it, summed over the micro-batches and the topics' threads
    stage_seconds: Counter = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        """Add the time spent in the ``with`` block to ``stage``."""
        started = time.perf_counter()
        try:
            yield
        finally:
            with self._lock:
                self.stage_seconds[stage] += time.perf_counter() - started

    def add_outcomes(self, kind: str, by_reason: dict[str | None, int]) -> None:
        """Count one topic's lines of a micro-batch, given lines per reject reason (None: good)."""
        good = by_reason.get(None, 0)
        raw = sum(by_reason.values())
        self.counts[kind].update({"raw": raw, "good": good, "quarantined": raw - good})
        self.reasons[kind].update({reason: n for reason, n in by_reason.items() if reason is not None})

    def data_quality(self) -> pd.DataFrame:
        """Data quality facts summed over the micro-batches."""
        if not self.quality:
            return pd.DataFrame(columns=QUALITY_COLUMNS)
        summed = pd.concat(self.quality).groupby(QUALITY_COLUMNS[:3], sort=False, as_index=False)["value_count"].sum()
        return summed[QUALITY_COLUMNS]


def bronze_properties(schema: StructType) -> dict[str, str]:
    """Delta properties of a bronze table of ``schema``: file statistics (data skipping, row counts) kept only for
    the key column and :data:`BRONZE_METADATA`, what a reader of raw records looks rows up by. Min and max of the
    long raw text columns would cost every write a pass over them, for no reader."""
    return {"delta.dataSkippingStatsColumns": ",".join((schema.fieldNames()[0], *BRONZE_METADATA))}


def _lines_by_reason(parsed: DataFrame) -> dict[str | None, int]:
    """Lines of a parsed topic per reject reason (None: good), in one job."""
    return {row[REJECT_REASON]: int(row["count"]) for row in parsed.groupBy(REJECT_REASON).count().collect()}


def _quality_of(good: DataFrame) -> dict[str, int]:
    """The :func:`data_quality_metrics` of a topic's good records, in one job. A pass of its own: folded into the
    reject-reason count, the aggregates made that parsing job slower at 1M rows than both passes together."""
    metrics = data_quality_metrics(good)
    row = good.agg(*[metric.alias(name) for name, metric in metrics.items()]).first()
    return {name: int(row[name]) for name in metrics}


def _quality_frame(kind: str, quality: dict[str, int]) -> pd.DataFrame:
    """One topic's data quality metrics as ``kind, column_name, issue, value_count`` rows."""
    return pd.DataFrame([(kind, *quality_issue(name), count) for name, count in quality.items()],
                        columns=QUALITY_COLUMNS)


def _collect_and_write(spark: SparkSession, query: DataFrame, warehouse: Warehouse, name: str) -> pd.DataFrame:
    """Compute a (small) insight once: its rows become both the Delta table and the returned frame."""
    rows = query.collect()
    warehouse.write(spark.createDataFrame(rows, query.schema).coalesce(1), name)
    return pd.DataFrame([tuple(r) for r in rows], columns=query.columns)


class MicroBatchWriter:
    """The ``foreachBatch`` function of the lake stream; :meth:`started` must be told the query's id."""

    def __init__(self, prefix: str, warehouse: Warehouse, progress: ProgressCallback | None = None) -> None:
        self.prefix, self.warehouse, self.progress = prefix, warehouse, progress
        self.tally = Tally()
        self._query_id = ""
        self._started = threading.Event()

    def started(self, query_id: str) -> None:
        """The id of the query (kept in its checkpoint): with the batch id, it names each Delta transaction."""
        self._query_id = query_id
        self._started.set()

    def _write(self, rows: DataFrame, name: str, batch_id: int, properties: dict[str, str] | None = None) -> None:
        """Overwrite ``name`` in batch 0 (a table with Delta ``properties``), else append once (a replayed batch is
        skipped by Delta)."""
        if batch_id == 0:
            self.warehouse.write(rows, name, properties=properties)
        else:
            self.warehouse.append_once(rows.sparkSession, rows, name, f"{self._query_id}-{name}", batch_id)

    def _topic(self, spark: SparkSession, lines: DataFrame, kind: str, batch_id: int) -> tuple[DataFrame, int]:
        """Parse one topic's new lines; write its bronze rows and merge its cleaned rows. The parsed lines (kept
        in memory, the raw text only of rejected lines; the caller unpersists them) and how many were rejected."""
        schema, timed = RAW_SCHEMAS[kind], self.tally.timed
        parsed = parse_raw(of_topic(lines, topic_name(self.prefix, kind)), "raw_line", schema)
        slim = parsed.withColumn("raw_line", F.when(F.col(REJECT_REASON).isNotNull(), F.col("raw_line")))
        parsed = slim.persist(StorageLevel.MEMORY_AND_DISK)
        with timed("parse and count"):
            by_reason = _lines_by_reason(parsed)
        self.tally.add_outcomes(kind, by_reason)
        good = good_records(parsed, schema)
        if by_reason.get(None) or batch_id == 0:
            bronze = parsed.where(F.col(REJECT_REASON).isNull()).select(
                *schema.fieldNames(), "source_file", F.current_timestamp().alias("ingested_at"))
            with timed("bronze"):
                self._write(bronze, bronze_table_name(self.prefix, kind), batch_id, bronze_properties(schema))
            with timed("data quality"):
                self.tally.quality.append(_quality_frame(kind, _quality_of(good)))
            cleaned, name = deduplicate_by_ind(CLEANERS[kind](good)), cleaned_table_name(self.prefix, kind)
            with timed("cleaned"):
                if batch_id == 0:
                    self.warehouse.write(cleaned, name)
                    self.tally.cleaned_added[kind] += self.warehouse.last_commit_metric(spark, name, "numOutputRows")
                else:
                    self.tally.cleaned_added[kind] += self.warehouse.merge_least_rows(spark, cleaned, name)
        return parsed, sum(n for reason, n in by_reason.items() if reason is not None)

    def __call__(self, lines: DataFrame, batch_id: int) -> None:
        self._started.wait()
        spark = lines.sparkSession
        steps = Steps(batch_steps(), self.progress)
        topics = in_parallel({kind: lambda kind=kind: self._topic(spark, lines, kind, batch_id) for kind in KINDS},
                             steps, "read")
        try:
            if batch_id == 0 or any(rejected for _, rejected in topics.values()):
                rejected = reduce(DataFrame.unionByName, [rejected_records(parsed, LAKE_PROVENANCE, "raw_line")
                                                          for parsed, _ in topics.values()])
                with self.tally.timed("quarantine"):
                    self._write(rejected, quarantine_table_name(self.prefix), batch_id)
            steps.finished("wrote quarantine")
        finally:
            for parsed, _ in topics.values():
                parsed.unpersist()
        tables = CleanTables(**{kind: self.warehouse.read(spark, cleaned_table_name(self.prefix, kind))
                                for kind in KINDS})
        # Kept in memory: every insight reads one of these (Spark finds a cached plan in the queries built alike).
        shared = [frame.persist(StorageLevel.MEMORY_AND_DISK)
                  for frame in (tables.user, pins_with_country(tables), pins_with_user(tables))]
        try:
            with self.tally.timed("insights"):
                self.tally.insights = in_parallel(
                    {name: lambda name=name, query=query: _collect_and_write(spark, query(tables), self.warehouse, name)
                     for name, query in INSIGHTS.items()}, steps, "wrote")
        finally:
            for frame in shared:
                frame.unpersist()
        self.tally.batches += 1
        self.tally.rebuilt |= batch_id == 0
