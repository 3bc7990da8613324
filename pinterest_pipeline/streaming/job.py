"""The streaming job: three Kinesis streams → the batch job's cleansing → three Delta tables (append).

Each stream is one query. Every micro-batch parses ``data`` (the JSON text of a source row) with the
explicit raw schema; records the batch reader would reject (``spark/parsing.py``: not UTF-8, not JSON of the
schema, a non-finite number, no key column, too large) go to a quarantine Delta table with their exact bytes
and the reason (and are counted in the log); the others are cleaned with the same functions as the batch
job and appended to ``<prefix>_<kind>_table``. Both writes are idempotent Delta writes keyed by the
query's id and the batch id, so a micro-batch replayed after a crash is not written twice. The query id is
read from the checkpoint (Spark keeps it there, and a new checkpoint gets a new one), so after a checkpoint
reset the new query's batches 0, 1, ... are new transactions to Delta, never skipped as seen before.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from functools import partial
from typing import Callable, Mapping, Sequence

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
from pinterest_pipeline.spark.parsing import RAW_BYTES, count_outcomes, good_records, parse_raw, rejected_records
from pinterest_pipeline.spark.schemas import RAW_SCHEMAS
from pinterest_pipeline.spark.session import on_databricks
from pinterest_pipeline.streaming import KINESIS_FORMAT

logger = logging.getLogger(__name__)

#: Checkpoint root of the original notebook on Databricks.
DATABRICKS_CHECKPOINT_ROOT = "/tmp/kinesis"
AVAILABLE_NOW = "availableNow"
#: Kinesis metadata kept with every quarantined record.
RECORD_METADATA = ("stream", "shardId", "sequenceNumber", "approximateArrivalTimestamp")
#: Columns of the streaming quarantine table: where a record came from, its data (as valid UTF-8 text, and its
#: exact bytes), and why it was rejected.
KINESIS_QUARANTINE_COLUMNS = (*RECORD_METADATA, "raw_data", RAW_BYTES, "reason")
KINESIS_QUARANTINE_SCHEMA = ("stream string, shardId string, sequenceNumber string, "
                             "approximateArrivalTimestamp timestamp, raw_data string, raw_bytes binary, reason string")


def default_checkpoint_root(warehouse: Warehouse) -> str:
    """``/tmp/kinesis`` for managed tables on Databricks (the original's), else ``<warehouse>/_checkpoints``."""
    return DATABRICKS_CHECKPOINT_ROOT if warehouse.managed else f"{warehouse.root.rstrip('/')}/_checkpoints"


def checkpoint_location(checkpoint_root: str, table: str) -> str:
    """``<root>/<table>_checkpoints/``."""
    return f"{checkpoint_root.rstrip('/')}/{table}_checkpoints/"


def register_kinesis_source(spark: SparkSession) -> None:
    """Make ``format("kinesis")`` available: nothing to do on Databricks, whose runtime has its own; elsewhere the
    package's Python data source (a Spark 4 API, so imported only here, never on a Databricks runtime)."""
    if on_databricks():
        return
    from pinterest_pipeline.streaming.kinesis_source import KinesisDataSource

    spark.dataSource.register(KinesisDataSource)


def read_kinesis(spark: SparkSession, stream: str, region: str, endpoint_url: str | None = None,
                 initial_position: str = "trim_horizon", max_records_per_batch: int | None = None,
                 credentials: Mapping[str, str] | None = None) -> DataFrame:
    """``spark.readStream.format("kinesis")`` over one stream (Databricks' source there, ours locally).

    ``credentials``: Databricks' options for reaching Kinesis, e.g. ``{"serviceCredential": name}`` (a Unity
    Catalog service credential) or ``{"roleArn": arn}``; none = the cluster's instance profile (or, locally,
    boto3's credential chain).
    """
    reader = (spark.readStream.format(KINESIS_FORMAT).option("streamName", stream).option("region", region)
              .option("initialPosition", initial_position))
    for name, value in (credentials or {}).items():
        if value:
            reader = reader.option(name, value)
    if endpoint_url:
        reader = reader.option("endpointUrl", endpoint_url)
    if max_records_per_batch:
        reader = reader.option("maxRecordsPerBatch", str(max_records_per_batch))
    return reader.load()


def parse_records(records: DataFrame, kind: str) -> DataFrame:
    """Kinesis records → the raw schema's columns, ``raw_data``, the record metadata and a reject reason."""
    located = records.select(F.col("data").cast("string").alias("raw_data"), *RECORD_METADATA)
    return parse_raw(located, "raw_data", RAW_SCHEMAS[kind])


@dataclass
class CheckpointIdentity:
    """The id of the query that owns ``checkpoint``: from the checkpoint's ``metadata`` file, which Spark writes
    when the query first starts. Read through Spark (any filesystem, any access mode), once per process."""

    checkpoint: str
    _query_id: str | None = field(default=None, repr=False)

    def query_id(self, spark: SparkSession) -> str:
        if self._query_id is None:
            text = spark.read.text(f"{self.checkpoint.rstrip('/')}/metadata").first()[0]
            self._query_id = json.loads(text)["id"]
        return self._query_id


def write_micro_batch(batch: DataFrame, batch_id: int, *, kind: str, table: str, quarantine: str,
                      warehouse: Warehouse, identity: CheckpointIdentity) -> None:
    """One micro-batch: good records cleaned into ``table``, the others into ``quarantine``."""
    parsed = parse_records(batch, kind).persist()
    try:
        counts = count_outcomes(parsed)
        if counts["raw"] == 0:
            return
        writer = identity.query_id(batch.sparkSession)
        if counts["good"]:
            cleaned = CLEANERS[kind](good_records(parsed, RAW_SCHEMAS[kind]))
            warehouse.write(cleaned, table, mode="append", txn=(writer, batch_id))
        if counts["quarantined"]:
            rejected = rejected_records(parsed, RECORD_METADATA, "raw_data")
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
    schema: str | None = None,
    credentials: Mapping[str, str] | None = None,
) -> list[StreamingQuery]:
    """Start one query per stream of ``kinds`` (default pin, geo, user); ``trigger`` is ``availableNow`` or a
    processing-time interval such as ``"10 seconds"``. Returns the running queries.

    On Databricks the tables are managed tables in ``schema`` (``catalog.schema``; None = the current schema);
    ``credentials`` are passed to the Kinesis source (see :func:`read_kinesis`).
    """
    register_kinesis_source(spark)
    warehouse = Warehouse.for_runtime(warehouse_root, schema)
    warehouse.ensure_schema(spark)
    checkpoint_root = checkpoint_root or default_checkpoint_root(warehouse)
    quarantine = streaming_quarantine_table_name(prefix)
    warehouse.create_if_missing(spark, quarantine, KINESIS_QUARANTINE_SCHEMA)  # shared by the queries
    queries = []
    for kind in kinds:
        table = streaming_table_name(prefix, kind)
        records = read_kinesis(spark, stream_name(prefix, kind), region, endpoint_url, initial_position,
                               max_records_per_batch, credentials)
        checkpoint = checkpoint_location(checkpoint_root, table)
        write = partial(write_micro_batch, kind=kind, table=table, quarantine=quarantine, warehouse=warehouse,
                        identity=CheckpointIdentity(checkpoint))
        writer = (records.writeStream.queryName(table).foreachBatch(write)
                  .option("checkpointLocation", checkpoint))
        if trigger == AVAILABLE_NOW:
            writer = writer.trigger(availableNow=True)
        else:
            writer = writer.trigger(processingTime=trigger)
        queries.append(writer.start())
    return queries


def await_queries(queries: Sequence[StreamingQuery],
                  on_progress: Callable[[Sequence[StreamingQuery]], None] | None = None,
                  poll_s: float = 1.0) -> None:
    """Wait for every query to end, calling ``on_progress`` every ``poll_s`` seconds and at the end; raise the
    first failure (the others are stopped)."""
    try:
        for query in queries:
            while not query.awaitTermination(poll_s):
                if on_progress is not None:
                    on_progress(queries)
        if on_progress is not None:
            on_progress(queries)
    finally:
        for query in queries:
            if query.isActive:
                query.stop()


def table_counts(spark: SparkSession, prefix: str, warehouse_root: str,
                 schema: str | None = None) -> dict[str, int]:
    """Rows in each streaming table and in the quarantine (0 for a table not written yet)."""
    warehouse = Warehouse.for_runtime(warehouse_root, schema)
    names = [streaming_table_name(prefix, kind) for kind in KINDS] + [streaming_quarantine_table_name(prefix)]
    return {name: warehouse.read(spark, name).count() if warehouse.exists(spark, name) else 0 for name in names}
