"""The streaming job: three Kinesis streams → the batch job's cleansing → three Delta tables (append).

Each stream is one query. Every micro-batch parses ``data`` (the JSON text of a source row) with the
explicit raw schema; records that do not parse, or lack their key column, go to a quarantine Delta table
with the reason (and are counted in the log); the others are cleaned with the same functions as the batch
job and appended to ``<prefix>_<kind>_table``. Both writes are idempotent Delta writes keyed by the
query id and the batch id, so a micro-batch replayed after a crash is not written twice.

    python -m pinterest_pipeline.streaming_job --prefix P --warehouse DIR [--endpoint-url URL] [--available-now]
"""
from __future__ import annotations

import argparse
import logging
import sys
from functools import partial
from typing import Sequence

from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from pinterest_pipeline.batch.tables import read_delta, table_location
from pinterest_pipeline.cleansing import CLEANERS
from pinterest_pipeline.config import load_settings
from pinterest_pipeline.contract import KINDS, stream_name
from pinterest_pipeline.kinesis_source import FORMAT, register_kinesis_source
from pinterest_pipeline.lake_reader import REJECT_REASON, parse_json, reject_reason
from pinterest_pipeline.schemas import RAW_SCHEMAS
from pinterest_pipeline.spark_session import get_spark, on_databricks

logger = logging.getLogger(__name__)

#: Checkpoint root of the original notebook on Databricks.
DATABRICKS_CHECKPOINT_ROOT = "/tmp/kinesis"
AVAILABLE_NOW = "availableNow"
#: Kinesis metadata kept with every quarantined record.
RECORD_METADATA = ("stream", "shardId", "sequenceNumber", "approximateArrivalTimestamp")
QUARANTINE_COLUMNS = (*RECORD_METADATA, "raw_data", "reason")
QUARANTINE_SCHEMA = ("stream string, shardId string, sequenceNumber string, approximateArrivalTimestamp timestamp, "
                     "raw_data string, reason string")


def streaming_table_name(prefix: str, kind: str) -> str:
    """``<prefix>_pin_table`` / ``_geo_table`` / ``_user_table``, as the original notebook."""
    return f"{prefix}_{kind}_table"


def streaming_quarantine_table_name(prefix: str) -> str:
    """``<prefix>_streaming_quarantine``: records whose data could not be used."""
    return f"{prefix}_streaming_quarantine"


def default_checkpoint_root(warehouse: str) -> str:
    """``/tmp/kinesis`` on Databricks (the original's), else ``<warehouse>/_checkpoints``."""
    return DATABRICKS_CHECKPOINT_ROOT if on_databricks() else f"{warehouse.rstrip('/')}/_checkpoints"


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
    schema = RAW_SCHEMAS[kind]
    parsed = parse_json(F.col("raw_data"), schema)
    return (
        records.select(F.col("data").cast("string").alias("raw_data"), *RECORD_METADATA)
        .withColumn("_parsed", parsed)
        .select(
            *[F.col("_parsed")[name].alias(name) for name in schema.fieldNames()],
            *QUARANTINE_COLUMNS[:-1],
            reject_reason(F.col("raw_data"), F.col("_parsed"), schema.fieldNames()[0]).alias(REJECT_REASON),
        )
    )


def good_records(parsed: DataFrame, kind: str) -> DataFrame:
    """The usable records of :func:`parse_records`, with the raw schema's columns only."""
    return parsed.where(F.col(REJECT_REASON).isNull()).select(*RAW_SCHEMAS[kind].fieldNames())


def rejected_records(parsed: DataFrame) -> DataFrame:
    """The unusable records of :func:`parse_records`: :data:`QUARANTINE_COLUMNS`."""
    metadata = QUARANTINE_COLUMNS[:-1]
    return parsed.where(F.col(REJECT_REASON).isNotNull()).select(*metadata, F.col(REJECT_REASON).alias("reason"))


def append_delta(df: DataFrame, location: str, writer_id: str, batch_id: int) -> None:
    """Append ``df`` to a Delta table once per (writer, batch): a replayed batch is skipped by Delta."""
    writer = (df.write.format("delta").mode("append").option("txnAppId", writer_id)
              .option("txnVersion", batch_id))
    if on_databricks():
        writer.saveAsTable(location)
    else:
        writer.save(location)


def create_table_if_missing(spark: SparkSession, location: str, schema: str) -> None:
    """An empty Delta table at ``location`` unless one exists (so concurrent first appends do not race)."""
    writer = spark.createDataFrame([], schema).write.format("delta").mode("ignore")
    if on_databricks():
        writer.saveAsTable(location)
    else:
        writer.save(location)


