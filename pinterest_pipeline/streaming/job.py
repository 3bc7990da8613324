"""The streaming job: three Kinesis streams → the batch job's cleansing → three Delta tables (append).

Each stream is one query. Every micro-batch parses ``data`` (the JSON text of a source row) with the
explicit raw schema; records that do not parse, or lack their key column, go to a quarantine Delta table
with the reason (and are counted in the log); the others are cleaned with the same functions as the batch
job and appended to ``<prefix>_<kind>_table``. Both writes are idempotent Delta writes keyed by the
query id and the batch id, so a micro-batch replayed after a crash is not written twice.
"""
from __future__ import annotations

import logging
from functools import partial
from typing import Sequence

from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from pinterest_pipeline.contract import (
    KINDS,
    stream_name,
    streaming_quarantine_table_name,
    streaming_table_name,
)
from pinterest_pipeline.spark.cleansing import CLEANERS
from pinterest_pipeline.spark.delta import Warehouse
from pinterest_pipeline.spark.parsing import count_outcomes, good_records, parse_raw, rejected_records
from pinterest_pipeline.spark.schemas import RAW_SCHEMAS
from pinterest_pipeline.streaming.kinesis_source import FORMAT, register_kinesis_source

logger = logging.getLogger(__name__)

#: Checkpoint root of the original notebook on Databricks.
DATABRICKS_CHECKPOINT_ROOT = "/tmp/kinesis"
AVAILABLE_NOW = "availableNow"
#: Kinesis metadata kept with every quarantined record.
RECORD_METADATA = ("stream", "shardId", "sequenceNumber", "approximateArrivalTimestamp")
#: Columns of the streaming quarantine table: where a record came from, its data, and why it was rejected.
KINESIS_QUARANTINE_COLUMNS = (*RECORD_METADATA, "raw_data", "reason")
KINESIS_QUARANTINE_SCHEMA = ("stream string, shardId string, sequenceNumber string, "
                             "approximateArrivalTimestamp timestamp, raw_data string, reason string")


def default_checkpoint_root(warehouse: Warehouse) -> str:
    """``/tmp/kinesis`` for managed tables on Databricks (the original's), else ``<warehouse>/_checkpoints``."""
    return DATABRICKS_CHECKPOINT_ROOT if warehouse.managed else f"{warehouse.root.rstrip('/')}/_checkpoints"


def checkpoint_location(checkpoint_root: str, table: str) -> str:
    """``<root>/<table>_checkpoints/``."""
    return f"{checkpoint_root.rstrip('/')}/{table}_checkpoints/"


def read_kinesis(spark: SparkSession, stream: str, region: str, endpoint_url: str | None = None,
                 initial_position: str = "trim_horizon", max_records_per_batch: int | None = None) -> DataFrame:
    """``spark.readStream.format("kinesis")`` over one stream (Databricks' source there, ours locally)."""
    reader = (spark.readStream.format(FORMAT).option("streamName", stream).option("region", region)
              .option("initialPosition", initial_position))
    if endpoint_url:
        reader = reader.option("endpointUrl", endpoint_url)
    if max_records_per_batch:
        reader = reader.option("maxRecordsPerBatch", str(max_records_per_batch))
    return reader.load()


def parse_records(records: DataFrame, kind: str) -> DataFrame:
    """Kinesis records → the raw schema's columns, ``raw_data``, the record metadata and a reject reason."""
    located = records.select(F.col("data").cast("string").alias("raw_data"), *RECORD_METADATA)
    return parse_raw(located, "raw_data", RAW_SCHEMAS[kind])


def writer_id_of(batch: DataFrame, fallback: str) -> str:
    """The streaming query's id (kept in its checkpoint, new with a new checkpoint), else ``fallback``
    where Spark does not tell it (Spark Connect has no SparkContext)."""
    try:
        query_id = batch.sparkSession.sparkContext.getLocalProperty("sql.streaming.queryId")
    except PySparkException:
        query_id = None
    return query_id or fallback


def write_micro_batch(batch: DataFrame, batch_id: int, *, kind: str, table: str, quarantine: str,
                      warehouse: Warehouse) -> None:
    """One micro-batch: good records cleaned into ``table``, the others into ``quarantine``."""
    parsed = parse_records(batch, kind).persist()
    try:
        counts = count_outcomes(parsed)
        if counts["raw"] == 0:
            return
        writer = writer_id_of(batch, fallback=table)
        if counts["good"]:
            cleaned = CLEANERS[kind](good_records(parsed, RAW_SCHEMAS[kind]))
            warehouse.write(cleaned, table, mode="append", txn=(writer, batch_id))
        if counts["quarantined"]:
            rejected = rejected_records(parsed, KINESIS_QUARANTINE_COLUMNS[:-1])
            warehouse.write(rejected, quarantine, mode="append", txn=(f"{writer}-quarantine", batch_id))
            logger.warning("%s batch %d: %d of %d records quarantined", kind, batch_id, counts["quarantined"],
                           counts["raw"])
    finally:
        parsed.unpersist()


def start_streaming(
    spark: SparkSession,
    prefix: str,
    warehouse_root: str,
    *,
    checkpoint_root: str | None = None,
    endpoint_url: str | None = None,
    region: str = "us-east-1",
    trigger: str = AVAILABLE_NOW,
    initial_position: str = "trim_horizon",
    max_records_per_batch: int | None = None,
    kinds: Sequence[str] = KINDS,
) -> list[StreamingQuery]:
    """Start one query per stream of ``kinds`` (default pin, geo, user); ``trigger`` is ``availableNow`` or a
    processing-time interval such as ``"10 seconds"``. Returns the running queries."""
    register_kinesis_source(spark)
    warehouse = Warehouse.for_runtime(warehouse_root)
    checkpoint_root = checkpoint_root or default_checkpoint_root(warehouse)
    quarantine = streaming_quarantine_table_name(prefix)
    warehouse.create_if_missing(spark, quarantine, KINESIS_QUARANTINE_SCHEMA)  # shared by the queries
    queries = []
    for kind in kinds:
        table = streaming_table_name(prefix, kind)
        records = read_kinesis(spark, stream_name(prefix, kind), region, endpoint_url, initial_position,
                               max_records_per_batch)
        write = partial(write_micro_batch, kind=kind, table=table, quarantine=quarantine, warehouse=warehouse)
        writer = (records.writeStream.queryName(table).foreachBatch(write)
                  .option("checkpointLocation", checkpoint_location(checkpoint_root, table)))
        if trigger == AVAILABLE_NOW:
            writer = writer.trigger(availableNow=True)
        else:
            writer = writer.trigger(processingTime=trigger)
        queries.append(writer.start())
    return queries


def await_queries(queries: Sequence[StreamingQuery]) -> None:
    """Wait for every query to end; raise the first failure (the others are stopped)."""
    try:
        for query in queries:
            query.awaitTermination()
    finally:
        for query in queries:
            if query.isActive:
                query.stop()


def table_counts(spark: SparkSession, prefix: str, warehouse_root: str) -> dict[str, int]:
    """Rows in each streaming table and in the quarantine (0 for a table not written yet)."""
    warehouse = Warehouse.for_runtime(warehouse_root)
    names = [streaming_table_name(prefix, kind) for kind in KINDS] + [streaming_quarantine_table_name(prefix)]
    return {name: warehouse.read(spark, name).count() if warehouse.exists(spark, name) else 0 for name in names}
