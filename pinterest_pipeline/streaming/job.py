"""The streaming job: three Kinesis streams → the batch job's cleansing → three Delta tables (append).

One query reads the three streams (one Kinesis source over all of them, as Databricks' ``streamName`` takes a
comma-separated list) and writes the three tables in one ``foreachBatch``. Every micro-batch parses ``data``
(the JSON text of a source row) with the stream's explicit raw schema; records the batch reader would reject
(``spark/parsing.py``: not UTF-8, not JSON of the schema, a non-finite number, no key column, too large) go to
a quarantine Delta table with their exact bytes and the reason (and are counted in the log); the others are
cleaned with the same functions as the batch job and appended to ``<prefix>_<kind>_table``. The three appends run
at the same time (one thread each), and each counts its stream's good and rejected records while it reads them
(``DataFrame.observe``), so a micro-batch runs no job of its own to count; a stream with no record in the batch
commits nothing (Delta skips empty appends). Rejected records are appended to the quarantine after them, in a
batch that has any. Every append is idempotent, keyed by the query's id and the batch id (kept in the commit's
``userMetadata``: :meth:`~pinterest_pipeline.spark.delta.Warehouse.append_once`), so a micro-batch replayed after a
crash writes only the tables it had not written yet; only the first batch a writer runs can be such a replay, so
only that one looks through the tables' recent commits. The query id is read from the checkpoint (Spark keeps it
there, and a new checkpoint gets a new one), so after a checkpoint reset the new query's batches 0, 1, ... are new
transactions to Delta, never skipped as seen before. The tables are created when the job starts, never checked
per micro-batch.
"""
from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import partial, reduce
from typing import Callable, Mapping, Sequence, TypeVar

from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery
from pyspark.sql.types import StructType

from pinterest_pipeline.contract import (
    KINDS,
    stream_name,
    streaming_quarantine_table_name,
    streaming_table_name,
)
from pinterest_pipeline.spark.cleansing import CLEANERS
from pinterest_pipeline.spark.delta import Warehouse
from pinterest_pipeline.spark.parsing import RAW_BYTES, REJECT_REASON, good_records, parse_raw, rejected_records
from pinterest_pipeline.spark.schemas import RAW_SCHEMAS
from pinterest_pipeline.spark.session import on_databricks
from pinterest_pipeline.streaming import KINESIS_FORMAT

logger = logging.getLogger(__name__)
T = TypeVar("T")

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


#: Delta settings of the streaming tables, which take many small appends: a checkpoint every 100 commits, not
#: every 10 (writing one costs a few Spark jobs; reading up to 100 small commit files costs one).
STREAMING_TABLE_PROPERTIES = {"delta.checkpointInterval": "100"}


def checkpoint_location(checkpoint_root: str, name: str) -> str:
    """``<root>/<name>_checkpoints/``."""
    return f"{checkpoint_root.rstrip('/')}/{name}_checkpoints/"


def register_kinesis_source(spark: SparkSession) -> None:
    """Make ``format("kinesis")`` available: nothing to do on Databricks, whose runtime has its own; elsewhere the
    package's Python data source (a Spark 4 API, so imported only here, never on a Databricks runtime)."""
    if on_databricks():
        return
    from pinterest_pipeline.streaming.kinesis_source import KinesisDataSource

    spark.dataSource.register(KinesisDataSource)