def writer_id_of(batch: DataFrame, fallback: str) -> str:
    """The streaming query's id (kept in its checkpoint, new with a new checkpoint), else ``fallback``
    where Spark does not tell it (Spark Connect has no SparkContext)."""
    try:
        query_id = batch.sparkSession.sparkContext.getLocalProperty("sql.streaming.queryId")
    except PySparkException:
        query_id = None
    return query_id or fallback


def write_micro_batch(batch: DataFrame, batch_id: int, *, kind: str, table: str, quarantine: str) -> None:
    """One micro-batch: good records cleaned into ``table``, the others into ``quarantine``."""
    parsed = parse_records(batch, kind).persist()
    try:
        counts = parsed.agg(F.count(F.lit(1)).alias("records"), F.count(REJECT_REASON).alias("rejected")).first()
        if counts["records"] == 0:
            return
        writer = writer_id_of(batch, fallback=table)
        if counts["records"] > counts["rejected"]:
            append_delta(CLEANERS[kind](good_records(parsed, kind)), table, writer, batch_id)
        if counts["rejected"]:
            append_delta(rejected_records(parsed), quarantine, f"{writer}-quarantine", batch_id)
            logger.warning("%s batch %d: %d of %d records quarantined", kind, batch_id, counts["rejected"],
                           counts["records"])
    finally:
        parsed.unpersist()


def start_streaming(
    spark: SparkSession,
    prefix: str,
    warehouse: str,
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
    checkpoint_root = checkpoint_root or default_checkpoint_root(warehouse)
    quarantine = table_location(warehouse, streaming_quarantine_table_name(prefix))
    create_table_if_missing(spark, quarantine, QUARANTINE_SCHEMA)  # shared by the queries
    queries = []
    for kind in kinds:
        table = streaming_table_name(prefix, kind)
        records = read_kinesis(spark, stream_name(prefix, kind), region, endpoint_url, initial_position,
                               max_records_per_batch)
        write = partial(write_micro_batch, kind=kind, table=table_location(warehouse, table),
                        quarantine=quarantine)
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


def table_exists(spark: SparkSession, location: str) -> bool:
    """Whether a Delta table was written at ``location`` (a catalog name on Databricks)."""
    if on_databricks():
        return spark.catalog.tableExists(location)
    from delta.tables import DeltaTable

    return DeltaTable.isDeltaTable(spark, location)


def table_counts(spark: SparkSession, prefix: str, warehouse: str) -> dict[str, int]:
    """Rows in each streaming table and in the quarantine (0 for a table not written yet)."""
    names = [streaming_table_name(prefix, kind) for kind in KINDS] + [streaming_quarantine_table_name(prefix)]
    locations = {name: table_location(warehouse, name) for name in names}
    return {name: read_delta(spark, location).count() if table_exists(spark, location) else 0
            for name, location in locations.items()}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    settings = load_settings()
    parser = argparse.ArgumentParser(prog="python -m pinterest_pipeline.streaming_job", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prefix", default=settings.prefix, help="stream/table prefix (default 124a514b9149)")
    parser.add_argument("--warehouse", default=settings.warehouse, help="folder of the Delta tables")
    parser.add_argument("--checkpoint-root", help="checkpoint folder (default <warehouse>/_checkpoints)")
    parser.add_argument("--endpoint-url", default=settings.kinesis_endpoint,
                        help="Kinesis endpoint, e.g. a local moto server (default: KINESIS_ENDPOINT_URL, else AWS)")
    parser.add_argument("--region", default=settings.region, help="AWS region (default us-east-1)")
    parser.add_argument("--initial-position", default="trim_horizon", choices=["trim_horizon", "latest"])
    parser.add_argument("--max-records-per-batch", type=int, help="records per micro-batch (default: all)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--available-now", action="store_true", help="process what the streams hold, then stop")
    mode.add_argument("--interval", default="10 seconds", help="micro-batch interval when running continuously")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the job; with ``--available-now``, print the table row counts and exit 0 when done."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    spark = get_spark("pinterest-streaming", warehouse_dir=args.warehouse)
    queries = start_streaming(spark, args.prefix, args.warehouse, args.checkpoint_root, args.endpoint_url,
                              args.region, AVAILABLE_NOW if args.available_now else args.interval,
                              args.initial_position, args.max_records_per_batch)
    await_queries(queries)
    for name, rows in table_counts(spark, args.prefix, args.warehouse).items():
        print(f"{name:<40} {rows:>8} rows", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