def read_kinesis(spark: SparkSession, streams: str | Sequence[str], region: str, endpoint_url: str | None = None,
                 initial_position: str = "trim_horizon", max_records_per_batch: int | None = None,
                 credentials: Mapping[str, str] | None = None) -> DataFrame:
    """``spark.readStream.format("kinesis")`` over one stream or several (Databricks' source there, ours locally).

    ``credentials``: Databricks' options for reaching Kinesis, e.g. ``{"serviceCredential": name}`` (a Unity
    Catalog service credential) or ``{"roleArn": arn}``; none = the cluster's instance profile (or, locally,
    boto3's credential chain).
    """
    names = streams if isinstance(streams, str) else ",".join(streams)
    reader = (spark.readStream.format(KINESIS_FORMAT).option("streamName", names).option("region", region)
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


def cleaned_schema(spark: SparkSession, kind: str) -> StructType:
    """Columns of ``<prefix>_<kind>_table``: what the kind's cleaner makes of its raw schema."""
    return CLEANERS[kind](spark.createDataFrame([], RAW_SCHEMAS[kind])).schema


def outcome_counts() -> list[Column]:
    """``good`` and ``bad``: records of a :func:`parse_records` result kept and quarantined."""
    return [F.count_if(F.col(REJECT_REASON).isNull()).alias("good"),
            F.count_if(F.col(REJECT_REASON).isNotNull()).alias("bad")]


def run_concurrently(writes: Sequence[Callable[[], T]]) -> list[T]:
    """Run ``writes`` at the same time, one thread each (Delta commits to different tables do not conflict, and
    each waits on its own Spark jobs and file system calls); their results in order, or the first failure once
    all have ended."""
    if len(writes) == 1:
        return [writes[0]()]
    with ThreadPoolExecutor(max_workers=max(1, len(writes))) as pool:
        futures = [pool.submit(write) for write in writes]
        wait(futures)
        return [future.result() for future in futures]


@dataclass(frozen=True)
class Route:
    """Where the records of one stream go: the kind of row they hold and the table of their cleaned rows."""

    kind: str
    table: str


@dataclass
class MicroBatchWriter:
    """The ``foreachBatch`` function: each stream's good records cleaned into its table (``routes``: stream name →
    :class:`Route`), every rejected record into ``quarantine``; idempotent per table.

    Only the first batch this writer runs can be a replay (a query re-runs just its last unfinished batch when it
    starts), so only then are the tables' recent commits looked through; later batches are appended at once.
    """

    routes: Mapping[str, Route]
    quarantine: str
    warehouse: Warehouse
    identity: CheckpointIdentity
    #: the last batch this writer completed (None: none yet)
    last_batch: int | None = field(default=None, init=False)

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        may_be_replay = self.last_batch is None or batch_id != self.last_batch + 1
        writer = self.identity.query_id(batch.sparkSession)
        records = batch.persist()
        try:
            parsed = {stream: parse_records(records.where(F.col("stream") == stream), route.kind)
                      for stream, route in self.routes.items()}
            outcomes = run_concurrently([partial(self.write_stream, parsed[stream], route, writer, batch_id,
                                                 may_be_replay)
                                         for stream, route in self.routes.items()])
            rejected = [rejected_records(parsed[stream], RECORD_METADATA, "raw_data")
                        for stream, (_, bad) in zip(self.routes, outcomes) if bad]
            if rejected:
                self.append(reduce(DataFrame.unionAll, rejected), self.quarantine, f"{writer}-quarantine", batch_id,
                            may_be_replay)
            for stream, (good, bad) in zip(self.routes, outcomes):
                if bad:
                    logger.warning("%s batch %d: %d of %d records quarantined", stream, batch_id, bad, good + bad)
        finally:
            records.unpersist()
        self.last_batch = batch_id

    def write_stream(self, parsed: DataFrame, route: Route, writer: str, batch_id: int,
                     may_be_replay: bool) -> tuple[int, int]:
        """Append the cleaned good records of one stream to its table; ``(good, bad)`` records of the stream,
        observed while the append reads them (counted apart only when a replay finds the append done)."""
        observation = Observation()
        observed = parsed.observe(observation, *outcome_counts())
        cleaned = CLEANERS[route.kind](good_records(observed, RAW_SCHEMAS[route.kind]))
        if self.append(cleaned, route.table, writer, batch_id, may_be_replay):
            counts = observation.get
        else:
            counts = parsed.agg(*outcome_counts()).first().asDict()
        return int(counts["good"]), int(counts["bad"])

    def append(self, rows: DataFrame, table: str, writer: str, version: int, may_be_replay: bool) -> bool:
        """Append ``rows`` to ``table`` as ``version`` of ``writer``, once; whether it appended."""
        if may_be_replay:
            return self.warehouse.append_once(rows.sparkSession, rows, table, writer, version)
        self.warehouse.append_marked(rows, table, writer, version)
        return True


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
    """Start one query over the streams of ``kinds`` (default pin, geo, user); ``trigger`` is ``availableNow`` or
    a processing-time interval such as ``"10 seconds"``. Returns the running queries (that one), whose checkpoint
    is ``<checkpoint_root>/<prefix>_<kinds joined by _>_checkpoints/``.

    On Databricks the tables are managed tables in ``schema`` (``catalog.schema``; None = the current schema);
    ``credentials`` are passed to the Kinesis source (see :func:`read_kinesis`).
    """
    register_kinesis_source(spark)
    warehouse = Warehouse.for_runtime(warehouse_root, schema)
    warehouse.ensure_schema(spark)
    checkpoint_root = checkpoint_root or default_checkpoint_root(warehouse)
    quarantine = streaming_quarantine_table_name(prefix)
    routes = {stream_name(prefix, kind): Route(kind, streaming_table_name(prefix, kind)) for kind in kinds}
    schemas = {route.table: cleaned_schema(spark, route.kind) for route in routes.values()}
    schemas[quarantine] = KINESIS_QUARANTINE_SCHEMA
    run_concurrently([partial(warehouse.create_if_missing, spark, table, table_schema, STREAMING_TABLE_PROPERTIES)
                      for table, table_schema in schemas.items()])
    records = read_kinesis(spark, list(routes), region, endpoint_url, initial_position, max_records_per_batch,
                           credentials)
    name = "_".join([prefix, *kinds])
    checkpoint = checkpoint_location(checkpoint_root, name)
    write = MicroBatchWriter(routes, quarantine, warehouse, CheckpointIdentity(checkpoint))
    writer = records.writeStream.queryName(name).foreachBatch(write).option("checkpointLocation", checkpoint)
    if trigger == AVAILABLE_NOW:
        return [writer.trigger(availableNow=True).start()]
    return [writer.trigger(processingTime=trigger).start()]


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
